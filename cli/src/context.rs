//! The global flags and what every command gets from them: the agent (built once, lazily, so
//! `verify` never touches the network), the orchestrator, output mode and confirmations.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use ic_agent::Agent;
use tokio::sync::OnceCell;

use crate::config::{self, Network};
use crate::connect;
use crate::error::usage;
use crate::identity::{self, IdentityChoice};
use crate::operations::orchestrator::Orchestrator;
use crate::output;

/// Flags every command accepts.
#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Network: `local` (dfx's local replica on http://127.0.0.1:4943, or icp-cli's on :8000 in
    /// an icp.yaml-only project, unless dfx.json, icp.yaml or ~/.config/dfx/networks.json say
    /// otherwise), `ic` (mainnet), a network named in dfx.json or icp.yaml (or an icp.yaml
    /// environment), or a URL.
    #[arg(long, global = true, default_value = "local", env = "KEEPSAKE_NETWORK")]
    pub network: String,

    /// A dfx identity by name (~/.config/dfx/identity/<name>/identity.pem). Default: dfx's
    /// default identity, or anonymous when there is no dfx identity store.
    #[arg(long, global = true, conflicts_with = "pem")]
    pub identity: Option<String>,

    /// A PEM file holding the private key to sign with (Ed25519, secp256k1 or prime256v1).
    #[arg(long, global = true, value_name = "FILE")]
    pub pem: Option<PathBuf>,

    /// The orchestrator: a principal, or a name looked up like dfx and icp-cli do
    /// (.dfx/<network>/canister_ids.json, .icp/cache/mappings/<network>.ids.json,
    /// .icp/data/mappings/<network>.ids.json, canister_ids.json).
    #[arg(
        long,
        global = true,
        default_value = "orchestrator",
        env = "KEEPSAKE_ORCHESTRATOR",
        value_name = "ID_OR_NAME"
    )]
    pub orchestrator: String,

    /// Print a stable JSON structure on stdout instead of text (see the README).
    #[arg(long, global = true)]
    pub json: bool,

    /// Do not ask for confirmation; required for destructive commands when stdin is not a
    /// terminal (restore, delete, import over a snapshot, upgrade).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
}

/// What a command runs with.
pub struct Ctx {
    /// The flags.
    pub global: GlobalArgs,
    agent: OnceCell<(Agent, Network)>,
}

impl Ctx {
    /// Wraps the parsed flags.
    pub fn new(global: GlobalArgs) -> Self {
        Self {
            global,
            agent: OnceCell::new(),
        }
    }

    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        self.global.json
    }

    /// Progress bars only when a person watches: stderr (where bars are drawn) and stdout are
    /// both terminals, and not `--json`. A piped stdout (`keepsake export … | tee log`) means a
    /// program or a log reads the run, where redrawn bars are noise.
    pub fn show_progress(&self) -> bool {
        !self.global.json && std::io::stderr().is_terminal() && std::io::stdout().is_terminal()
    }

    fn project_dir(&self) -> PathBuf {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        config::project_dir(&cwd)
    }

    /// The resolved `--network`.
    pub fn network(&self) -> Result<Network> {
        config::resolve_network(
            &self.global.network,
            &self.project_dir(),
            identity::dfx_config_dir().as_deref(),
        )
    }

    /// The agent, built on first use: identity chosen and announced on stderr, root key fetched
    /// for every network but mainnet.
    pub async fn agent(&self) -> Result<&Agent> {
        let (agent, _) = self
            .agent
            .get_or_try_init(|| async {
                let network = self.network()?;
                let choice = identity::choose(
                    self.global.identity.as_deref(),
                    self.global.pem.as_deref(),
                    identity::dfx_config_dir().as_deref(),
                )?;
                let id = identity::load(&choice)?;
                let principal = id.sender().map_err(anyhow::Error::msg)?;
                if !self.global.json {
                    let anon = matches!(choice, IdentityChoice::Anonymous { .. });
                    output::note(&format!(
                        "Using {choice}{} on {}",
                        if anon {
                            String::new()
                        } else {
                            format!(", principal {principal}")
                        },
                        network.url
                    ));
                }
                let agent = connect::connect(&network.url, id, network.is_mainnet)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot reach the network at {}: is the replica running \
                             (`dfx start`, or `localnet --port ...`)? Check --network",
                            network.url
                        )
                    })?;
                Ok::<_, anyhow::Error>((agent, network))
            })
            .await?;
        Ok(agent)
    }

    /// The orchestrator's client.
    pub async fn orchestrator(&self) -> Result<Orchestrator<'_>> {
        let network = self.network()?;
        let id = config::resolve_canister(&self.global.orchestrator, &network, &self.project_dir())
            .context("which orchestrator? Pass --orchestrator <principal> (or set KEEPSAKE_ORCHESTRATOR)")?;
        Ok(Orchestrator::new(self.agent().await?, id))
    }

    /// Prints an answer: `view` as JSON with `--json`, else the line `text` writes of it.
    pub fn show<V: serde::Serialize>(
        &self,
        view: &V,
        text: impl FnOnce(&V) -> String,
    ) -> Result<()> {
        if self.json() {
            return output::json(view);
        }
        output::println(&text(view));
        Ok(())
    }

    /// Asks before a destructive action: `--yes` skips it; a terminal gets a y/N prompt;
    /// otherwise it is a usage error, so scripts never hang or act by surprise.
    pub fn confirm(&self, what: &str) -> Result<()> {
        if self.global.yes {
            return Ok(());
        }
        if !std::io::stdin().is_terminal() {
            return Err(usage(format!(
                "{what}: this is destructive and stdin is not a terminal, so pass --yes to confirm"
            )));
        }
        eprint!("{what}. Continue? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
            Ok(())
        } else {
            Err(usage("cancelled; nothing was changed"))
        }
    }
}
