//! Where to connect and which canister a name means, read the way dfx and icp-cli read them.
//!
//! Pure functions over explicit paths (the project folder, dfx's config folder) so they are
//! unit-tested with temporary folders; `context.rs` passes the real ones.
//!
//! Precedence for a network name (the README's table): the project's dfx.json, then the
//! project's icp.yaml (icp-cli 1.5), then dfx's user-wide networks.json, then the implicit
//! `local`: icp-cli's (127.0.0.1:8000, or the port of the network it is running) in a project
//! with icp.yaml and no dfx.json, dfx's (127.0.0.1:4943) otherwise. dfx.json comes first
//! because keepsake read it before it read icp.yaml: a project holding both keeps the address
//! it had.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candid::Principal;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{echo, usage};

/// The mainnet API endpoint (what dfx calls `ic`).
pub const MAINNET_URL: &str = "https://icp-api.io";
/// Where dfx's local replica listens unless configured otherwise.
pub const DEFAULT_LOCAL_BIND: &str = "127.0.0.1:4943";
/// Where icp-cli's managed networks listen unless icp.yaml says otherwise (`gateway` defaults).
pub const ICP_DEFAULT_BIND: &str = "127.0.0.1";
/// icp-cli's default gateway port.
pub const ICP_DEFAULT_PORT: u16 = 8000;

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

/// The part of icp.yaml keepsake reads; everything else (canisters, recipes, …) is ignored.
#[derive(Debug, Default, Deserialize)]
struct IcpYaml {
    #[serde(default)]
    networks: Vec<IcpNetworkEntry>,
    #[serde(default)]
    environments: Vec<IcpEnvironment>,
}

/// A `networks:` entry: inline, or the path of a network yaml file (relative to the project).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IcpNetworkEntry {
    Inline(IcpNetwork),
    File(String),
}

/// One icp-cli network: `mode: managed` (icp-cli runs it; `gateway.bind`/`gateway.port`) or
/// `mode: connected` (`url`, or `api-url` where the API and HTTP gateway differ).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct IcpNetwork {
    name: String,
    mode: String,
    gateway: Option<IcpGateway>,
    url: Option<String>,
    api_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct IcpGateway {
    bind: Option<String>,
    port: Option<u16>,
}

/// An `environments:` entry: a name for a network (plus canister settings keepsake ignores).
#[derive(Debug, Deserialize)]
struct IcpEnvironment {
    name: String,
    network: String,
}

fn read_icp_yaml(project: &Path) -> Result<Option<IcpYaml>> {
    let path = project.join("icp.yaml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    serde_saphyr::from_str(&text).map(Some).with_context(|| {
        format!(
            "{} is not valid icp.yaml; fix it, or give --network a URL",
            path.display()
        )
    })
}

/// icp-cli's definition of network `name` in the project's icp.yaml, if any.
fn icp_network(yaml: &IcpYaml, name: &str, project: &Path) -> Result<Option<IcpNetwork>> {
    for entry in &yaml.networks {
        let network = match entry {
            IcpNetworkEntry::Inline(n) => n.clone(),
            IcpNetworkEntry::File(rel) => {
                let path = project.join(rel);
                let text = std::fs::read_to_string(&path).with_context(|| {
                    format!("icp.yaml names the network file {rel}, which cannot be read")
                })?;
                serde_saphyr::from_str(&text).with_context(|| {
                    format!(
                        "{} is not a valid icp-cli network definition",
                        path.display()
                    )
                })?
            }
        };
        if network.name == name {
            return Ok(Some(network));
        }
    }
    Ok(None)
}

