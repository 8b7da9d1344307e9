//! `keepsake`: drive a Keepsake orchestrator, export canister snapshots to cold storage, verify
//! them and import them back.
//!
//! This file owns the process boundary: parsing (clap), the exit codes, and printing errors
//! with their cause chain. Everything else lives in `commands/` (parse + present) and
//! `operations/` (the agent logic, testable without a network).

mod commands;
mod config;
mod console;
mod context;
mod error;
mod identity;
mod operations;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::context::GlobalArgs;

/// Keepsake: never lose a canister's state.
///
/// Drives a Keepsake orchestrator (modules, snapshots, upgrades with automatic snapshot and
/// rollback, history) and moves snapshots off-chain: `export` downloads one in the layout dfx
/// and icp-cli use, `verify` checks a folder, `import` uploads it to any canister you control.
///
/// Exit codes: 0 success, 1 the operation failed (or `verify` found a problem), 2 usage error.
#[derive(Parser, Debug)]
#[command(name = "keepsake", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,

    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    return_freed_memory_to_the_os();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    error::remember_inputs(
        args.iter().map(|a| a.to_string_lossy().into_owned()).chain(
            ["KEEPSAKE_NETWORK", "KEEPSAKE_ORCHESTRATOR"]
                .iter()
                .filter_map(|v| std::env::var(v).ok()),
        ),
    );
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            // Parsing failed, so `--json` is looked for among the words before a `--`.
            let json = args
                .iter()
                .skip(1)
                .take_while(|a| *a != "--")
                .any(|a| a == "--json");
            return ExitCode::from(error::report_clap(&e, json));
        }
    };
    let json = cli.global.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(error::EXIT_FAILED);
        }
    };
    let result = runtime.block_on(async move {
        let ctx = context::Ctx::new(cli.global);
        commands::exec(&ctx, cli.command).await
    });
    match result {
        Ok(()) => ExitCode::from(error::EXIT_OK),
        Err(e) => ExitCode::from(error::report(&e, json)),
    }
}

/// Makes glibc's allocator give freed memory back to the OS once 1 MiB is free at the top of
/// a heap, instead of its adaptive threshold. Export, import and backup move data in 2 MB
/// slices across tokio's worker threads; with the adaptive threshold (which grows after each
/// freed large block) every thread's arena kept its freed slices, and peak RSS grew with the
/// snapshot's size. Measured (export of 200 MB at concurrency 32, release, localnet in 1000 ms
/// rounds): 115-119 MiB by default, 80-85 MiB with this, same time (docs/BENCHMARKS.md).
#[allow(unsafe_code)] // the one call below; the workspace denies unsafe code elsewhere
fn return_freed_memory_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a tuning parameter of glibc's allocator; it is called before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 20);
    }
}
