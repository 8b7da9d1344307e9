//! Exit codes and how an error reaches the user.
//!
//! Every failure is an `anyhow::Error` whose outermost message says what failed and how to fix
//! it; `.context(...)` layers add where it happened, and the chain is printed as "caused by"
//! lines. A `UsageError` anywhere in the chain means exit code 2, anything else 1.
//!
//! Whatever was typed is echoed at most [`MAX_ECHO`] characters long: the messages that quote
//! an input (keepsake's, the orchestrator's, the IC's) are bounded here, at the one place that
//! prints them, so a 1 MB argument never comes back as a 1 MB error.

use std::sync::OnceLock;

use serde::Serialize;

/// Success.
pub const EXIT_OK: u8 = 0;
/// The operation failed, or `verify` found a problem.
pub const EXIT_FAILED: u8 = 1;
/// The command line was wrong (unknown flag, bad id, a destructive command without `--yes`).
pub const EXIT_USAGE: u8 = 2;

/// A mistake on the command line found after parsing (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Shorthand for a usage error.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// The most characters of one input an error message repeats.
pub const MAX_ECHO: usize = 100;

/// `text` quoted for a message, cut to [`MAX_ECHO`] characters (with `…`) when longer.
pub fn echo(text: &str) -> String {
    let quoted = format!("{text:?}");
    if quoted.chars().count() <= MAX_ECHO + 2 {
        return quoted;
    }
    let head: String = quoted.chars().take(MAX_ECHO + 1).collect();
    format!("{head}…\" ({} characters)", text.chars().count())
}

/// What the user typed (arguments and the `KEEPSAKE_*` variables) that is too long to repeat,
/// as typed and as `{:?}` escapes it, ASCII-lowercased.
static INPUTS: OnceLock<Vec<Vec<char>>> = OnceLock::new();

