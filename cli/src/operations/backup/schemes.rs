//! What a `--repo` names, and how keepsake reaches it: a local folder, or one of the OpenDAL
//! services compiled in (S3, WebDAV, SFTP, Azure Blob), with the options and credentials each
//! takes (flags and environment variables, never written anywhere), the connect preflight, and
//! what a person should check when the server refuses.
//!
//! Only services the tests run against a real server on 127.0.0.1 are compiled in (each one
//! adds crates, measured in docs/ARCHITECTURE.md, "Backends"); any other `scheme://` is refused
//! with the list of supported ones.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::repo::RepoSpec;
use crate::error::usage;

/// The WebDAV user (else the user in `--repo`).
pub const WEBDAV_USER_ENV: &str = "KEEPSAKE_WEBDAV_USER";
/// The WebDAV password (only from the environment: never on a command line).
pub const WEBDAV_PASSWORD_ENV: &str = "KEEPSAKE_WEBDAV_PASSWORD";
/// The SSH private key file for SFTP (else `--sftp-key`, else ssh's own configuration).
pub const SFTP_KEY_ENV: &str = "KEEPSAKE_SFTP_KEY";
/// The Azure storage account.
pub const AZURE_ACCOUNT_ENV: &str = "AZURE_STORAGE_ACCOUNT";
/// The Azure storage account's key.
pub const AZURE_KEY_ENV: &str = "AZURE_STORAGE_KEY";

/// The forms `--repo` takes, for refusals.
pub const SUPPORTED: &str = "a local path, s3://<bucket>/<prefix>, webdav://<host>[:<port>]/<path> \
     (webdavs:// for HTTPS), sftp://[<user>@]<host>[:<port>]/<path> or azblob://<container>/<prefix>";

/// Where the repository is, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local folder.
    Local(PathBuf),
    /// An S3 bucket and a prefix in it.
    S3 {
        /// The bucket.
        bucket: String,
        /// The prefix (may be empty).
        prefix: String,
    },
    /// A folder on a WebDAV server.
    WebDav {
        /// `https` for `webdavs://`.
        https: bool,
        /// `host[:port]` as written.
        authority: String,
        /// The user written in `--repo`, if any.
        user: Option<String>,
        /// The folder's path on the server (may be empty).
        path: String,
    },
    /// A folder on an SFTP server.
    Sftp {
        /// The user written in `--repo`, if any (else ssh's configuration decides).
        user: Option<String>,
        /// The host.
        host: String,
        /// The port written in `--repo`, if any (else 22).
        port: Option<u16>,
        /// The folder's absolute path on the server.
        path: String,
    },
    /// An Azure Blob Storage container and a prefix in it.
    Azblob {
        /// The container.
        container: String,
        /// The prefix (may be empty).
        prefix: String,
    },
}

