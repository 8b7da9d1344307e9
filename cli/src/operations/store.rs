//! The management canister's snapshot interface for one canister, behind a trait so export,
//! import and resume run against an in-memory fake in unit tests and against the IC (through
//! ic-utils' `ManagementCanister`) for real. Also: the retry loop with backoff, for the
//! failures `agent_error` says are worth a retry.

use std::future::Future;
use std::time::Duration;

use crate::operations::agent_error;
use candid::Principal;
use ic_agent::{Agent, AgentError};
use ic_management_canister_types::{
    DeleteCanisterSnapshotArgs, LoadCanisterSnapshotArgs, ReadCanisterSnapshotDataArgs,
    ReadCanisterSnapshotMetadataArgs, TakeCanisterSnapshotArgs, UploadCanisterSnapshotDataArgs,
    UploadCanisterSnapshotMetadataArgs,
};
use ic_utils::interfaces::ManagementCanister;
use ic_utils::interfaces::management_canister::{
    ReadCanisterSnapshotMetadataResult, Snapshot, SnapshotDataKind, SnapshotDataOffset,
};

/// The metadata of a snapshot exactly as the management canister returns it; `metadata.json`
/// is its serde_json form, like dfx and icp-cli write it.
pub type Metadata = ReadCanisterSnapshotMetadataResult;

/// A failed management call, classified for the retry loop.
#[derive(Debug)]
pub struct CallError {
    /// Worth retrying ([`agent_error::is_transient`]: a transient reject code, HTTP 429/5xx, a
    /// lost connection).
    pub transient: bool,
    /// The failure, with a message that says how to fix it where we know how.
    pub error: anyhow::Error,
}

impl CallError {
    /// A failure that a retry will not fix (the fake store's, in tests).
    #[cfg(test)]
    pub fn permanent(error: anyhow::Error) -> Self {
        Self {
            transient: false,
            error,
        }
    }
}

/// Adds what to do to the IC's "not a controller" rejection (IC0512), which is the most common
/// failure.
fn classify(
    e: AgentError,
    canister: Principal,
    caller: Option<Principal>,
    what: &str,
) -> CallError {
    let transient = agent_error::is_transient(&e);
    let not_controller = agent_error::is_not_controller(&e);
    let error = agent_error::describe(e);
    let error = if not_controller {
        let who = caller
            .map(|c| c.to_text())
            .unwrap_or_else(|| "your identity".into());
        error.context(format!(
            "{who} is not a controller of canister {canister}, and {what} reads or writes the snapshot \
             straight from the management canister. Add it as a controller \
             (`dfx canister update-settings {canister} --add-controller {who}`) or use an identity that controls it; \
             to only download snapshots (export, backup), a controller can instead make it a snapshot viewer \
             (`keepsake module set <module> --snapshot-viewers {who}`)"
        ))
    } else {
        error.context(format!("{what} on canister {canister} failed"))
    };
    CallError { transient, error }
}

/// The snapshot methods export and import need, for one canister.
#[allow(async_fn_in_trait)]
pub trait SnapshotStore {
    /// The canister.
    fn canister(&self) -> Principal;
    /// `list_canister_snapshots`.
    async fn list(&self) -> Result<Vec<Snapshot>, CallError>;
    /// `read_canister_snapshot_metadata`.
    async fn read_metadata(&self, snapshot: &[u8]) -> Result<Metadata, CallError>;
    /// `read_canister_snapshot_data`.
    async fn read_data(
        &self,
        snapshot: &[u8],
        kind: SnapshotDataKind,
    ) -> Result<Vec<u8>, CallError>;
    /// `upload_canister_snapshot_metadata`; returns the new snapshot's id.
    async fn upload_metadata(
        &self,
        args: UploadCanisterSnapshotMetadataArgs,
    ) -> Result<Vec<u8>, CallError>;
    /// `upload_canister_snapshot_data`.
    async fn upload_data(
        &self,
        snapshot: &[u8],
        kind: SnapshotDataOffset,
        chunk: Vec<u8>,
    ) -> Result<(), CallError>;
    /// `take_canister_snapshot` (no replace).
    async fn take(&self) -> Result<Snapshot, CallError>;
    /// `stop_canister`.
    async fn stop(&self) -> Result<(), CallError>;
    /// `start_canister`.
    async fn start(&self) -> Result<(), CallError>;
    /// `load_canister_snapshot`.
    async fn load(&self, snapshot: &[u8]) -> Result<(), CallError>;
    /// `delete_canister_snapshot`.
    async fn delete(&self, snapshot: &[u8]) -> Result<(), CallError>;
}

/// The real thing: ic-utils' `ManagementCanister` on an agent.
pub struct IcStore<'a> {
    mgmt: ManagementCanister<'a>,
    canister: Principal,
    caller: Option<Principal>,
}

impl<'a> IcStore<'a> {
    /// Snapshot calls on `canister` as the agent's identity.
    pub fn new(agent: &'a Agent, canister: Principal) -> Self {
        Self {
            mgmt: ManagementCanister::create(agent),
            canister,
            caller: agent.get_principal().ok(),
        }
    }

    fn err(&self, what: &str) -> impl Fn(AgentError) -> CallError + '_ {
        let what = what.to_string();
        move |e| classify(e, self.canister, self.caller, &what)
    }
}

