//! Which identity signs the calls: `--pem <file>`, `--identity <name>` from dfx's identity
//! store, dfx's default identity, or anonymous when there is no dfx store at all.
//!
//! dfx keeps identities in `~/.config/dfx/identity/<name>/identity.pem` (plaintext mode) and the
//! default's name in `~/.config/dfx/identity.json`; `DFX_CONFIG_ROOT` replaces `~` as dfx allows.
//! Password-protected and keyring identities cannot be read here: the error says how to export one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use ic_agent::Identity;
use ic_agent::identity::{AnonymousIdentity, BasicIdentity, Prime256v1Identity, Secp256k1Identity};
use serde_json::Value;

/// dfx's config folder (`$DFX_CONFIG_ROOT/.config/dfx` or `~/.config/dfx`).
pub fn dfx_config_dir() -> Option<PathBuf> {
    let root = std::env::var_os("DFX_CONFIG_ROOT")
        .map(PathBuf::from)
        .or_else(dirs::home_dir)?;
    Some(root.join(".config").join("dfx"))
}

/// Where the identity came from (printed so the user knows who signs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityChoice {
    /// No dfx identity store, or the name `anonymous`.
    Anonymous {
        /// Why anonymous was chosen.
        reason: String,
    },
    /// A named dfx identity.
    Dfx {
        /// Its name.
        name: String,
        /// Its PEM file.
        pem: PathBuf,
        /// Whether it is dfx's default (no `--identity` given).
        default: bool,
    },
    /// `--pem`.
    Pem(PathBuf),
}

impl std::fmt::Display for IdentityChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Anonymous { reason } => write!(f, "anonymous ({reason})"),
            Self::Dfx {
                name,
                default: true,
                ..
            } => write!(f, "dfx identity {name:?} (dfx's default)"),
            Self::Dfx { name, .. } => write!(f, "dfx identity {name:?}"),
            Self::Pem(path) => write!(f, "PEM file {}", path.display()),
        }
    }
}

/// Picks the identity from the flags and dfx's store at `dfx_dir`.
pub fn choose(
    identity: Option<&str>,
    pem: Option<&Path>,
    dfx_dir: Option<&Path>,
) -> Result<IdentityChoice> {
    if let Some(pem) = pem {
        return Ok(IdentityChoice::Pem(pem.to_path_buf()));
    }
    let store = dfx_dir.map(|d| d.join("identity"));
    let (name, default) = match identity {
        Some(name) => {
            check_identity_name(name)?;
            (name.to_string(), false)
        }
        None => {
            let Some(dir) = dfx_dir.filter(|d| d.join("identity.json").is_file()) else {
                return Ok(IdentityChoice::Anonymous {
                    reason:
                        "no dfx identity store found; pass --identity or --pem to sign as someone"
                            .into(),
                });
            };
            let file = dir.join("identity.json");
            let text = std::fs::read_to_string(&file).with_context(|| {
                format!("cannot read dfx's default identity from {}", file.display())
            })?;
            let v: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", file.display()))?;
            let name = v
                .get("default")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string();
            (name, true)
        }
    };
    if name == "anonymous" {
        return Ok(IdentityChoice::Anonymous {
            reason: "the identity named anonymous".into(),
        });
    }
    let Some(store) = store else {
        return Err(anyhow!(
            "dfx identity {name:?} not found: no home folder to look in; pass --pem <file> instead"
        ));
    };
    let dir = store.join(&name);
    let pem = dir.join("identity.pem");
    if pem.is_file() {
        return Ok(IdentityChoice::Dfx { name, pem, default });
    }
    if dir.join("identity.pem.encrypted").is_file() {
        return Err(anyhow!(
            "dfx identity {name:?} is password-protected, and keepsake does not decrypt dfx identities. \
             Export a plaintext copy with `dfx identity export {name} > {name}.pem` (keep it private) \
             and pass `--pem {name}.pem`"
        ));
    }
    if dir.is_dir() {
        return Err(anyhow!(
            "dfx identity {name:?} has no identity.pem in {} (it is probably kept in the OS keyring). \
             Export it with `dfx identity export {name} > {name}.pem` and pass `--pem {name}.pem`",
            dir.display()
        ));
    }
    Err(anyhow!(
        "dfx identity {name:?} not found in {}. `dfx identity list` shows the identities; \
         create one with `dfx identity new {name} --storage-mode plaintext`, or pass --pem <file>",
        store.display()
    ))
}