/// Parses `--repo`.
pub fn parse(repo: &str) -> Result<Location> {
    let Some((scheme, rest)) = repo.split_once("://") else {
        if repo.is_empty() {
            return Err(usage("--repo is empty"));
        }
        return Ok(Location::Local(PathBuf::from(repo)));
    };
    match scheme {
        "s3" | "azblob" => {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let word = if scheme == "s3" {
                "bucket"
            } else {
                "container"
            };
            if bucket.is_empty() {
                return Err(usage(format!(
                    "--repo {repo}: no {word}; write {scheme}://<{word}>/<prefix>"
                )));
            }
            let (bucket, prefix) = (bucket.to_string(), prefix.trim_matches('/').to_string());
            Ok(if scheme == "s3" {
                Location::S3 { bucket, prefix }
            } else {
                Location::Azblob {
                    container: bucket,
                    prefix,
                }
            })
        }
        "webdav" | "webdavs" | "sftp" => {
            let url = url::Url::parse(repo)
                .map_err(|e| usage(format!("--repo {repo} is not a valid URL ({e})")))?;
            let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| {
                usage(format!(
                    "--repo {repo}: no host; write {scheme}://<host>/<path>"
                ))
            })?;
            if url.password().is_some() {
                let env = if scheme == "sftp" {
                    format!("--sftp-key or {SFTP_KEY_ENV} (SSH keys only)")
                } else {
                    WEBDAV_PASSWORD_ENV.to_string()
                };
                return Err(usage(format!(
                    "--repo must not hold a password (it would end up in shell history and process \
                     lists); remove it and use {env}"
                )));
            }
            let user = Some(url.username())
                .filter(|u| !u.is_empty())
                .map(str::to_string);
            let path = url.path().trim_matches('/').to_string();
            if scheme == "sftp" {
                if path.is_empty() {
                    return Err(usage(format!(
                        "--repo {repo}: no folder; write sftp://[<user>@]<host>[:<port>]/<path> \
                         (the path is absolute on the server)"
                    )));
                }
                return Ok(Location::Sftp {
                    user,
                    host: host.trim_matches(['[', ']']).to_string(),
                    port: url.port(),
                    path,
                });
            }
            let authority = match url.port() {
                Some(p) => format!("{}:{p}", bracket(host)),
                None => bracket(host),
            };
            Ok(Location::WebDav {
                https: scheme == "webdavs",
                authority,
                user,
                path,
            })
        }
        other => Err(usage(format!(
            "--repo {repo}: the scheme {other}:// is not supported; use {SUPPORTED}. Keepsake \
             compiles in only the storage services its tests run against a real server (each adds \
             crates to the binary); a scheme you need can be added the same way"
        ))),
    }
}

/// An IPv6 address as a URL writes it.
fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// `/<prefix>/<sub>`, skipping what is empty.
fn root(prefix: &str, sub: Option<&str>) -> String {
    let mut r = String::from("/");
    r.push_str(prefix);
    if let Some(s) = sub {
        if !prefix.is_empty() {
            r.push('/');
        }
        r.push_str(s);
    }
    r
}

/// One OpenDAL service at one root.
#[derive(Debug)]
pub struct Service {
    /// OpenDAL's scheme.
    pub scheme: &'static str,
    /// OpenDAL's options (credentials included: never print them).
    pub options: BTreeMap<String, String>,
    /// How messages name it (no secret).
    pub location: String,
}

/// Where a connect preflight goes, and how messages name the server.
#[derive(Debug)]
struct Server {
    /// "the S3 endpoint", "the WebDAV server", …
    what: &'static str,
    /// URL or `host:port` as the person wrote or would recognise it.
    shown: String,
    host: String,
    port: u16,
    /// What to check, in the "cannot connect" message.
    check: &'static str,
}