/// The gateway port of managed network `name` while icp-cli runs it: icp-cli 1.5 writes
/// `.icp/cache/networks/<name>/descriptor.json` with `gateway.port` on start (the only place a
/// random port, `port: 0`, can be learned) and removes it on stop.
fn icp_running_port(project: &Path, name: &str) -> Option<u16> {
    let path = project
        .join(".icp/cache/networks")
        .join(name)
        .join("descriptor.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v.get("gateway")?
        .get("port")?
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
}

/// The URL of an icp-cli network.
fn icp_network_url(n: &IcpNetwork, project: &Path) -> Result<String> {
    match n.mode.as_str() {
        "connected" => n.api_url.clone().or(n.url.clone()).ok_or_else(|| {
            usage(format!(
                "network {:?} in icp.yaml is connected but has no `url`; add one or give --network a URL",
                n.name
            ))
        }),
        "managed" => {
            let gateway = n.gateway.clone();
            let bind = gateway
                .as_ref()
                .and_then(|g| g.bind.clone())
                .unwrap_or_else(|| ICP_DEFAULT_BIND.into());
            // A wildcard bind listens on every interface; connect through loopback.
            let host = match bind.as_str() {
                "0.0.0.0" | "::" | "[::]" => ICP_DEFAULT_BIND.to_string(),
                _ => bind,
            };
            let configured = gateway.and_then(|g| g.port).unwrap_or(ICP_DEFAULT_PORT);
            let port = match icp_running_port(project, &n.name) {
                Some(p) => p,
                None if configured == 0 => {
                    return Err(usage(format!(
                        "network {:?} in icp.yaml has a random port (`port: 0`) and is not running \
                         (no .icp/cache/networks/{}/descriptor.json); start it with \
                         `icp network start {}`, or give --network its URL",
                        n.name, n.name, n.name
                    )));
                }
                None => configured,
            };
            Ok(format!("http://{host}:{port}"))
        }
        other => Err(usage(format!(
            "network {:?} in icp.yaml has mode {other:?}; keepsake knows `managed` and `connected`",
            n.name
        ))),
    }
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

/// The URL a dfx network config gives (`bind`, else the first of `providers`).
fn dfx_network_url(c: &Value) -> Option<String> {
    if let Some(bind) = c.get("bind").and_then(Value::as_str) {
        return Some(format!("http://{bind}"));
    }
    c.get("providers")
        .and_then(Value::as_array)
        .and_then(|p| p.first())
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Resolves `--network`: `local`, `ic`, a URL, or another network named in dfx.json or icp.yaml
/// (or an icp.yaml environment, which names a network). The URL is checked whatever its source,
/// because the agent panics on one it cannot parse.
pub fn resolve_network(arg: &str, project: &Path, dfx_config: Option<&Path>) -> Result<Network> {
    let network = resolve_network_url(arg, project, dfx_config)?;
    if let Err(reason) = check_url(&network.url) {
        let shown = network.url.trim_end_matches('/');
        return Err(if network.name.is_none() {
            usage(format!(
                "--network (or KEEPSAKE_NETWORK) {} is not a usable URL: {reason}. Give \
                 http://<host>:<port> (e.g. http://127.0.0.1:4943), `local`, `ic`, or a network \
                 named in dfx.json or icp.yaml",
                echo(shown)
            ))
        } else {
            usage(format!(
                "network {} has the URL {}, which is not usable: {reason}. Fix it where the \
                 network is defined (dfx.json, icp.yaml or ~/.config/dfx/networks.json)",
                echo(arg),
                echo(shown)
            ))
        });
    }
    Ok(network)
}

/// Why the agent could not use `url`, if it could not: it must parse, be http or https and
/// name a host (a port, if given, is at most 65535).
fn check_url(url: &str) -> std::result::Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme is {:?}; use http:// or https://",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("it names no host".into());
    }
    Ok(())
}

fn resolve_network_url(arg: &str, project: &Path, dfx_config: Option<&Path>) -> Result<Network> {
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
    let named = |url: String| Network {
        name: Some(arg.to_string()),
        is_mainnet: is_mainnet_url(&url),
        url: url.trim_end_matches('/').to_string() + "/",
    };
    let dfx_json = read_json(&project.join("dfx.json"))?;
    // 1. dfx.json.
    if let Some(c) = dfx_json
        .as_ref()
        .and_then(|v| v.get("networks"))
        .and_then(|n| n.get(arg))
    {
        return match dfx_network_url(c) {
            Some(url) => Ok(named(url)),
            None if arg == "local" => Ok(named(format!("http://{DEFAULT_LOCAL_BIND}"))),
            None => Err(usage(format!(
                "network {arg:?} in dfx.json has neither `bind` nor `providers`; give --network a URL instead"
            ))),
        };
    }
    // 2. icp.yaml: a network, or an environment naming one.
    let icp = read_icp_yaml(project)?;
    if let Some(yaml) = &icp {
        if let Some(n) = icp_network(yaml, arg, project)? {
            return Ok(named(icp_network_url(&n, project)?));
        }
        if let Some(env) = yaml
            .environments
            .iter()
            .find(|e| e.name == arg && e.network != arg)
        {
            if env.network == "ic" {
                return Ok(Network {
                    name: Some(arg.to_string()),
                    url: MAINNET_URL.into(),
                    is_mainnet: true,
                });
            }
            let network =
                resolve_network(&env.network, project, dfx_config).with_context(|| {
                    format!(
                        "icp.yaml's environment {arg:?} uses network {:?}",
                        env.network
                    )
                })?;
            return Ok(Network {
                name: Some(arg.to_string()),
                ..network
            });
        }
    }
    // 3. dfx's user-wide networks.json.
    if let Some(dir) = dfx_config
        && let Some(c) = read_json(&dir.join("networks.json"))?
            .as_ref()
            .and_then(|v| v.get(arg))
        && let Some(url) = dfx_network_url(c)
    {
        return Ok(named(url));
    }
    // 4. The implicit `local`.
    if arg == "local" {
        if icp.is_some() && dfx_json.is_none() {
            let port = icp_running_port(project, "local").unwrap_or(ICP_DEFAULT_PORT);
            return Ok(named(format!("http://{ICP_DEFAULT_BIND}:{port}")));
        }
        return Ok(named(format!("http://{DEFAULT_LOCAL_BIND}")));
    }
    Err(usage(format!(
        "unknown network {}: use `local`, `ic`, a URL (http://…), or a network defined in \
         dfx.json or icp.yaml",
        echo(arg)
    )))
}

/// Resolves a canister given as a principal or as a name, like dfx and icp-cli:
/// `.dfx/<network>/canister_ids.json` then icp-cli's `.icp/cache/mappings/<network>.ids.json`
/// (local networks only), then icp-cli's `.icp/data/mappings/<network>.ids.json` and dfx's
/// `canister_ids.json` (the ones you commit, and the only ones for `ic`).
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
    // dfx: {"<canister>": {"<network>": "<id>"}}; icp-cli: {"<canister>": "<id>"}, one file per
    // environment (cache/ for managed networks, data/ for connected ones, committed like
    // canister_ids.json).
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    if name != "ic" {
        files.push((
            project.join(".dfx").join(name).join("canister_ids.json"),
            false,
        ));
        files.push((icp_ids_file(project, "cache", name), true));
    }
    files.push((icp_ids_file(project, "data", name), true));
    files.push((project.join("canister_ids.json"), false));
    for (file, per_environment) in files {
        tried.push(file.display().to_string());
        let entry = read_json(&file)?.and_then(|v| v.get(arg).cloned());
        let id = if per_environment {
            entry.as_ref().and_then(Value::as_str)
        } else {
            entry
                .as_ref()
                .and_then(|c| c.get(name))
                .and_then(Value::as_str)
        };
        if let Some(id) = id {
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

/// icp-cli 1.5's canister ids of environment `env`: `.icp/<cache|data>/mappings/<env>.ids.json`.
fn icp_ids_file(project: &Path, kind: &str, env: &str) -> PathBuf {
    project
        .join(".icp")
        .join(kind)
        .join("mappings")
        .join(format!("{env}.ids.json"))
}

/// The longest snapshot id the IC makes: an 8-byte counter and a canister id (at most 29 bytes).
const MAX_SNAPSHOT_ID_BYTES: usize = 8 + 29;

/// Parses a snapshot id given in hex (as `snapshot list` prints it). An empty or overlong id
/// cannot name a snapshot, so it is refused here (exit 2) rather than looked up.
pub fn parse_snapshot_id(arg: &str) -> Result<Vec<u8>> {
    let hex_text = arg.trim().trim_start_matches("0x");
    let id = hex::decode(hex_text).map_err(|e| {
        usage(format!(
            "snapshot id {} is not hex ({e}); copy it from `keepsake snapshot list`",
            echo(arg)
        ))
    })?;
    if id.is_empty() {
        return Err(usage(
            "the snapshot id is empty; copy one from `keepsake snapshot list`, or leave the \
             option out where it is optional",
        ));
    }
    if id.len() > MAX_SNAPSHOT_ID_BYTES {
        return Err(usage(format!(
            "snapshot id {} has {} bytes; IC snapshot ids have at most {MAX_SNAPSHOT_ID_BYTES}: \
             copy it from `keepsake snapshot list`",
            echo(arg),
            id.len()
        )));
    }
    Ok(id)
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
    fn icp_yaml_networks_are_read_for_local_and_named_networks() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path();
        // icp.yaml alone: the implicit local is icp-cli's, on port 8000.
        write(&project.join("icp.yaml"), "canisters: []\n");
        assert_eq!(
            resolve_network("local", project, None).unwrap().url,
            "http://127.0.0.1:8000/"
        );
        write(
            &project.join("icp.yaml"),
            "canisters:\n  - name: app\n    build:\n      steps: []\n\
             networks:\n  - name: local\n    mode: managed\n    gateway:\n      bind: 127.0.0.1\n      port: 4999\n\
             \x20 - name: staging\n    mode: connected\n    url: https://staging.example\n    root-key: fetch\n\
             \x20 - networks/lan.yaml\n\
             environments:\n  - name: prod\n    network: ic\n  - name: qa\n    network: staging\n",
        );
        write(
            &project.join("networks/lan.yaml"),
            "name: lan\nmode: managed\ngateway:\n  bind: 0.0.0.0\n  port: 7000\n",
        );
        assert_eq!(
            resolve_network("local", project, None).unwrap().url,
            "http://127.0.0.1:4999/"
        );
        let staging = resolve_network("staging", project, None).unwrap();
        assert_eq!(staging.url, "https://staging.example/");
        assert!(!staging.is_mainnet);
        // A network defined in its own file, bound to every interface: reached on loopback.
        assert_eq!(
            resolve_network("lan", project, None).unwrap().url,
            "http://127.0.0.1:7000/"
        );
        // Environments name a network; the canister ids stay keyed by the environment.
        let qa = resolve_network("qa", project, None).unwrap();
        assert_eq!(qa.url, "https://staging.example/");
        assert_eq!(qa.name.as_deref(), Some("qa"));
        assert!(resolve_network("prod", project, None).unwrap().is_mainnet);
        // While icp-cli runs the network, its descriptor has the real port.
        write(
            &project.join(".icp/cache/networks/local/descriptor.json"),
            r#"{"v":"1","network":"local","gateway":{"fixed":false,"port":41234}}"#,
        );
        assert_eq!(
            resolve_network("local", project, None).unwrap().url,
            "http://127.0.0.1:41234/"
        );
        // dfx.json is read first.
        write(
            &project.join("dfx.json"),
            r#"{"networks":{"local":{"bind":"127.0.0.1:5555"}}}"#,
        );
        assert_eq!(
            resolve_network("local", project, None).unwrap().url,
            "http://127.0.0.1:5555/"
        );
        // Both files, neither defining local: dfx's default, as before icp.yaml was read.
        write(&project.join("dfx.json"), "{}");
        std::fs::remove_dir_all(project.join(".icp")).unwrap();
        write(&project.join("icp.yaml"), "canisters: []\n");
        assert_eq!(
            resolve_network("local", project, None).unwrap().url,
            "http://127.0.0.1:4943/"
        );
    }

    #[test]
    fn broken_or_incomplete_icp_yaml_gets_an_error_that_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path();
        write(&project.join("icp.yaml"), "networks: [\n");
        let err = format!("{:#}", resolve_network("local", project, None).unwrap_err());
        assert!(err.contains("is not valid icp.yaml"), "{err}");
        write(
            &project.join("icp.yaml"),
            "networks:\n  - name: rnd\n    mode: managed\n    gateway:\n      port: 0\n\
             \x20 - name: half\n    mode: connected\n",
        );
        let err = resolve_network("rnd", project, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("icp network start rnd"), "{err}");
        let err = resolve_network("half", project, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no `url`"), "{err}");
        let err = resolve_network("nowhere", project, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("icp.yaml"), "{err}");
    }

    #[test]
    fn canister_names_are_also_looked_up_in_icp_cli_mappings() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path();
        write(&project.join("icp.yaml"), "canisters: []\n");
        write(
            &project.join(".icp/cache/mappings/local.ids.json"),
            r#"{"orchestrator":"rrkah-fqaaa-aaaaa-aaaaq-cai"}"#,
        );
        write(
            &project.join(".icp/data/mappings/ic.ids.json"),
            r#"{"orchestrator":"ryjl3-tyaaa-aaaaa-aaaba-cai"}"#,
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
        // A local cache file is not consulted for mainnet.
        write(
            &project.join(".icp/cache/mappings/ic.ids.json"),
            r#"{"other":"rrkah-fqaaa-aaaaa-aaaaq-cai"}"#,
        );
        let err = resolve_canister("other", &ic, project)
            .unwrap_err()
            .to_string();
        assert!(err.contains("ic.ids.json"), "{err}");
        // dfx's file wins when both know the name.
        write(
            &project.join(".dfx/local/canister_ids.json"),
            r#"{"orchestrator":{"local":"ryjl3-tyaaa-aaaaa-aaaba-cai"}}"#,
        );
        assert_eq!(
            resolve_canister("orchestrator", &local, project)
                .unwrap()
                .to_text(),
            "ryjl3-tyaaa-aaaaa-aaaba-cai"
        );
    }

    #[test]
    fn snapshot_ids_are_hex() {
        assert_eq!(parse_snapshot_id("0x0a0b").unwrap(), vec![10, 11]);
        assert!(parse_snapshot_id("xyz").is_err());
        assert!(parse_snapshot_id("").is_err());
        assert!(parse_snapshot_id("0x").is_err());
        assert!(parse_snapshot_id(&"ab".repeat(38)).is_err());
        assert!(parse_snapshot_id(&"ab".repeat(18)).is_ok());
    }

    #[test]
    fn malformed_network_urls_are_usage_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        for url in [
            "http://",
            "http://:80",
            "http://127.0.0.1:99999",
            "http://[::1",
            "http://a b",
        ] {
            let err = resolve_network(url, dir.path(), None).unwrap_err();
            assert!(
                err.downcast_ref::<crate::error::UsageError>().is_some(),
                "{url}: {err:#}"
            );
        }
        for url in [
            "http://127.0.0.1:4943",
            "https://icp-api.io",
            "http://[::1]:8000/",
        ] {
            assert!(resolve_network(url, dir.path(), None).is_ok(), "{url}");
        }
        write(
            &dir.path().join("dfx.json"),
            r#"{"networks": {"bad": {"bind": "127.0.0.1:99999"}}}"#,
        );
        let err = resolve_network("bad", dir.path(), None).unwrap_err();
        assert!(format!("{err}").contains("dfx.json"), "{err}");
    }
}
