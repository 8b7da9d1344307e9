//! `backup check`: rustic_core's check of the repository (index, packs' headers and sizes,
//! every snapshot's trees; with `read_data` every pack downloaded, decrypted and hashed), and
//! what it found, with the damaged pack files named.

use std::collections::BTreeSet;

use anyhow::Result;
use rustic_core::repofile::PackId;
use rustic_core::{CheckOptions, Open, Repository};
use serde::Serialize;

use super::repo::rustic_error;

/// One problem the check found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// "error" (the repository is damaged) or "warning" (odd, integrity not affected).
    pub level: &'static str,
    /// rustic_core's description.
    pub message: String,
    /// The pack files (full ids) it is about.
    pub packs: Vec<String>,
}

/// What `backup check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The repository.
    pub repo: String,
    /// Whether every pack was read and verified (`--read-data`).
    pub read_data: bool,
    /// No errors (warnings allowed).
    pub ok: bool,
    /// Every finding.
    pub findings: Vec<Finding>,
    /// Packs named by an error, with their file in the repository (`data/<2 hex>/<id>`).
    pub damaged_packs: Vec<DamagedPack>,
}

/// A pack the check found damaged.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct DamagedPack {
    /// Its id.
    pub id: String,
    /// Its file, relative to the repository.
    pub file: String,
}

/// Checks the repository.
pub fn check<S: Open>(repo: &Repository<S>, name: &str, read_data: bool) -> Result<CheckReport> {
    // Every pack's full id: a finding names a pack when its id is in the finding (rustic_core's
    // findings are not public types; their debug form holds full ids, their message short ones).
    let packs: BTreeSet<String> = repo
        .list::<PackId>()
        .map_err(|e| rustic_error(*e))?
        .map(|id| id.to_hex().as_str().to_string())
        .collect();
    let results = repo
        .check(CheckOptions::default().read_data(read_data))
        .map_err(|e| rustic_error(*e))?;
    let mut findings = Vec::new();
    for (level, problem) in &results.0 {
        let debug = format!("{problem:?}");
        let named: Vec<String> = packs
            .iter()
            .filter(|p| debug.contains(p.as_str()))
            .cloned()
            .collect();
        findings.push(Finding {
            // CheckErrorLevel is not exported either: Error or Warn.
            level: if format!("{level:?}") == "Warn" {
                "warning"
            } else {
                "error"
            },
            message: problem.to_string(),
            packs: named,
        });
    }
    let damaged: BTreeSet<DamagedPack> = findings
        .iter()
        .filter(|f| f.level == "error")
        .flat_map(|f| f.packs.iter())
        .map(|id| DamagedPack {
            file: format!("data/{}/{id}", &id[..2]),
            id: id.clone(),
        })
        .collect();
    Ok(CheckReport {
        repo: name.to_string(),
        read_data,
        // rustic_core's own verdict (errors, not warnings).
        ok: results.is_ok().is_ok(),
        findings,
        damaged_packs: damaged.into_iter().collect(),
    })
}
