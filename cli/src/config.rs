//! Where to connect and which canister a name means, read the way dfx reads them.
//!
//! Pure functions over explicit paths (the project folder, dfx's config folder) so they are
//! unit-tested with temporary folders; `context.rs` passes the real ones.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use candid::Principal;
use serde_json::Value;

use crate::error::usage;

/// The mainnet API endpoint (what dfx calls `ic`).
pub const MAINNET_URL: &str = "https://icp-api.io";
/// Where dfx's local replica listens unless configured otherwise.
pub const DEFAULT_LOCAL_BIND: &str = "127.0.0.1:4943";

/// A network to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// The name used for canister_ids.json lookups (`local`, `ic`, a dfx.json network), or
    /// none for a bare URL.
    pub name: Option<String>,
    /// The endpoint.
    pub url: String,
    /// Mainnet's root key is built into the agent; every other network's is fetched.
    pub is_mainnet: bool,
}

/// The project folder: the nearest ancestor of `start` holding dfx.json or icp.yaml, else `start`.
pub fn project_dir(start: &Path) -> PathBuf {
    start
        .ancestors()
        .find(|d| d.join("dfx.json").is_file() || d.join("icp.yaml").is_file())
        .unwrap_or(start)
        .to_path_buf()
}

fn read_json(path: &Path) -> Result<Option<Value>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!("{} is not valid JSON; fix or remove it", path.display())
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The network config dfx would use for `name`: the project's dfx.json first, then dfx's
/// user-wide networks.json.
fn dfx_network_config(
    name: &str,
    project: &Path,
    dfx_config: Option<&Path>,
) -> Result<Option<Value>> {
    if let Some(v) = read_json(&project.join("dfx.json"))?
        && let Some(n) = v.get("networks").and_then(|n| n.get(name))
    {
        return Ok(Some(n.clone()));
    }
    if let Some(dir) = dfx_config
        && let Some(v) = read_json(&dir.join("networks.json"))?
        && let Some(n) = v.get(name)
    {
        return Ok(Some(n.clone()));
    }
    Ok(None)
}

fn is_mainnet_url(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    ["icp-api.io", "ic0.app", "icp0.io"]
        .iter()
        .any(|m| host == *m || host.ends_with(&format!(".{m}")))
}

/// Resolves `--network`: `local`, `ic`, a URL, or another network named in dfx.json.
pub fn resolve_network(arg: &str, project: &Path, dfx_config: Option<&Path>) -> Result<Network> {
    if arg.starts_with("http://") || arg.starts_with("https://") {
        return Ok(Network {
            name: None,
            url: arg.trim_end_matches('/').to_string() + "/",
            is_mainnet: is_mainnet_url(arg),
        });
    }
    if arg == "ic" {
        return Ok(Network {
            name: Some("ic".into()),
            url: MAINNET_URL.into(),
            is_mainnet: true,
        });
    }
    let config = dfx_network_config(arg, project, dfx_config)?;
    let url = match (&config, arg) {
        (Some(c), _) => {
            if let Some(bind) = c.get("bind").and_then(Value::as_str) {
                format!("http://{bind}")
            } else if let Some(p) = c
                .get("providers")
                .and_then(Value::as_array)
                .and_then(|p| p.first())
                .and_then(Value::as_str)
            {
                p.to_string()
            } else if arg == "local" {
                format!("http://{DEFAULT_LOCAL_BIND}")
            } else {
                bail!(usage(format!(
                    "network {arg:?} in dfx.json has neither `bind` nor `providers`; give --network a URL instead"
                )))
            }
        }
        (None, "local") => format!("http://{DEFAULT_LOCAL_BIND}"),
        (None, _) => {
            return Err(usage(format!(
                "unknown network {arg:?}: use `local`, `ic`, a URL (http://…), or a network defined in dfx.json"
            )));
        }
    };
    Ok(Network {
        name: Some(arg.to_string()),
        is_mainnet: is_mainnet_url(&url),
        url: url.trim_end_matches('/').to_string() + "/",
    })
}