/// Remembers the inputs whose echoes [`bound_echoes`] cuts (called once, by `main`).
pub fn remember_inputs(inputs: impl IntoIterator<Item = String>) {
    let lower = |s: &str| {
        s.chars()
            .map(|c| c.to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    let long = inputs
        .into_iter()
        .filter(|i| i.chars().count() > MAX_ECHO)
        .flat_map(|i| [lower(&i), lower(&format!("{i:?}"))])
        .collect();
    let _ = INPUTS.set(long);
}

/// `message` with every run of more than [`MAX_ECHO`] characters taken from one input cut to
/// its first [`MAX_ECHO`] characters and `…`. A run is found wherever it is (a whole input, a
/// part of one, one that a parser upper-cased: compared ASCII-case-insensitively), so no
/// message, whoever wrote it, repeats more than that of anything typed.
pub fn bound_echoes(message: &str) -> String {
    let inputs = INPUTS.get().map(Vec::as_slice).unwrap_or_default();
    let width = MAX_ECHO + 1;
    let chars: Vec<char> = message.chars().collect();
    if inputs.is_empty() || chars.len() < width {
        return message.to_string();
    }
    // Every window of MAX_ECHO + 1 characters of an input; a message window found among them
    // repeats too much.
    let windows: std::collections::HashSet<&[char]> =
        inputs.iter().flat_map(|i| i.windows(width)).collect();
    let lower: Vec<char> = chars.iter().map(|c| c.to_ascii_lowercase()).collect();
    let mut repeated = vec![false; chars.len()];
    for (start, window) in lower.windows(width).enumerate() {
        if windows.contains(window) {
            repeated[start..start + width].fill(true);
        }
    }
    let mut out = String::with_capacity(message.len());
    let mut run = 0;
    for (c, repeated) in chars.iter().zip(repeated) {
        if !repeated {
            run = 0;
            out.push(*c);
            continue;
        }
        run += 1;
        if run <= MAX_ECHO {
            out.push(*c);
        } else if run == MAX_ECHO + 1 {
            out.push('…');
        }
    }
    out
}

/// A failure already reported on stdout (e.g. `verify` printed its problems): exit 1 with a
/// one-line summary on stderr.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reported(pub String);

/// The `--json` shape of an error (printed on stdout, besides the human text on stderr).
#[derive(Serialize)]
struct JsonError<'a> {
    error: &'a str,
    causes: Vec<String>,
    exit_code: u8,
}

/// Prints `e` with its cause chain and returns the exit code.
pub fn report(e: &anyhow::Error, json: bool) -> u8 {
    let code = if e.chain().any(|c| c.downcast_ref::<UsageError>().is_some()) {
        EXIT_USAGE
    } else {
        EXIT_FAILED
    };
    let top = bound_echoes(&e.to_string());
    let causes: Vec<String> = e
        .chain()
        .skip(1)
        .map(|c| bound_echoes(&c.to_string()))
        .collect();
    eprintln!("error: {top}");
    for cause in &causes {
        eprintln!("  caused by: {cause}");
    }
    if json && e.downcast_ref::<Reported>().is_none() {
        print_json(&top, causes, code);
    }
    code
}

fn print_json(error: &str, causes: Vec<String>, exit_code: u8) {
    let body = JsonError {
        error,
        causes,
        exit_code,
    };
    if let Ok(text) = serde_json::to_string_pretty(&body) {
        crate::output::println(&text);
    }
}

/// Prints a command-line parsing error (clap's) and returns the exit code: `--help` and
/// `--version` print on stdout and succeed; a real error is usage (exit 2), printed by clap on
/// stderr and, with `--json`, as the same `{error, causes, exit_code}` as every other failure.
pub fn report_clap(e: &clap::Error, json: bool) -> u8 {
    if !e.use_stderr() {
        let _ = e.print();
        return EXIT_OK;
    }
    let plain = e.to_string();
    let bounded = bound_echoes(&plain);
    if bounded == plain {
        // Unchanged: let clap print it, in colour on a terminal.
        let _ = e.print();
    } else {
        eprint!("{bounded}");
    }
    if json {
        // clap's first paragraph is the error ("error: …" and its indented details); the rest
        // is the usage line and a pointer to --help.
        let first = bounded.split("\n\n").next().unwrap_or_default();
        let error = first
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let error = error.strip_prefix("error: ").unwrap_or(&error);
        let causes = bounded
            .split("\n\n")
            .skip(1)
            .map(str::trim)
            .filter(|p| p.starts_with("Usage:"))
            .map(str::to_string)
            .collect();
        print_json(error, causes, EXIT_USAGE);
    }
    EXIT_USAGE
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_usage_error_anywhere_in_the_chain_exits_with_two() {
        let e = Err::<(), _>(usage("bad id"))
            .context("restoring")
            .unwrap_err();
        assert_eq!(report(&e, false), EXIT_USAGE);
        let e = anyhow::anyhow!("call failed");
        assert_eq!(report(&e, false), EXIT_FAILED);
    }

    #[test]
    fn an_overlong_input_is_echoed_as_a_bounded_prefix() {
        let long = "a".repeat(5000);
        let e = echo(&long);
        assert!(e.chars().count() < MAX_ECHO + 40, "{e}");
        assert!(e.starts_with("\"aaa") && e.contains('…') && e.contains("5000 characters"));
        assert_eq!(echo("app"), "\"app\"");
        let quoted = format!("x\"{long}");
        let cron = format!("{long} * * * *");
        remember_inputs([long.clone(), "short".into(), quoted.clone(), cron]);
        let m = bound_echoes(&format!(
            "no module named {long:?}; or {quoted:?}; illegal character 'A' in part '{}'",
            long.to_uppercase()
        ));
        assert!(m.chars().count() < 4 * MAX_ECHO, "{m}");
        assert_eq!(m.matches('…').count(), 3, "{m}");
        assert_eq!(bound_echoes("short message"), "short message");
    }
}
