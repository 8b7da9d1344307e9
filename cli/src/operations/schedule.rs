//! Schedules on the client side: reading `--every` / `--max-age` durations and writing
//! cadences and retention rules back as text.
//!
//! Durations are parsed here so that a typo is a usage error (exit 2) before any call. The
//! rules that depend on the orchestrator (an interval of at least 15 minutes, cron syntax,
//! `keep` ≤ `max_snapshots`) are left to it, so the CLI never disagrees with the canister.

use orchestrator_api::{Cadence, Retention};

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;

/// How the duration syntax is explained in every error.
const DURATION_HELP: &str = "a duration is a number and a unit: 90m, 12h, 1d, 2w (s, m, h, d, w; parts may be combined: 1h30m)";

/// Seconds in `text`: one or more `<N><unit>` parts (`s`, `m`, `h`, `d`, `w`), e.g. `30d`,
/// `1h30m`. A number without a unit is refused rather than guessed.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("empty duration; {DURATION_HELP}"));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in trimmed.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => MINUTE,
            'h' => HOUR,
            'd' => DAY,
            'w' => WEEK,
            _ => return Err(format!("{text:?}: unknown unit {c:?}; {DURATION_HELP}")),
        };
        if digits.is_empty() {
            return Err(format!(
                "{text:?}: {c:?} has no number before it; {DURATION_HELP}"
            ));
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{text:?}: {digits} is too large"))?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("{text:?} is too long a duration"))?;
    }
    if !digits.is_empty() {
        return Err(format!("{text:?}: {digits} has no unit; {DURATION_HELP}"));
    }
    if total == 0 {
        return Err(format!("{text:?} is zero; a duration must be positive"));
    }
    Ok(total)
}

/// The interval of `--every` in minutes: a duration in whole minutes, or `hourly`, `daily`,
/// `weekly`. The 15-minute minimum is the orchestrator's to enforce.
pub fn parse_every(text: &str) -> Result<u32, String> {
    let seconds = match text.trim().to_ascii_lowercase().as_str() {
        "hourly" => HOUR,
        "daily" => DAY,
        "weekly" => WEEK,
        _ => parse_duration(text)?,
    };
    if !seconds.is_multiple_of(MINUTE) {
        return Err(format!(
            "{text:?}: a schedule's interval is a whole number of minutes (e.g. 15m, 1h, 1d)"
        ));
    }
    u32::try_from(seconds / MINUTE).map_err(|_| format!("{text:?} is too long an interval"))
}

/// The cadence from `--every` or `--cron` (clap makes them exclusive and one of them required;
/// this checks it again so the function is correct on its own).
pub fn cadence(every: Option<&str>, cron: Option<&str>) -> Result<Cadence, String> {
    match (every, cron) {
        (Some(every), None) => parse_every(every)
            .map(Cadence::EveryMinutes)
            .map_err(|e| format!("--every {e}")),
        (None, Some(cron)) => Ok(Cadence::Cron(cron.trim().to_string())),
        _ => Err("give exactly one of --every and --cron".into()),
    }
}

/// A duration in the largest unit that divides it (`90m`, `1d`, `2w`), as `parse_duration`
/// reads it back.
pub fn format_duration(seconds: u64) -> String {
    for (unit, name) in [(WEEK, "w"), (DAY, "d"), (HOUR, "h"), (MINUTE, "m")] {
        if seconds >= unit && seconds.is_multiple_of(unit) {
            return format!("{}{name}", seconds / unit);
        }
    }
    format!("{seconds}s")
}

/// `every 1h` or `cron "30 2 * * *" (UTC)`.
pub fn describe_cadence(cadence: &Cadence) -> String {
    match cadence {
        Cadence::EveryMinutes(m) => format!("every {}", format_duration(u64::from(*m) * MINUTE)),
        Cadence::Cron(expr) => format!("cron {expr:?} (UTC)"),
    }
}

