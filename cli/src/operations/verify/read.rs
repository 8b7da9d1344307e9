//! Steps 2–4 of `verify`: read keepsake.json and metadata.json, and say what nothing vouches
//! for when there is no manifest.

use std::path::Path;

use super::Problem;
use super::findings::Findings;
use crate::operations::layout::{self, Content};
use crate::operations::manifest::{self, Manifest};
use crate::operations::store::Metadata;

/// Step 2: the manifest, if there is one (an unreadable one is a problem).
pub fn read_manifest(dir: &Path, findings: &mut Findings) -> Option<Manifest> {
    manifest::read(dir).unwrap_or_else(|e| {
        findings.push(Problem::InvalidManifest {
            error: format!("{e:#}"),
        });
        None
    })
}

/// Step 3: the metadata, parsed from the bytes hashed in step 1; without it nothing else can
/// be checked.
pub fn parse_metadata(bytes: Option<&[u8]>, findings: &mut Findings) -> Option<Metadata> {
    match bytes {
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|e| {
                findings.push(Problem::InvalidMetadata {
                    error: e.to_string(),
                })
            })
            .ok(),
        // Not a regular file, or unreadable: reported in step 1.
        None if findings.has_problem_with(layout::METADATA) => None,
        None => {
            findings.push(Problem::Missing {
                path: layout::METADATA.into(),
            });
            None
        }
    }
}

/// Step 4: without a manifest nothing vouches for the files' contents, so the folder is not OK
/// whatever else holds; the problem names what import would load unchecked.
pub fn no_manifest(meta: &Metadata, findings: &mut Findings) {
    let unchecked = std::iter::once(layout::METADATA.to_string())
        .chain(
            layout::expected_files(meta)
                .into_iter()
                .filter(|e| matches!(e.content, Content::Region(_)) && !e.optional)
                .map(|e| e.path),
        )
        .collect();
    findings.push(Problem::NoManifest { unchecked });
}
