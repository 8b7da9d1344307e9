//! `localnet`: starts an empty local subnet, installs the given wasm files, then reads commands
//! from standard input (one per line) until end of input. The HTTP interface is a separate
//! issue; this driver exists so canisters can be loaded and poked from a shell.
//!
//! ```text
//! localnet [WASM[=HEX_INIT_ARG]]...
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

fn main() -> ExitCode {
    let mut net = LocalNet::new();
    for spec in std::env::args().skip(1) {
        let (path, arg) = spec.split_once('=').unwrap_or((spec.as_str(), EMPTY_ARGS));
        match install(&mut net, path, arg) {
            Ok(id) => println!("{id} {path}"),
            Err(e) => {
                eprintln!("localnet: {e}");
                return ExitCode::FAILURE;
            }
        }
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
