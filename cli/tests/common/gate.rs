//! A TCP relay between the binary and the network that a test can close: it counts the bytes
//! the network sends back and, once closed, forwards nothing more in either direction. A test
//! that must interrupt a command mid-transfer closes the gate after enough bytes have passed,
//! so the command cannot finish however fast the machine is, and then kills it — instead of
//! racing a timer against the command.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

/// The relay's shared state.
#[derive(Default)]
struct Shared {
    closed: AtomicBool,
    downstream: AtomicU64,
}

impl Shared {
    /// Blocks while the gate is closed.
    fn pass(&self) {
        while self.closed.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A relay to one upstream `http://host:port`, listening on a loopback port.
pub struct Gate {
    url: String,
    shared: Arc<Shared>,
}

impl Gate {
    pub fn start(upstream: &str) -> Gate {
        let upstream = upstream
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("the gate relays plain http only, not {upstream}"))
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                relay(client, server, accepting.clone());
            }
        });
        Gate { url, shared }
    }

    /// The URL to give the binary instead of the network's.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Bytes the network has sent back through the gate so far.
    pub fn downstream_bytes(&self) -> u64 {
        self.shared.downstream.load(Ordering::SeqCst)
    }

    /// From now on nothing passes, in either direction, on any connection.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
    }

    /// Lets traffic pass again (what was held goes on).
    pub fn open(&self) {
        self.shared.closed.store(false, Ordering::SeqCst);
    }
}

/// Copies both ways on their own threads.
fn relay(client: TcpStream, server: TcpStream, shared: Arc<Shared>) {
    let (client_r, server_w) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = shared.clone();
    thread::spawn(move || copy(client_r, server_w, &up, false));
    thread::spawn(move || copy(server, client, &shared, true));
}

fn copy(mut from: TcpStream, mut to: TcpStream, shared: &Shared, downstream: bool) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        shared.pass();
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        if downstream {
            shared.downstream.fetch_add(n as u64, Ordering::SeqCst);
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
