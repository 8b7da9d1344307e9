//! `keepsake`: drive a Keepsake orchestrator, export canister snapshots to cold storage, verify
//! them and import them back.
//!
//! This file owns the process boundary: parsing (clap), the exit codes, and printing errors
//! with their cause chain. Everything else lives in `commands/` (parse + present) and
//! `operations/` (the agent logic, testable without a network).

mod commands;
mod config;
mod connect;
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
    tune_the_allocator();
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

/// Tunes glibc's allocator for what the CLI does: move data in 2 MB slices (export, import,
/// backup) through ic-agent, which allocates each reply several times over (HTTP body, CBOR,
/// certificate, candid) on tokio's worker threads and frees it on another.
///
/// - Blocks up to 4 MiB come from the heap, not from mmap: glibc's default (128 KiB, which any
///   other setting below freezes) maps and unmaps every 2 MB buffer, and each of its 512 pages
///   is faulted in again, about 0.5 s of system CPU per 235 MiB exported.
/// - Freed memory goes back to the OS once 1 MiB is free at the top of a heap (instead of the
///   adaptive threshold, which grows after each freed large block and let every thread's arena
///   keep its freed slices: peak RSS grew with the snapshot's size).
/// - One arena, not 8 per core: a slice freed on another thread lands back in the heap that is
///   reused, rather than in one of many arenas that each keep their own freed slices. Small
///   allocations still avoid the arena's lock through glibc's per-thread cache.
///
/// Measured on a 200 MB export at concurrency 32 against localnet, release (docs/BENCHMARKS.md,
/// issue 16): trim alone 2.0 s and 70 MiB without rounds (system CPU 1.05 s); these three
/// 1.35–1.6 s and 75–83 MiB (system CPU 0.35–0.5 s), icp-cli 1.7–2.0 s and 108–123 MiB; in 1000 ms rounds, 50 MB, 58–64 MiB.
#[allow(unsafe_code)] // the calls below; the workspace denies unsafe code elsewhere
fn tune_the_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes tuning parameters of glibc's allocator; it is called before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