/// `keep 3, max age 30d`, or what applies when a part is absent.
pub fn describe_retention(retention: &Retention) -> String {
    let keep = match retention.keep {
        Some(n) => format!("keep {n}"),
        None => "keep up to max_snapshots".to_string(),
    };
    match retention.max_age_seconds {
        Some(age) => format!("{keep}, max age {}", format_duration(age)),
        None => format!("{keep}, no age limit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_every_unit_and_combinations() {
        assert_eq!(parse_duration("90m"), Ok(90 * 60));
        assert_eq!(parse_duration("12h"), Ok(12 * 3600));
        assert_eq!(parse_duration("30d"), Ok(30 * 86_400));
        assert_eq!(parse_duration("1w"), Ok(7 * 86_400));
        assert_eq!(parse_duration("45s"), Ok(45));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration(" 2D "), Ok(2 * 86_400));
    }

    #[test]
    fn durations_without_a_unit_with_a_wrong_unit_or_zero_are_refused_with_the_syntax() {
        for bad in [
            "",
            "15",
            "1x",
            "m",
            "h1",
            "1h30",
            "0m",
            "1.5h",
            "-1h",
            "99999999999999999999w",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(
                err.contains("duration") || err.contains("too"),
                "{bad:?}: {err}"
            );
        }
        assert!(parse_duration("15").unwrap_err().contains("no unit"));
        assert!(parse_duration("1y").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn every_takes_whole_minutes_and_the_issue_s_named_intervals() {
        assert_eq!(parse_every("1h"), Ok(60));
        assert_eq!(parse_every("1d"), Ok(1440));
        assert_eq!(parse_every("1w"), Ok(10_080));
        assert_eq!(parse_every("15m"), Ok(15));
        assert_eq!(parse_every("hourly"), Ok(60));
        assert_eq!(parse_every("Daily"), Ok(1440));
        assert_eq!(parse_every("weekly"), Ok(10_080));
        // Below the orchestrator's minimum but well formed: the orchestrator refuses it.
        assert_eq!(parse_every("5m"), Ok(5));
        assert!(
            parse_every("90s")
                .unwrap_err()
                .contains("whole number of minutes")
        );
        assert!(parse_every("1000000000w").unwrap_err().contains("too long"));
    }

    #[test]
    fn exactly_one_of_every_and_cron_makes_a_cadence() {
        assert_eq!(cadence(Some("1h"), None), Ok(Cadence::EveryMinutes(60)));
        assert_eq!(
            cadence(None, Some(" 30 2 * * 1-5 ")),
            Ok(Cadence::Cron("30 2 * * 1-5".into()))
        );
        assert!(cadence(Some("1h"), Some("* * * * *")).is_err());
        assert!(cadence(None, None).is_err());
    }

    #[test]
    fn durations_are_written_in_the_largest_exact_unit_and_read_back() {
        assert_eq!(format_duration(3600), "1h");
        assert_eq!(format_duration(5400), "90m");
        assert_eq!(format_duration(86_400), "1d");
        assert_eq!(format_duration(14 * 86_400), "2w");
        assert_eq!(format_duration(30 * 86_400), "30d");
        assert_eq!(format_duration(59), "59s");
        for s in [59, 60, 5400, 86_400, 30 * 86_400, 10_080 * 60] {
            assert_eq!(parse_duration(&format_duration(s)), Ok(s));
        }
    }

    #[test]
    fn cadences_and_retention_are_described_in_words() {
        assert_eq!(describe_cadence(&Cadence::EveryMinutes(1440)), "every 1d");
        assert_eq!(
            describe_cadence(&Cadence::Cron("0 3 * * *".into())),
            "cron \"0 3 * * *\" (UTC)"
        );
        assert_eq!(
            describe_retention(&Retention {
                keep: Some(3),
                max_age_seconds: Some(30 * 86_400)
            }),
            "keep 3, max age 30d"
        );
        assert_eq!(
            describe_retention(&Retention::default()),
            "keep up to max_snapshots, no age limit"
        );
    }
}