/// An identity name is a folder name in dfx's store: letters, digits, `.`, `-`, `_`, `@` (what
/// dfx accepts), never `.` or `..`. Anything else is a typo, or a path that would leave the
/// store: a usage error.
fn check_identity_name(name: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@');
    if name.is_empty() || name == "." || name == ".." || !name.chars().all(allowed) {
        return Err(crate::error::usage(format!(
            "--identity {} is not a dfx identity name (letters, digits, '.', '-', '_', '@'); \
             `dfx identity list` shows the names, or pass --pem <file>",
            crate::error::echo(name)
        )));
    }
    Ok(())
}

/// Reads a PEM file: Ed25519 (dfx's default), secp256k1 or prime256v1.
pub fn load_pem(path: &Path) -> Result<Arc<dyn Identity>> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "cannot read the identity PEM {}; check the path",
            path.display()
        )
    })?;
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("ENCRYPTED") {
        return Err(anyhow!(
            "{} is an encrypted PEM; keepsake needs a plaintext key. Decrypt it \
             (`openssl pkey -in {0} -out plain.pem`, or `dfx identity export <name>`) and pass that file",
            path.display()
        ));
    }
    if let Ok(id) = BasicIdentity::from_pem(&bytes[..]) {
        return Ok(Arc::new(id));
    }
    if let Ok(id) = Secp256k1Identity::from_pem(&bytes[..]) {
        return Ok(Arc::new(id));
    }
    match Prime256v1Identity::from_pem(&bytes[..]) {
        Ok(id) => Ok(Arc::new(id)),
        Err(e) => Err(anyhow!(e)).with_context(|| {
            format!(
                "{} is not an Ed25519, secp256k1 or prime256v1 private key in PEM format",
                path.display()
            )
        }),
    }
}

/// Loads the chosen identity.
pub fn load(choice: &IdentityChoice) -> Result<Arc<dyn Identity>> {
    match choice {
        IdentityChoice::Anonymous { .. } => Ok(Arc::new(AnonymousIdentity)),
        IdentityChoice::Dfx { pem, .. } | IdentityChoice::Pem(pem) => load_pem(pem),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ed25519 key in the PKCS#8 form `dfx identity new --storage-mode plaintext` writes.
    pub const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIDDOgc8Lf5zz4wAC+ZdkcfSZypU2+vo3eihSSGIojAws\n-----END PRIVATE KEY-----\n";

    fn store(dir: &Path, default: &str) {
        std::fs::create_dir_all(dir.join("identity")).unwrap();
        std::fs::write(
            dir.join("identity.json"),
            format!(r#"{{"default":"{default}"}}"#),
        )
        .unwrap();
    }

    #[test]
    fn without_a_dfx_store_the_identity_is_anonymous_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let c = choose(None, None, Some(dir.path())).unwrap();
        assert!(matches!(c, IdentityChoice::Anonymous { .. }));
        assert!(c.to_string().contains("no dfx identity store"));
    }

    #[test]
    fn the_default_identity_comes_from_identity_json() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), "alice");
        let alice = dir.path().join("identity/alice");
        std::fs::create_dir_all(&alice).unwrap();
        std::fs::write(alice.join("identity.pem"), ED25519_PEM).unwrap();
        let c = choose(None, None, Some(dir.path())).unwrap();
        assert_eq!(c.to_string(), "dfx identity \"alice\" (dfx's default)");
        let id = load(&c).unwrap();
        assert!(id.sender().is_ok());
    }

    #[test]
    fn a_missing_or_encrypted_identity_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), "default");
        let err = choose(Some("bob"), None, Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("dfx identity new bob"), "{err}");
        let carol = dir.path().join("identity/carol");
        std::fs::create_dir_all(&carol).unwrap();
        std::fs::write(carol.join("identity.pem.encrypted"), "x").unwrap();
        let err = choose(Some("carol"), None, Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("dfx identity export carol"), "{err}");
        let enc = dir.path().join("enc.pem");
        std::fs::write(
            &enc,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        let err = load_pem(&enc).err().unwrap().to_string();
        assert!(err.contains("encrypted PEM"), "{err}");
    }

    #[test]
    fn an_identity_name_that_is_a_path_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), "default");
        for name in ["../../etc", "a/b", "", "..", "with space"] {
            let err = choose(Some(name), None, Some(dir.path())).unwrap_err();
            assert!(
                err.downcast_ref::<crate::error::UsageError>().is_some(),
                "{name}: {err}"
            );
        }
        assert!(
            choose(Some("alice@work.2"), None, Some(dir.path()))
                .is_err_and(|e| { e.downcast_ref::<crate::error::UsageError>().is_none() })
        );
    }

    #[test]
    fn garbage_pem_is_refused_with_the_key_types_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "not a key").unwrap();
        let err = format!("{:#}", load_pem(&bad).err().unwrap());
        assert!(err.contains("Ed25519, secp256k1 or prime256v1"), "{err}");
    }
}
