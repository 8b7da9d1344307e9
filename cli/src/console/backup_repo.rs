//! The backup repository the console was started with (`--repo`, or KEEPSAKE_REPO): where it
//! is, its password, what the start-up check found, and the list of its backups.
//!
//! The password is read once, at start-up, from `--password-file` or KEEPSAKE_REPO_PASSWORD
//! — never from the browser, and the console never prompts (it runs unattended). It stays in
//! this process's memory: no page, response, log line or error text contains it (rustic_core's
//! and keepsake's errors name the repository, never the password). A missing or wrong
//! password, or a repository that is not there, does not stop the console: it is reported on
//! stderr at start-up and on the Backups page with what to do, and the rest of the console
//! works.

use std::path::Path;

use anyhow::{Result, anyhow};

use crate::error::usage;
use crate::operations::backup::list::{self, Backup};
use crate::operations::backup::repo::{PASSWORD_ENV, Password, RepoSpec};

/// What to do when the repository or its password is wrong: both are fixed only at start-up.
pub const RESTART_ADVICE: &str = "The console reads the repository (--repo or KEEPSAKE_REPO) and its \
     password (--password-file or KEEPSAKE_REPO_PASSWORD) when it starts: fix them and restart \
     `keepsake console`. The rest of the console works meanwhile.";

/// The configured repository.
pub struct BackupRepo {
    /// Where it is.
    pub spec: RepoSpec,
    /// The password, or why there is none (the reason never contains a password).
    password: Result<Password, String>,
    /// What the start-up check found wrong (none: the repository opened with the password).
    pub startup_error: Option<String>,
}

impl BackupRepo {
    /// Reads the password and opens the repository once, so that a wrong password or a missing
    /// repository is said at start-up. Never fails: what is wrong is kept and shown.
    pub async fn start(spec: RepoSpec, password_file: Option<&Path>) -> Self {
        let password = read_password(password_file).map_err(|e| format!("{e:#}"));
        let startup_error = match &password {
            Err(why) => Some(why.clone()),
            Ok(p) => list::list(&spec, p).await.err().map(|e| format!("{e:#}")),
        };
        Self {
            spec,
            password,
            startup_error,
        }
    }

    /// The password, or an error that says how to give one.
    pub fn password(&self) -> Result<&Password> {
        self.password.as_ref().map_err(|why| anyhow!("{why}"))
    }

    /// Every complete backup, newest snapshot first: one listing of the repository.
    pub async fn list(&self) -> Result<Vec<Backup>> {
        list::list(&self.spec, self.password()?).await
    }
}

/// `--password-file`, else KEEPSAKE_REPO_PASSWORD; never a prompt.
fn read_password(file: Option<&Path>) -> Result<Password> {
    if file.is_none() && std::env::var_os(PASSWORD_ENV).is_none() {
        return Err(usage(format!(
            "the backup repository needs its password, which the console reads only at start-up: \
             restart it with --password-file <file> or with {PASSWORD_ENV} set"
        )));
    }
    // With a file or the variable, `resolve` reads that and never prompts.
    Password::resolve(file, false)
}
