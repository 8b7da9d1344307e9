//! Exit codes and how an error reaches the user.
//!
//! Every failure is an `anyhow::Error` whose outermost message says what failed and how to fix
//! it; `.context(...)` layers add where it happened, and the chain is printed as "caused by"
//! lines. A `UsageError` anywhere in the chain means exit code 2, anything else 1.

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
    let top = e.to_string();
    let causes: Vec<String> = e.chain().skip(1).map(|c| c.to_string()).collect();
    eprintln!("error: {top}");
    for cause in &causes {
        eprintln!("  caused by: {cause}");
    }
    if json && e.downcast_ref::<Reported>().is_none() {
        let body = JsonError {
            error: &top,
            causes,
            exit_code: code,
        };
        if let Ok(text) = serde_json::to_string_pretty(&body) {
            crate::output::println(&text);
        }
    }
    code
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
}
