//! `localnet`: starts an empty local subnet and installs the given wasm files. With `--port` it
//! serves the IC HTTP interface (the first line on stdout is `listening on http://127.0.0.1:<port>`)
//! until SIGINT or SIGTERM, and never reads standard input. Without it, it reads commands from
//! standard input (one per line) until end of input, so canisters can be poked from a shell.
//!
//! ```text
//! localnet [--port N] [--seed TEXT] [WASM[=HEX_INIT_ARG]]...
//!   --port N     serve on 127.0.0.1:N (0 picks a free port)
//!   --seed TEXT  derive the root and node keys from TEXT (same seed, same root key)
//!   --state-dir DIR  keep canisters and snapshots in DIR across restarts (server mode); every
//!                    update is on disk before its reply is sent
//!   --round-ms N execute in rounds of N ms like a replica (server mode; default 1000,
//!                or LOCALNET_ROUND_MS; 0 executes messages as soon as they arrive)
//!   --http1-only serve HTTP/1.1 only (default: HTTP/1.1 and h2c on the same port)
//! commands:  install PATH [HEX_ARG] | update ID METHOD [HEX_ARG] | query ID METHOD [HEX_ARG]
//!            tick | advance SECONDS | status ID | canisters | quit
//! ```
//! Arguments and replies are raw candid bytes in hex (`4449444c0000` is the empty tuple).

use candid::Principal;
use localnet::LocalNet;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

const EMPTY_ARGS: &str = "4449444c0000";

/// The server's round: an application subnet finalizes about one block per second.
const DEFAULT_SERVER_ROUND: Duration = Duration::from_millis(1000);

fn install(net: &mut LocalNet, path: &str, arg_hex: &str) -> Result<Principal, String> {
    let wasm = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let arg = hex::decode(arg_hex).map_err(|e| format!("bad hex argument: {e}"))?;
    let id = net.create_canister();
    net.reinstall_canister(id, wasm, arg, None)
        .map_err(|e| e.to_string())?;
    Ok(id)
}

fn run(net: &mut LocalNet, line: &str) -> Result<String, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let principal =
        |s: &str| Principal::from_text(s).map_err(|e| format!("bad canister id {s}: {e}"));
    let arg = |i: usize| {
        hex::decode(words.get(i).copied().unwrap_or(EMPTY_ARGS))
            .map_err(|e| format!("bad hex: {e}"))
    };
    match words.as_slice() {
        ["install", path, ..] => {
            install(net, path, words.get(2).copied().unwrap_or(EMPTY_ARGS)).map(|id| id.to_text())
        }
        ["update", id, method, ..] => net
            .update_call(principal(id)?, Principal::anonymous(), method, arg(3)?)
            .map(hex::encode)
            .map_err(|e| e.to_string()),
        ["query", id, method, ..] => net
            .query_call(principal(id)?, Principal::anonymous(), method, arg(3)?)
            .map(hex::encode)
            .map_err(|e| e.to_string()),
        ["tick"] => {
            net.tick();
            Ok("ok".into())
        }
        ["advance", secs] => {
            let secs: u64 = secs.parse().map_err(|e| format!("bad seconds: {e}"))?;
            net.advance_time(Duration::from_secs(secs));
            net.run_until_idle();
            Ok(format!("time {}", net.time_nanos()))
        }
        ["status", id] => net
            .canister_status(principal(id)?, None)
            .map(|s| format!("{s:?}"))
            .map_err(|e| e.to_string()),
        ["canisters"] => Ok(net
            .canister_ids()
            .iter()
            .map(Principal::to_text)
            .collect::<Vec<_>>()
            .join("\n")),
        _ => Err(format!("unknown command: {line}")),
    }
}