/// Resolves a canister given as a principal or as a name in canister_ids.json, like dfx:
/// `.dfx/<network>/canister_ids.json` for local networks, `canister_ids.json` (the one you
/// commit) for `ic` and as a fallback.
pub fn resolve_canister(arg: &str, network: &Network, project: &Path) -> Result<Principal> {
    if let Ok(p) = Principal::from_text(arg) {
        return Ok(p);
    }
    let Some(name) = &network.name else {
        return Err(usage(format!(
            "{arg:?} is not a principal, and names are looked up per network in canister_ids.json; \
             with a URL network give the canister id instead"
        )));
    };
    let mut tried = Vec::new();
    let mut files = Vec::new();
    if name != "ic" {
        files.push(project.join(".dfx").join(name).join("canister_ids.json"));
    }
    files.push(project.join("canister_ids.json"));
    for file in files {
        tried.push(file.display().to_string());
        if let Some(v) = read_json(&file)?
            && let Some(id) = v.get(arg).and_then(|c| c.get(name)).and_then(Value::as_str)
        {
            return Principal::from_text(id).with_context(|| {
                format!(
                    "{} gives {arg:?} on {name} the id {id:?}, which is not a principal",
                    file.display()
                )
            });
        }
    }
    Err(usage(format!(
        "no canister named {arg:?} on network {name} (looked in {}); give its principal instead",
        tried.join(", ")
    )))
}

/// Parses a snapshot id given in hex (as `snapshot list` prints it).
pub fn parse_snapshot_id(arg: &str) -> Result<Vec<u8>> {
    let hex_text = arg.trim().trim_start_matches("0x");
    hex::decode(hex_text).map_err(|e| {
        usage(format!(
            "snapshot id {arg:?} is not hex ({e}); copy it from `keepsake snapshot list`"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn local_is_dfx_default_port_unless_dfx_json_or_networks_json_say_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        let dfx = dir.path().join("dfx");
        std::fs::create_dir_all(&project).unwrap();
        let n = resolve_network("local", &project, Some(&dfx)).unwrap();
        assert_eq!(n.url, "http://127.0.0.1:4943/");
        assert!(!n.is_mainnet);
        write(
            &dfx.join("networks.json"),
            r#"{"local":{"bind":"127.0.0.1:8080"}}"#,
        );
        assert_eq!(
            resolve_network("local", &project, Some(&dfx)).unwrap().url,
            "http://127.0.0.1:8080/"
        );
        write(
            &project.join("dfx.json"),
            r#"{"networks":{"local":{"bind":"localhost:9999"},"staging":{"providers":["https://staging.example"]}}}"#,
        );
        assert_eq!(
            resolve_network("local", &project, Some(&dfx)).unwrap().url,
            "http://localhost:9999/"
        );
        assert_eq!(
            resolve_network("staging", &project, Some(&dfx))
                .unwrap()
                .url,
            "https://staging.example/"
        );
    }

    #[test]
    fn ic_and_mainnet_urls_are_mainnet_and_other_urls_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let ic = resolve_network("ic", dir.path(), None).unwrap();
        assert!(ic.is_mainnet);
        assert!(
            resolve_network("https://icp0.io", dir.path(), None)
                .unwrap()
                .is_mainnet
        );
        let url = resolve_network("http://127.0.0.1:1234", dir.path(), None).unwrap();
        assert_eq!(url.name, None);
        assert!(!url.is_mainnet);
        assert!(resolve_network("nowhere", dir.path(), None).is_err());
    }

    #[test]
    fn canister_names_are_looked_up_per_network_like_dfx() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path();
        write(
            &project.join(".dfx/local/canister_ids.json"),
            r#"{"orchestrator":{"local":"rrkah-fqaaa-aaaaa-aaaaq-cai"}}"#,
        );
        write(
            &project.join("canister_ids.json"),
            r#"{"orchestrator":{"ic":"ryjl3-tyaaa-aaaaa-aaaba-cai"}}"#,
        );
        let local = resolve_network("local", project, None).unwrap();
        let ic = resolve_network("ic", project, None).unwrap();
        assert_eq!(
            resolve_canister("orchestrator", &local, project)
                .unwrap()
                .to_text(),
            "rrkah-fqaaa-aaaaa-aaaaq-cai"
        );
        assert_eq!(
            resolve_canister("orchestrator", &ic, project)
                .unwrap()
                .to_text(),
            "ryjl3-tyaaa-aaaaa-aaaba-cai"
        );
        assert_eq!(
            resolve_canister("aaaaa-aa", &ic, project).unwrap(),
            Principal::management_canister()
        );
        let err = resolve_canister("missing", &local, project)
            .unwrap_err()
            .to_string();
        assert!(err.contains("give its principal"), "{err}");
    }

    #[test]
    fn snapshot_ids_are_hex() {
        assert_eq!(parse_snapshot_id("0x0a0b").unwrap(), vec![10, 11]);
        assert!(parse_snapshot_id("xyz").is_err());
    }
}
