//! The schedule editor's preview: the next five times a cadence would fire, computed here
//! with the same cron crate and the same 5-field rule as the orchestrator, so what the page
//! shows is what the orchestrator will do. Only the orchestrator decides whether to accept a
//! schedule (spacing, limits): saving shows its refusal text.
//!
//! Times are sent as UTC (RFC 3339) and as milliseconds, which the page's script shows in
//! the browser's local time zone.

use std::str::FromStr;

use axum::Json;
use axum::extract::Query;
use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::operations::schedule::parse_every;
use crate::output;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// `GET /schedule/preview?kind=cron|every&value=…`.
#[derive(Deserialize)]
pub struct PreviewQuery {
    /// `cron` or `every`.
    pub kind: String,
    /// The expression or the interval (`1h`, `daily`, …).
    pub value: String,
}

/// The preview.
#[derive(Serialize, Debug, PartialEq)]
pub struct Preview {
    /// The next runs, UTC.
    pub utc: Vec<String>,
    /// The same, milliseconds since the epoch.
    pub ms: Vec<u64>,
    /// Why there is no preview.
    pub error: Option<String>,
}

/// Answers the preview.
pub async fn preview(Query(q): Query<PreviewQuery>) -> Json<Preview> {
    Json(next_runs(&q.kind, &q.value, output::now_ns(), 5))
}

/// The next `count` runs after `now` (nanoseconds) of a schedule set now.
pub fn next_runs(kind: &str, value: &str, now: u64, count: usize) -> Preview {
    let times = match kind {
        "every" => parse_every(value).map(|minutes| {
            let period = u64::from(minutes) * 60 * NANOS_PER_SECOND;
            (1..=count as u64).map(|k| now + k * period).collect()
        }),
        "cron" => cron_runs(value.trim(), now, count),
        _ => Err("choose an interval or a cron expression".into()),
    };
    match times {
        Ok(times) => Preview {
            utc: times.iter().map(|&t| output::time(t)).collect(),
            ms: times.iter().map(|&t| t / 1_000_000).collect(),
            error: None,
        },
        Err(e) => Preview {
            utc: vec![],
            ms: vec![],
            error: Some(e),
        },
    }
}

fn cron_runs(expression: &str, now: u64, count: usize) -> Result<Vec<u64>, String> {
    // The orchestrator's rule: the classic 5 fields (croner would also take 6 and 7).
    let fields = expression.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "a cron expression has 5 fields (minute hour day-of-month month day-of-week, in UTC), \
             e.g. \"30 2 * * *\" for 02:30 every day; {expression:?} has {fields}"
        ));
    }
    let cron = croner::Cron::from_str(expression)
        .map_err(|e| format!("{expression:?} is not a valid cron expression: {e}"))?;
    let seconds = i64::try_from(now / NANOS_PER_SECOND).map_err(|e| e.to_string())?;
    let mut from = Utc
        .timestamp_opt(seconds, 0)
        .single()
        .ok_or("the current time is out of range")?;
    let mut out = Vec::new();
    for _ in 0..count {
        let Ok(next) = cron.find_next_occurrence(&from, false) else {
            break;
        };
        let ns = u64::try_from(next.timestamp()).map_err(|e| e.to_string())? * NANOS_PER_SECOND;
        out.push(ns);
        from = next;
    }
    if out.is_empty() {
        return Err(format!(
            "{expression:?} never fires (e.g. the 30th of February)"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-01T04:10:00Z
    const NOW: u64 = 1_796_098_200 * NANOS_PER_SECOND;

    #[test]
    fn a_cron_preview_lists_the_next_five_utc_runs() {
        let p = next_runs("cron", "30 2 * * *", NOW, 5);
        assert_eq!(p.error, None);
        assert_eq!(
            p.utc,
            [
                "2026-12-02T02:30:00Z",
                "2026-12-03T02:30:00Z",
                "2026-12-04T02:30:00Z",
                "2026-12-05T02:30:00Z",
                "2026-12-06T02:30:00Z"
            ]
        );
        assert_eq!(p.ms[0], 1_796_178_600_000);
    }

    #[test]
    fn an_interval_preview_counts_from_now() {
        let p = next_runs("every", "1h", NOW, 5);
        assert_eq!(p.utc[0], "2026-12-01T05:10:00Z");
        assert_eq!(p.utc[4], "2026-12-01T09:10:00Z");
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        assert!(
            next_runs("cron", "* * *", NOW, 5)
                .error
                .unwrap()
                .contains("5 fields")
        );
        assert!(
            next_runs("cron", "61 * * * *", NOW, 5)
                .error
                .unwrap()
                .contains("not a valid cron expression")
        );
        assert!(
            next_runs("every", "15", NOW, 5)
                .error
                .unwrap()
                .contains("no unit")
        );
    }
}
