//! The console fixture: `keepsake console` started as a real process against the localnet of
//! an [`Env`], and a small HTTP/1.1 client over a TCP socket, so that tests choose every header
//! (Host, Origin, Cookie, the CSRF token) exactly as a browser or an attacker would send it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::Env;

/// A running `keepsake console`, logged in (cookie and CSRF token known).
pub struct Console {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The token of its URL.
    pub token: String,
    /// `name=value` of the login cookie.
    pub cookie: String,
    /// The CSRF token from its pages.
    pub csrf: String,
    /// The first line it printed.
    pub first_line: String,
    stderr: std::path::PathBuf,
}

/// An HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Console {
    /// Starts `keepsake console --port 0` as `who`, reads its URL and logs in.
    pub fn start(env: &Env, who: &str, extra: &[&str]) -> Console {
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stderr = env.path(&format!("console-{who}-{n}.stderr"));
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("keepsake"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DFX_CONFIG_ROOT", env.path("home"))
            .env("HOME", env.path("home"))
            .env("KEEPSAKE_CACHE_DIR", env.path("cache"))
            .current_dir(env.dir.path())
            .args(["--network", &env.server.url()])
            .args(["--pem", env.path(&format!("{who}.pem")).to_str().unwrap()])
            .args(["--orchestrator", &env.orchestrator.to_text()])
            .args(["console", "--port", "0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("keepsake console starts");
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first_line)
            .unwrap();
        let first_line = first_line.trim().to_string();
        let url = first_line.strip_prefix("console on ").unwrap_or_else(|| {
            let _ = child.kill();
            panic!(
                "the console's first line is {first_line:?}; stderr: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            )
        });
        let rest = url
            .strip_prefix("http://127.0.0.1:")
            .expect("a loopback URL");
        let (port, token) = rest.split_once("/?token=").expect("a token in the URL");
        let mut console = Console {
            child,
            port: port.parse().unwrap(),
            token: token.to_string(),
            cookie: String::new(),
            csrf: String::new(),
            first_line: first_line.clone(),
            stderr,
        };
        let login = console.request("GET", &format!("/?token={token}"), &[], b"");
        assert_eq!(login.status, 303, "{}", login.text());
        let cookie = login.header("set-cookie").expect("a cookie").to_string();
        console.cookie = cookie.split(';').next().unwrap().to_string();
        let page = console.get("/fleet");
        assert_eq!(page.status, 200, "{}", page.text());
        console.csrf = between(&page.text(), "name=\"keepsake-csrf\" content=\"", "\"")
            .expect("the CSRF token in the page")
            .to_string();
        console
    }

    /// What the console printed on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// `Host: 127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A GET as the logged-in browser.
    pub fn get(&self, path: &str) -> Resp {
        self.request("GET", path, &[("cookie", &self.cookie)], b"")
    }

    /// A POST of a form as the console's own page sends it.
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        self.post_body(
            path,
            "application/x-www-form-urlencoded",
            body.join("&").as_bytes(),
        )
    }

    /// A POST of raw bytes as the console's own page sends it.
    pub fn post_body(&self, path: &str, content_type: &str, body: &[u8]) -> Resp {
        let origin = self.origin();
        self.request(
            "POST",
            path,
            &[
                ("cookie", &self.cookie),
                ("origin", &origin),
                ("x-keepsake-csrf", &self.csrf),
                ("content-type", content_type),
            ],
            body,
        )
    }

    /// A request with the right Host and exactly `headers` besides.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let host = self.host();
        self.request_with_host(method, path, &host, headers, body)
    }

    /// A request with any Host.
    pub fn request_with_host(
        &self,
        method: &str,
        path: &str,
        host: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        http(("127.0.0.1", self.port), method, path, host, headers, body)
    }

    /// Polls upgrade job `id` until it finishes; its last view.
    pub fn wait_for_job(&self, id: u64) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let view = self.get(&format!("/upgrade/jobs/{id}")).json();
            if view["phase"] == "finished" {
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "the upgrade did not finish: {view}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), read to the end.
pub fn http(
    addr: (&str, u16),
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut stream = TcpStream::connect(addr).expect("connect to the console");
    stream
        .set_read_timeout(Some(Duration::from_secs(300)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = unchunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn unchunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..end])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}

/// Percent-encoding for a form value.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The text between `start` and the next `end`.
pub fn between<'t>(text: &'t str, start: &str, end: &str) -> Option<&'t str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}