/// Command-line options.
#[derive(Default)]
struct Options {
    port: Option<u16>,
    seed: Option<String>,
    state_dir: Option<std::path::PathBuf>,
    round_ms: Option<u64>,
    http1_only: bool,
    wasms: Vec<String>,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => {
                let v = value("--port")?;
                opts.port = Some(v.parse().map_err(|e| format!("bad --port {v}: {e}"))?);
            }
            "--seed" => opts.seed = Some(value("--seed")?),
            "--state-dir" => opts.state_dir = Some(value("--state-dir")?.into()),
            "--round-ms" => {
                let v = value("--round-ms")?;
                opts.round_ms = Some(v.parse().map_err(|e| format!("bad --round-ms {v}: {e}"))?);
            }
            "--http1-only" => opts.http1_only = true,
            "-h" | "--help" => {
                return Err(
                    "usage: localnet [--port N] [--seed TEXT] [--state-dir DIR] [--round-ms N] [--http1-only] [WASM[=HEX_INIT_ARG]]...".into(),
                );
            }
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
            _ => opts.wasms.push(arg),
        }
    }
    Ok(opts)
}

/// Serves the HTTP interface until SIGINT or SIGTERM.
fn serve(
    net: LocalNet,
    port: u16,
    seed: Option<&str>,
    state_dir: Option<std::path::PathBuf>,
    round: Duration,
    http2: bool,
) -> ExitCode {
    use localnet::http::{Keys, ReplicaConfig, Server};
    // A fixed seed wins; a state directory keeps its own seed so restarts keep the root key.
    let keys = match (seed, state_dir.as_deref()) {
        (Some(s), _) => Keys::from_seed(s.as_bytes()),
        (None, Some(dir)) => match Keys::for_state_dir(dir) {
            Ok(k) => k,
            Err(e) => {
                eprintln!(
                    "localnet: cannot keep the root key in {}: {e}",
                    dir.display()
                );
                return ExitCode::FAILURE;
            }
        },
        (None, None) => Keys::random(),
    };
    let config = ReplicaConfig {
        state_dir,
        round,
        http2,
        ..ReplicaConfig::default()
    };
    let server = match Server::start(net, keys, config, port) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("localnet: cannot start on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Handlers first: a signal right after the address line must still save and exit cleanly.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a signal runtime");
    let (mut term, mut int) = runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).expect("SIGTERM handler"),
            signal(SignalKind::interrupt()).expect("SIGINT handler"),
        )
    });
    println!("listening on {}", server.url());
    let _ = std::io::stdout().flush();
    runtime.block_on(async {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    });
    // The last commit, then the listener and open connections go (Server::stop).
    server.stop();
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("localnet: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut net = match opts.state_dir.as_deref().map(localnet::persist::load) {
        None | Some(Ok(None)) => LocalNet::new(),
        Some(Ok(Some(net))) => net,
        Some(Err(e)) => {
            eprintln!("localnet: cannot load the state: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut installed = Vec::new();
    for spec in &opts.wasms {
        let (path, arg) = spec.split_once('=').unwrap_or((spec.as_str(), EMPTY_ARGS));
        match install(&mut net, path, arg) {
            Ok(id) => installed.push(format!("{id} {path}")),
            Err(e) => {
                eprintln!("localnet: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(port) = opts.port {
        // The first stdout line must be the address; installed canisters go to stderr.
        for line in &installed {
            eprintln!("{line}");
        }
        // A server behaves like a replica in time unless told otherwise.
        let round = match (opts.round_ms, std::env::var_os("LOCALNET_ROUND_MS")) {
            (Some(ms), _) => Duration::from_millis(ms),
            (None, Some(_)) => localnet::http::rounds::round_from_env(),
            (None, None) => DEFAULT_SERVER_ROUND,
        };
        return serve(
            net,
            port,
            opts.seed.as_deref(),
            opts.state_dir,
            round,
            !opts.http1_only,
        );
    }
    for line in &installed {
        println!("{line}");
    }
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "quit" {
            break;
        }
        let text = match run(&mut net, line) {
            Ok(s) => s,
            Err(e) => format!("error: {e}"),
        };
        // A closed pipe is not an error: stop quietly.
        if writeln!(out, "{text}").is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}