impl SnapshotStore for IcStore<'_> {
    fn canister(&self) -> Principal {
        self.canister
    }

    async fn list(&self) -> Result<Vec<Snapshot>, CallError> {
        use ic_utils::call::AsyncCall;
        let (list,) = self
            .mgmt
            .list_canister_snapshots(&self.canister)
            .call_and_wait()
            .await
            .map_err(self.err("listing snapshots"))?;
        Ok(list)
    }

    async fn read_metadata(&self, snapshot: &[u8]) -> Result<Metadata, CallError> {
        use ic_utils::call::AsyncCall;
        let args = ReadCanisterSnapshotMetadataArgs {
            canister_id: self.canister,
            snapshot_id: snapshot.to_vec(),
        };
        let (m,) = self
            .mgmt
            .read_canister_snapshot_metadata(&args)
            .call_and_wait()
            .await
            .map_err(self.err("reading snapshot metadata"))?;
        Ok(m)
    }

    async fn read_data(
        &self,
        snapshot: &[u8],
        kind: SnapshotDataKind,
    ) -> Result<Vec<u8>, CallError> {
        use ic_utils::call::AsyncCall;
        let args = ReadCanisterSnapshotDataArgs {
            canister_id: self.canister,
            snapshot_id: snapshot.to_vec(),
            kind,
        };
        let (r,) = self
            .mgmt
            .read_canister_snapshot_data(&args)
            .call_and_wait()
            .await
            .map_err(self.err("reading snapshot data"))?;
        Ok(r.chunk)
    }

    async fn upload_metadata(
        &self,
        args: UploadCanisterSnapshotMetadataArgs,
    ) -> Result<Vec<u8>, CallError> {
        use ic_utils::call::AsyncCall;
        let (r,) = self
            .mgmt
            .upload_canister_snapshot_metadata(&args)
            .call_and_wait()
            .await
            .map_err(self.err("uploading snapshot metadata"))?;
        Ok(r.snapshot_id)
    }

    async fn upload_data(
        &self,
        snapshot: &[u8],
        kind: SnapshotDataOffset,
        chunk: Vec<u8>,
    ) -> Result<(), CallError> {
        use ic_utils::call::AsyncCall;
        let args = UploadCanisterSnapshotDataArgs {
            canister_id: self.canister,
            snapshot_id: snapshot.to_vec(),
            kind,
            chunk,
        };
        self.mgmt
            .upload_canister_snapshot_data(&args)
            .call_and_wait()
            .await
            .map_err(self.err("uploading snapshot data"))
    }

    async fn take(&self) -> Result<Snapshot, CallError> {
        use ic_utils::call::AsyncCall;
        let args = TakeCanisterSnapshotArgs {
            canister_id: self.canister,
            replace_snapshot: None,
            uninstall_code: None,
            sender_canister_version: None,
        };
        let (s,) = self
            .mgmt
            .take_canister_snapshot(&args)
            .call_and_wait()
            .await
            .map_err(self.err("taking a snapshot"))?;
        Ok(s)
    }

    async fn stop(&self) -> Result<(), CallError> {
        use ic_utils::call::AsyncCall;
        self.mgmt
            .stop_canister(&self.canister)
            .call_and_wait()
            .await
            .map_err(self.err("stopping the canister"))
    }

    async fn start(&self) -> Result<(), CallError> {
        use ic_utils::call::AsyncCall;
        self.mgmt
            .start_canister(&self.canister)
            .call_and_wait()
            .await
            .map_err(self.err("starting the canister"))
    }

    async fn load(&self, snapshot: &[u8]) -> Result<(), CallError> {
        use ic_utils::call::AsyncCall;
        let args = LoadCanisterSnapshotArgs {
            canister_id: self.canister,
            snapshot_id: snapshot.to_vec(),
            sender_canister_version: None,
        };
        self.mgmt
            .load_canister_snapshot(&args)
            .call_and_wait()
            .await
            .map_err(self.err("loading the snapshot"))
    }

    async fn delete(&self, snapshot: &[u8]) -> Result<(), CallError> {
        use ic_utils::call::AsyncCall;
        let args = DeleteCanisterSnapshotArgs {
            canister_id: self.canister,
            snapshot_id: snapshot.to_vec(),
        };
        self.mgmt
            .delete_canister_snapshot(&args)
            .call_and_wait()
            .await
            .map_err(self.err("deleting the snapshot"))
    }
}

/// How often and how patiently to retry transient failures.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Wait before the second attempt; doubles each time.
    pub first_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

/// Runs `op` until it succeeds, fails permanently, or runs out of attempts.
pub async fn retry<T, F, Fut>(policy: RetryPolicy, mut op: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let mut wait = policy.first_backoff;
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if e.transient && attempt < policy.attempts => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(policy.max_backoff);
                attempt += 1;
            }
            Err(e) if e.transient => {
                return Err(e.error.context(format!(
                    "gave up after {attempt} attempts; the network or replica is struggling, run the same command again to resume"
                )));
            }
            Err(e) => return Err(e.error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::anyhow;
    use std::cell::Cell;

    fn fast() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_permanent_ones_are_not() {
        let calls = Cell::new(0);
        let r = retry(fast(), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(CallError {
                        transient: true,
                        error: anyhow!("busy"),
                    })
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 3);
        calls.set(0);
        let r: anyhow::Result<()> = retry(fast(), || {
            calls.set(calls.get() + 1);
            async { Err(CallError::permanent(anyhow!("not a controller"))) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.get(), 1);
        let r: anyhow::Result<()> = retry(fast(), || async {
            Err(CallError {
                transient: true,
                error: anyhow!("busy"),
            })
        })
        .await;
        assert!(format!("{:#}", r.unwrap_err()).contains("gave up after 3 attempts"));
    }
}
