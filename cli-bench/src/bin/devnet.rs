//! `devnet`: the deploy path of the README demo on a network without dfx (localnet).
//!
//! ```text
//! devnet --network URL --pem FILE deploy <wasm-dir>     create + install the orchestrator and a
//!                                                      v1 sample module; print their ids
//! devnet --network URL --pem FILE create <wasm-file>    a fresh canister running <wasm-file>
//! devnet --network URL --pem FILE call <canister> <method> [<candid args>]
//! ```
//!
//! Canisters are created with `provisional_create_canister_with_cycles` (local networks only),
//! controlled by the PEM's identity; the sample module is also controlled by the orchestrator, as
//! `keepsake module add` requires. With dfx, `dfx deploy` and `dfx canister call` do the same.
//! (The benchmark's bare read loop is `read-loop.rs` beside this file.)

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use candid::{IDLArgs, Principal, encode_one};
use ic_agent::Agent;
use ic_agent::identity::BasicIdentity;
use ic_utils::interfaces::ManagementCanister;
use orchestrator_api::InitArg;

async fn agent(url: &str, pem: &str) -> Result<Agent> {
    let id = BasicIdentity::from_pem_file(pem).with_context(|| format!("cannot read {pem}"))?;
    let agent = Agent::builder()
        .with_url(url)
        .with_arc_identity(Arc::new(id))
        .build()?;
    agent
        .fetch_root_key()
        .await
        .context("is localnet running?")?;
    Ok(agent)
}

async fn create(agent: &Agent, wasm: &[u8], arg: Vec<u8>) -> Result<Principal> {
    let mgmt = ManagementCanister::create(agent);
    let (id,) = mgmt
        .create_canister()
        .as_provisional_create_with_amount(None)
        .call_and_wait()
        .await
        .context("provisional_create_canister_with_cycles")?;
    mgmt.install_code(&id, wasm)
        .with_raw_arg(arg)
        .call_and_wait()
        .await
        .context("install_code")?;
    Ok(id)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [flag_n, url, flag_p, pem, command, rest @ ..] = args.as_slice() else {
        bail!("usage: devnet --network URL --pem FILE deploy|create|call ...");
    };
    if flag_n != "--network" || flag_p != "--pem" {
        bail!("usage: devnet --network URL --pem FILE deploy|create|call ...");
    }
    let agent = agent(url, pem).await?;
    let me = agent.get_principal().map_err(|e| anyhow!(e))?;
    match (command.as_str(), rest) {
        ("deploy", [dir]) => {
            let dir = PathBuf::from(dir);
            let read = |n: &str| {
                std::fs::read(dir.join(n))
                    .with_context(|| format!("{n}: run scripts/build-canisters.sh"))
            };
            let orchestrator = create(
                &agent,
                &read("orchestrator.wasm.gz")?,
                encode_one(InitArg { admins: vec![] })?,
            )
            .await?;
            let module = create(
                &agent,
                &read("sample-module-v1.wasm.gz")?,
                candid::encode_args(())?,
            )
            .await?;
            ManagementCanister::create(&agent)
                .update_settings(&module)
                .with_controller(me)
                .with_controller(orchestrator)
                .call_and_wait()
                .await
                .context("update_settings")?;
            println!("ORCHESTRATOR={orchestrator}");
            println!("MODULE={module}");
        }
        ("create", [wasm]) => {
            let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {wasm}"))?;
            println!(
                "{}",
                create(&agent, &bytes, candid::encode_args(())?).await?
            );
        }
        ("call", [canister, method, arg @ ..]) => {
            let canister = Principal::from_text(canister)?;
            let text = arg.first().map(String::as_str).unwrap_or("()");
            let arg = candid_parser::parse_idl_args(text)?.to_bytes()?;
            // Try a query first (getters), then an update.
            let reply = match agent
                .query(&canister, method)
                .with_arg(arg.clone())
                .call()
                .await
            {
                Ok(r) => r,
                Err(_) => {
                    agent
                        .update(&canister, method)
                        .with_arg(arg)
                        .call_and_wait()
                        .await?
                }
            };
            println!("{}", IDLArgs::from_bytes(&reply)?);
        }
        _ => bail!(
            "usage: devnet --network URL --pem FILE deploy <wasm-dir> | create <wasm> | call <id> <method> [args]"
        ),
    }
    Ok(())
}
