//! What every handler shares: the agent and the orchestrator (the CLI's own), the console's
//! port and tokens, the upgrade and backup jobs running in the background, and the backup
//! repository when one is configured.

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{Context, Result};
use candid::Principal;
use ic_agent::Agent;

use super::backup_jobs;
use super::backup_repo::BackupRepo;
use super::jobs::Jobs;
use crate::operations::backup::repo::RepoSpec;
use crate::operations::orchestrator::Orchestrator;

/// `keepsake console`'s flags, as the server needs them.
#[derive(Debug, Clone, Default)]
pub struct ConsoleOptions {
    /// The port on 127.0.0.1 (0: any free one).
    pub port: u16,
    /// Open the system's browser on the URL.
    pub open: bool,
    /// The backup repository, when the Backups page should show one.
    pub repo: Option<RepoSpec>,
    /// Where its password is (else KEEPSAKE_REPO_PASSWORD).
    pub password_file: Option<PathBuf>,
}

/// The console's shared state.
pub struct App {
    agent: Agent,
    orchestrator: Principal,
    /// The port the server listens on (the Host and Origin checks name it).
    pub port: u16,
    /// The login token: in the printed URL once, then in an HttpOnly cookie.
    pub token: String,
    /// The CSRF token every POST carries in a header; it is in the pages, never in a cookie.
    pub csrf: String,
    /// Upgrades started from the Upgrade page.
    pub jobs: Mutex<Jobs>,
    /// Syncs and restores started from the Backups page.
    pub backup_jobs: Mutex<backup_jobs::Jobs>,
    /// The backup repository (`--repo`), with its password and start-up check.
    pub backups: Option<BackupRepo>,
    /// The network's name (or URL), as backups are tagged with it.
    pub network: String,
}

impl App {
    /// The state, with fresh random tokens.
    pub fn new(
        agent: Agent,
        orchestrator: Principal,
        port: u16,
        network: String,
        backups: Option<BackupRepo>,
    ) -> Result<Self> {
        Ok(Self {
            agent,
            orchestrator,
            port,
            token: random_token()?,
            csrf: random_token()?,
            jobs: Mutex::new(Jobs::default()),
            backup_jobs: Mutex::new(backup_jobs::Jobs::default()),
            backups,
            network,
        })
    }

    /// The orchestrator's client (the CLI's, on the CLI's agent).
    pub fn orch(&self) -> Orchestrator<'_> {
        Orchestrator::new(&self.agent, self.orchestrator)
    }

    /// The agent, for work that outlives a request (an upgrade job).
    pub fn agent(&self) -> Agent {
        self.agent.clone()
    }

    /// The orchestrator's canister id.
    pub fn orchestrator_id(&self) -> Principal {
        self.orchestrator
    }

    /// The name of the login cookie: with the port, so two consoles on one machine (cookies
    /// are per host, not per port) do not log each other out.
    pub fn cookie_name(&self) -> String {
        format!("keepsake_console_{}", self.port)
    }
}

/// 32 bytes from the OS's random source, hex.
fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).context("cannot read the OS's random source for a token")?;
    Ok(hex::encode(bytes))
}
