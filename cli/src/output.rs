//! Printing: stdout for results (human text or `--json`), stderr for notes and progress.
//!
//! A closed stdout (`keepsake snapshot list | head -1`) is not an error: printing stops and the
//! process exits 0, like ripgrep does.

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Prints one line on stdout; exits quietly when the reader went away.
pub fn println(line: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println(&serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A note for the human on stderr (which identity, which network, resumed bytes, …).
pub fn note(line: &str) {
    eprintln!("{line}");
}

/// Nanoseconds since the epoch as RFC 3339 (UTC, seconds).
pub fn time(ns: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_nanos(ns)).to_string()
}

/// Now, in nanoseconds since the epoch (to say how far away the orchestrator's times are).
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// How far `ns` is from `now_ns`, in its two largest units: `in 42m`, `3h 5m ago`, `now`.
pub fn relative(ns: u64, now_ns: u64) -> String {
    let (seconds, future) = if ns >= now_ns {
        ((ns - now_ns) / 1_000_000_000, true)
    } else {
        ((now_ns - ns) / 1_000_000_000, false)
    };
    if seconds == 0 {
        return "now".into();
    }
    let mut parts = Vec::new();
    let mut rest = seconds;
    for (unit, name) in [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")] {
        if rest >= unit && parts.len() < 2 {
            parts.push(format!("{}{name}", rest / unit));
            rest %= unit;
        } else if !parts.is_empty() {
            // Two adjacent units at most: `1d 3h`, never `1d 5s`.
            break;
        }
    }
    let span = parts.join(" ");
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// A time as RFC 3339 followed by how far it is from now: `2026-11-22T03:00:00Z (in 42m)`.
pub fn time_and_relative(ns: u64, now_ns: u64) -> String {
    format!("{} ({})", time(ns), relative(ns, now_ns))
}

/// Cycles in the units the IC's tools use: `0.33 T`, `1.29 B`, `4.20 M`, `950`.
pub fn cycles(n: u128) -> String {
    // T from 0.01 T up, so a GiB-month reads "0.33 T" rather than "329.18 B".
    let value = n as f64;
    if n >= 10_000_000_000 {
        format!("{:.2} T", value / 1e12)
    } else if n >= 10_000_000 {
        format!("{:.2} B", value / 1e9)
    } else if n >= 10_000 {
        format!("{:.2} M", value / 1e6)
    } else {
        n.to_string()
    }
}

/// Bytes in a human unit (binary prefixes).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A byte progress bar on an interactive stderr, hidden otherwise (pipes, CI, `--json`).
pub fn byte_bar(show: bool, total: u64, message: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}

/// Prints a table with left-aligned columns.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        println(s.trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_printed_with_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(2 * 1024 * 1024), "2.0 MiB");
        assert_eq!(bytes(1536), "1.5 KiB");
    }

    #[test]
    fn relative_times_use_their_two_largest_adjacent_units() {
        let s = 1_000_000_000u64;
        let now = 1_700_000_000 * s;
        assert_eq!(relative(now, now), "now");
        assert_eq!(relative(now + 42 * 60 * s, now), "in 42m");
        assert_eq!(
            relative(now - (3 * 3600 + 5 * 60 + 7) * s, now),
            "3h 5m ago"
        );
        assert_eq!(relative(now + (86_400 + 5) * s, now), "in 1d");
        assert_eq!(relative(now + 90 * s, now), "in 1m 30s");
        assert_eq!(
            time_and_relative(now + 3600 * s, now),
            "2023-11-14T23:13:20Z (in 1h)"
        );
    }

    #[test]
    fn cycles_are_printed_in_t_b_and_m() {
        // A GiB of snapshots for a 30-day month on a 13-node subnet.
        assert_eq!(cycles(329_184_000_000), "0.33 T");
        assert_eq!(cycles(2_500_000_000_000), "2.50 T");
        assert_eq!(cycles(1_285_875_000), "1.29 B");
        assert_eq!(cycles(420_000_000), "0.42 B");
        assert_eq!(cycles(4_200_000), "4.20 M");
        assert_eq!(cycles(950), "950");
        assert_eq!(cycles(0), "0");
    }

    #[test]
    fn timestamps_are_printed_as_rfc3339() {
        assert_eq!(time(1_700_000_000_000_000_000), "2023-11-14T22:13:20Z");
    }
}
