//! Staging a wasm in the orchestrator: chunks of at most 1,900,000 bytes appended in order with
//! `stage_wasm_chunk`, resuming from what `list_staged_wasms` says is already there (a lost
//! reply or an interrupted run costs nothing), then `commit_staged_wasm` checks the sha256.

use anyhow::{Result, bail};
use indicatif::ProgressBar;
use orchestrator_api::{StageWasmChunkArgs, StagedWasmInfo};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::orchestrator::Orchestrator;
use crate::operations::orchestrator::Answered;

/// Bytes per `stage_wasm_chunk` (an ingress message carries at most 2 MiB with its envelope).
pub const STAGE_CHUNK: usize = 1_900_000;

/// Where staging starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageStart {
    /// Already staged and committed: nothing to send.
    Committed,
    /// Append from this offset.
    At(u64),
}

/// Decides where to start from the orchestrator's staging area.
pub fn plan(staged: &[StagedWasmInfo], hash: &[u8], size: u64) -> StageStart {
    match staged.iter().find(|s| s.wasm_hash == hash) {
        Some(s) if s.committed => StageStart::Committed,
        Some(s) if s.size <= size => StageStart::At(s.size),
        _ => StageStart::At(0),
    }
}

/// What staging did.
#[derive(Debug, Clone, Serialize)]
pub struct StageSummary {
    /// sha256 of the wasm, hex.
    pub wasm_sha256: String,
    /// Its size.
    pub size: u64,
    /// Bytes already staged by an earlier run.
    pub resumed_from: u64,
    /// Bytes sent now.
    pub sent: u64,
}

/// Stages and commits `wasm`; returns its hash and what was sent.
pub async fn stage(
    orch: &Orchestrator<'_>,
    wasm: &[u8],
    progress: &ProgressBar,
) -> Result<(Vec<u8>, StageSummary)> {
    let hash = Sha256::digest(wasm).to_vec();
    let size = wasm.len() as u64;
    progress.set_length(size);
    let start = plan(&orch.list_staged_wasms().await.answered()?, &hash, size);
    let mut summary = StageSummary {
        wasm_sha256: hex::encode(&hash),
        size,
        resumed_from: 0,
        sent: 0,
    };
    let mut offset = match start {
        StageStart::Committed => {
            summary.resumed_from = size;
            progress.finish_and_clear();
            return Ok((hash, summary));
        }
        StageStart::At(o) => o,
    };
    summary.resumed_from = offset;
    progress.set_position(offset);
    let mut recoveries = 0;
    while offset < size {
        let end = (offset as usize + STAGE_CHUNK).min(wasm.len());
        let args = StageWasmChunkArgs {
            wasm_hash: hash.clone(),
            offset,
            chunk: wasm[offset as usize..end].to_vec(),
        };
        match orch.stage_wasm_chunk(args).await.answered() {
            Ok(info) => {
                summary.sent += info.size - offset;
                offset = info.size;
                progress.set_position(offset);
            }
            // A lost reply or a concurrent stager: ask where it stands and go on from there.
            Err(e) if recoveries < 3 => {
                recoveries += 1;
                match plan(&orch.list_staged_wasms().await.answered()?, &hash, size) {
                    StageStart::At(o) if o != offset => offset = o,
                    StageStart::Committed => break,
                    _ => return Err(e.context("staging the wasm failed")),
                }
            }
            Err(e) => return Err(e.context("staging the wasm failed")),
        }
    }
    if !matches!(
        plan(&orch.list_staged_wasms().await.answered()?, &hash, size),
        StageStart::Committed
    ) {
        let info = orch.commit_staged_wasm(&hash).await.answered()?;
        if !info.committed {
            bail!("the orchestrator did not commit the staged wasm");
        }
    }
    progress.finish_and_clear();
    Ok((hash, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(hash: &[u8], size: u64, committed: bool) -> StagedWasmInfo {
        StagedWasmInfo {
            wasm_hash: hash.to_vec(),
            size,
            committed,
            updated_at: 0,
            expires_at: 0,
        }
    }

    #[test]
    fn staging_resumes_from_what_the_orchestrator_already_holds() {
        let h = [1u8; 32];
        assert_eq!(plan(&[], &h, 10), StageStart::At(0));
        assert_eq!(
            plan(&[staged(&[2; 32], 5, false)], &h, 10),
            StageStart::At(0)
        );
        assert_eq!(plan(&[staged(&h, 4, false)], &h, 10), StageStart::At(4));
        assert_eq!(plan(&[staged(&h, 10, true)], &h, 10), StageStart::Committed);
        assert_eq!(plan(&[staged(&h, 99, false)], &h, 10), StageStart::At(0));
    }
}
