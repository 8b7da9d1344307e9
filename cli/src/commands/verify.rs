//! `keepsake verify <dir>`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::context::Ctx;
use crate::error::Reported;
use crate::operations::verify::{VerifyReport, verify_dir};
use crate::output;

/// Check an export folder without touching the network: every file re-hashed, sizes checked
/// against metadata.json and keepsake.json, each problem named. Exit code 1 if anything is wrong,
/// and for a folder without keepsake.json (a dfx or icp-cli download), whose contents cannot be
/// checked. Symbolic links, FIFOs and devices in the folder are refused, never opened.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The export folder.
    pub dir: PathBuf,
}

/// Prints a report (text form).
pub fn print_report(r: &VerifyReport) {
    for n in &r.notes {
        output::note(&format!("note: {n}"));
    }
    if r.ok {
        let total: u64 = r.files.iter().map(|f| f.size).sum();
        output::println(&format!(
            "OK: {} ({} files, {}{})",
            r.dir.display(),
            r.files.len(),
            output::bytes(total),
            match (&r.canister_id, &r.snapshot_id) {
                (Some(c), Some(s)) => format!(", snapshot {s} of {c}"),
                _ => String::new(),
            }
        ));
    } else {
        output::println(&format!(
            "{} has {} problem(s):",
            r.dir.display(),
            r.problems.len()
        ));
        for p in &r.problems {
            output::println(&format!("  {p}"));
        }
    }
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &VerifyArgs) -> Result<()> {
    if !args.dir.is_dir() {
        return Err(crate::error::usage(format!(
            "{} is not a folder",
            args.dir.display()
        )));
    }
    let report = verify_dir(&args.dir);
    if ctx.json() {
        output::json(&report)?;
    } else {
        print_report(&report);
    }
    if report.ok {
        Ok(())
    } else if report.ok_but_for_the_manifest() {
        Err(Reported(format!(
            "cannot check the contents of {}: it has no keepsake.json (sizes and chunk hashes are \
             fine). `keepsake import --no-manifest` accepts it if you trust where it came from",
            args.dir.display()
        ))
        .into())
    } else {
        Err(Reported(format!(
            "{} did not verify ({} problem(s)); re-export it, or restore the damaged files from another copy",
            args.dir.display(),
            report.problems.len()
        ))
        .into())
    }
}
