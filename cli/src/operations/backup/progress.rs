//! rustic_core's progress reports (reading the index, archiving, checking packs, …) drawn as
//! indicatif bars on stderr. Shown only when the command runs on a terminal without `--json`
//! (the caller decides, as for keepsake's own bars); otherwise every bar is hidden and
//! rustic_core skips the bookkeeping.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use rustic_core::{Progress, ProgressBars, ProgressType, RusticProgress};

/// The bars rustic_core asks for.
#[derive(Debug, Clone, Copy)]
pub struct Bars {
    /// Draw them (a terminal, no `--json`).
    pub show: bool,
}

impl ProgressBars for Bars {
    fn progress(&self, kind: ProgressType, prefix: &str) -> Progress {
        if !self.show {
            return Progress::hidden();
        }
        let template = match kind {
            ProgressType::Spinner => "{spinner} {prefix:30} {elapsed}",
            ProgressType::Counter => "{prefix:30} [{bar:30}] {pos}/{len} eta {eta}",
            ProgressType::Bytes => {
                "{prefix:30} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}"
            }
        };
        let bar = ProgressBar::new(0).with_prefix(prefix.to_string());
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("static template")
                .progress_chars("=> "),
        );
        // A spinner is never advanced by rustic_core: it ticks on its own.
        if matches!(kind, ProgressType::Spinner) {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Progress::new(Bar(bar))
    }
}

/// One bar.
#[derive(Debug)]
struct Bar(ProgressBar);

impl RusticProgress for Bar {
    fn is_hidden(&self) -> bool {
        false
    }

    fn set_length(&self, len: u64) {
        self.0.set_length(len);
    }

    fn set_title(&self, title: &str) {
        self.0.set_prefix(title.to_string());
    }

    fn inc(&self, inc: u64) {
        self.0.inc(inc);
    }

    fn finish(&self) {
        // What was done is in the command's summary; the bar itself goes.
        self.0.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_a_terminal_every_bar_is_hidden() {
        let p = Bars { show: false }.progress(ProgressType::Bytes, "x");
        assert!(p.is_hidden());
        let shown = Bars { show: true }.progress(ProgressType::Counter, "x");
        assert!(!shown.is_hidden());
        shown.finish();
    }
}