/// How long connecting to a server may take before it counts as unreachable.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl RepoSpec {
    /// The OpenDAL service for this location, rooted at the repository or at the folder `sub`
    /// under it (the lock); `None` for a local folder.
    pub(super) fn service(&self, sub: Option<&str>) -> Result<Option<Service>> {
        let mut o = BTreeMap::new();
        let (scheme, location) = match self.location()? {
            Location::Local(_) => return Ok(None),
            Location::S3 { bucket, prefix } => {
                o.insert("bucket".to_string(), bucket.clone());
                o.insert("root".to_string(), root(&prefix, sub));
                // Path-style addressing (`endpoint/bucket/key`) is OpenDAL's default, and what
                // MinIO, s3s-fs and most S3-compatible servers expect.
                if let Some(e) = &self.s3_endpoint {
                    o.insert("endpoint".to_string(), e.clone());
                }
                let region = self
                    .s3_region
                    .clone()
                    .or_else(|| std::env::var("AWS_REGION").ok())
                    .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                    .unwrap_or_else(|| "us-east-1".to_string());
                o.insert("region".to_string(), region);
                ("s3", format!("s3:{bucket}{}", root(&prefix, sub)))
            }
            Location::WebDav {
                https,
                authority,
                user,
                path,
            } => {
                let endpoint = format!("{}://{authority}", if https { "https" } else { "http" });
                o.insert("endpoint".to_string(), endpoint.clone());
                o.insert("root".to_string(), root(&path, sub));
                let user = user.or_else(|| env(WEBDAV_USER_ENV));
                let password = env(WEBDAV_PASSWORD_ENV);
                if password.is_some() && user.is_none() {
                    return Err(usage(format!(
                        "{WEBDAV_PASSWORD_ENV} is set but no user: set {WEBDAV_USER_ENV} or write \
                         webdav://<user>@<host>/<path>"
                    )));
                }
                if let Some(u) = user {
                    o.insert("username".to_string(), u);
                }
                if let Some(p) = password {
                    o.insert("password".to_string(), p);
                }
                ("webdav", format!("webdav:{endpoint}{}", root(&path, sub)))
            }
            Location::Sftp {
                user,
                host,
                port,
                path,
            } => {
                // OpenDAL runs the system `ssh` (BatchMode: never a prompt); `ssh://` lets it
                // take the port.
                let port = port.unwrap_or(22);
                o.insert(
                    "endpoint".to_string(),
                    format!("ssh://{}:{port}", bracket(&host)),
                );
                o.insert("root".to_string(), root(&path, sub));
                if let Some(u) = &user {
                    o.insert("user".to_string(), u.clone());
                }
                if let Some(k) = self
                    .sftp_key
                    .clone()
                    .or_else(|| env(SFTP_KEY_ENV).map(PathBuf::from))
                {
                    if !k.is_file() {
                        return Err(usage(format!(
                            "the SSH key {} does not exist (--sftp-key / {SFTP_KEY_ENV})",
                            k.display()
                        )));
                    }
                    o.insert("key".to_string(), k.display().to_string());
                }
                // The server's host key must already be known (ssh's known_hosts): a backup
                // must not be sent to whoever answers on that address.
                o.insert("known_hosts_strategy".to_string(), "strict".to_string());
                let who = user.map(|u| format!("{u}@")).unwrap_or_default();
                (
                    "sftp",
                    format!("sftp:{who}{}:{port}{}", bracket(&host), root(&path, sub)),
                )
            }
            Location::Azblob { container, prefix } => {
                let (account, key) = azure_credentials()?;
                o.insert("container".to_string(), container.clone());
                o.insert("root".to_string(), root(&prefix, sub));
                o.insert("endpoint".to_string(), self.azure_endpoint(&account));
                o.insert("account_name".to_string(), account);
                o.insert("account_key".to_string(), key);
                (
                    "azblob",
                    format!("azblob:{container}{}", root(&prefix, sub)),
                )
            }
        };
        Ok(Some(Service {
            scheme,
            options: o,
            location,
        }))
    }

    /// `--azure-endpoint`, else the account's public endpoint.
    fn azure_endpoint(&self, account: &str) -> String {
        self.azure_endpoint
            .clone()
            .unwrap_or_else(|| format!("https://{account}.blob.core.windows.net"))
    }

    /// The server a remote repository lives on, for the preflight; `None` for a local folder,
    /// and for AWS itself (no `--s3-endpoint`: the SDK's endpoint, always up).
    fn server(&self) -> Result<Option<Server>> {
        let from_url = |what, flag: &str, url: &str, check| -> Result<Server> {
            let parsed = url::Url::parse(url).map_err(|e| {
                usage(format!(
                    "{flag} {url} is not a URL ({e}); write it as http(s)://host[:port]"
                ))
            })?;
            let host = parsed.host_str().ok_or_else(|| {
                usage(format!(
                    "{flag} {url} has no host; write it as http(s)://host[:port]"
                ))
            })?;
            Ok(Server {
                what,
                shown: url.to_string(),
                host: host.trim_matches(['[', ']']).to_string(),
                port: parsed.port_or_known_default().unwrap_or(443),
                check,
            })
        };
        Ok(match self.location()? {
            Location::Local(_) => None,
            Location::S3 { .. } => match &self.s3_endpoint {
                Some(e) => Some(from_url(
                    "the S3 endpoint",
                    "--s3-endpoint",
                    e,
                    "check --s3-endpoint and that the S3 server is running and reachable from here",
                )?),
                None => None,
            },
            Location::WebDav {
                https, authority, ..
            } => {
                let url = format!("{}://{authority}", if https { "https" } else { "http" });
                Some(from_url(
                    "the WebDAV server",
                    "--repo",
                    &url,
                    "check the host and port in --repo and that the WebDAV server is running and \
                     reachable from here",
                )?)
            }
            Location::Sftp { host, port, .. } => {
                let port = port.unwrap_or(22);
                Some(Server {
                    what: "the SFTP server",
                    shown: format!("{}:{port}", bracket(&host)),
                    host,
                    port,
                    check: "check the host and port in --repo and that the SSH server is running \
                            and reachable from here",
                })
            }
            Location::Azblob { .. } => {
                let (account, _) = azure_credentials()?;
                Some(from_url(
                    "the Azure Blob endpoint",
                    "--azure-endpoint",
                    &self.azure_endpoint(&account),
                    "check --azure-endpoint (or AZURE_STORAGE_ACCOUNT) and that the storage \
                     service is reachable from here",
                )?)
            }
        })
    }

    /// A server that does not accept connections fails here, within [`CONNECT_TIMEOUT`], with
    /// what to do (instead of after OpenDAL's retries, with its request details).
    pub(super) fn reachable(&self) -> Result<()> {
        let Some(s) = self.server()? else {
            return Ok(());
        };
        let over_ssh = matches!(self.location()?, Location::Sftp { .. });
        let addrs: Vec<std::net::SocketAddr> =
            match std::net::ToSocketAddrs::to_socket_addrs(&(s.host.as_str(), s.port)) {
                Ok(a) => a.collect(),
                // ssh resolves names of its own (`Host` aliases in ~/.ssh/config): let it.
                Err(_) if over_ssh => return Ok(()),
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot resolve {} {}: {}", s.what, s.shown, s.check)
                    });
                }
            };
        let mut last = None;
        for a in &addrs {
            match std::net::TcpStream::connect_timeout(a, CONNECT_TIMEOUT) {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        let why = match last.as_ref().map(std::io::Error::kind) {
            Some(std::io::ErrorKind::ConnectionRefused) => "the connection was refused",
            Some(std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {
                "it did not answer in time"
            }
            _ => "it cannot be reached",
        };
        bail!(
            "cannot connect to {} {} ({why}{}): {}; nothing was read or written",
            s.what,
            s.shown,
            last.map(|e| format!(": {e}")).unwrap_or_default(),
            s.check
        )
    }

    /// What to check when the server answered a request with an error (after the retries).
    pub(super) fn refused_hint(&self, e: anyhow::Error) -> anyhow::Error {
        let hint = match self.location() {
            Ok(Location::S3 { bucket, .. }) => format!(
                "the S3 server {} refused the request or failed: check AWS_ACCESS_KEY_ID / \
                 AWS_SECRET_ACCESS_KEY, that the bucket {bucket} exists, --s3-region, and that \
                 the server is healthy; nothing was written",
                self.s3_endpoint.as_deref().unwrap_or("(AWS)")
            ),
            Ok(Location::WebDav {
                https, authority, ..
            }) => format!(
                "the WebDAV server {}://{authority} refused the request or failed: check \
                 {WEBDAV_USER_ENV} / {WEBDAV_PASSWORD_ENV}, the path in --repo, and that the \
                 server is healthy; nothing was written",
                if https { "https" } else { "http" }
            ),
            Ok(Location::Sftp { host, port, .. }) => {
                let port = port.unwrap_or(22);
                format!(
                    "the SFTP server {}:{port} refused the connection or the request: check the \
                     user in --repo, the SSH key (--sftp-key / {SFTP_KEY_ENV}; the server must \
                     accept it), that the server's host key is in your known_hosts (check it, \
                     then `ssh-keyscan -p {port} {host} >> ~/.ssh/known_hosts`), and the path; \
                     nothing was written",
                    bracket(&host)
                )
            }
            Ok(Location::Azblob { container, .. }) => format!(
                "Azure Blob Storage refused the request or failed: check {AZURE_ACCOUNT_ENV} / \
                 {AZURE_KEY_ENV}, that the container {container} exists, and --azure-endpoint; \
                 nothing was written"
            ),
            _ => return e,
        };
        e.context(hint)
    }

    /// Why there is no restic config file at a remote location (after a successful read).
    pub(super) fn no_config_hint(&self) -> Result<String> {
        Ok(match self.location()? {
            // OpenDAL lists a missing bucket or container as empty, so it is named as a suspect.
            Location::S3 { bucket, .. } => format!(
                "no restic config file there; check that the bucket {bucket} exists and the prefix is right"
            ),
            Location::Azblob { container, .. } => format!(
                "no restic config file there; check that the container {container} exists and the prefix is right"
            ),
            Location::WebDav { .. } | Location::Sftp { .. } => {
                "no restic config file there; check the path in --repo".to_string()
            }
            Location::Local(_) => "it has no restic config file; check --repo".to_string(),
        })
    }
}

/// A non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The Azure account and key, both required (a missing one is said at once, not as a 403).
fn azure_credentials() -> Result<(String, String)> {
    match (env(AZURE_ACCOUNT_ENV), env(AZURE_KEY_ENV)) {
        (Some(a), Some(k)) => Ok((a, k)),
        _ => Err(usage(format!(
            "an azblob:// repository needs {AZURE_ACCOUNT_ENV} and {AZURE_KEY_ENV} (the storage \
             account's name and key) in the environment"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_locations_parse_to_their_server_and_folder() {
        assert_eq!(
            parse("webdav://backup@127.0.0.1:8080/a/b/").unwrap(),
            Location::WebDav {
                https: false,
                authority: "127.0.0.1:8080".into(),
                user: Some("backup".into()),
                path: "a/b".into()
            }
        );
        assert_eq!(
            parse("webdavs://dav.example.com/r").unwrap(),
            Location::WebDav {
                https: true,
                authority: "dav.example.com".into(),
                user: None,
                path: "r".into()
            }
        );
        assert_eq!(
            parse("sftp://me@[::1]:2222/srv/repo").unwrap(),
            Location::Sftp {
                user: Some("me".into()),
                host: "::1".into(),
                port: Some(2222),
                path: "srv/repo".into()
            }
        );
        assert_eq!(
            parse("azblob://c/p/q").unwrap(),
            Location::Azblob {
                container: "c".into(),
                prefix: "p/q".into()
            }
        );
        assert!(parse("azblob:///p").is_err());
        assert!(parse("sftp://host").is_err());
        assert!(parse("webdav://u:secret@host/x").is_err());
    }

    #[test]
    fn an_unsupported_scheme_is_refused_naming_the_supported_ones() {
        let e = parse("gcs://bucket/x").unwrap_err().to_string();
        assert!(e.contains("gcs:// is not supported"), "{e}");
        assert!(e.contains("webdav://") && e.contains("sftp://") && e.contains("azblob://"));
    }

    #[test]
    fn roots_join_prefix_and_sub_folder() {
        assert_eq!(root("", None), "/");
        assert_eq!(root("a/b", None), "/a/b");
        assert_eq!(root("", Some("locks")), "/locks");
        assert_eq!(root("a", Some("locks")), "/a/locks");
    }
}
