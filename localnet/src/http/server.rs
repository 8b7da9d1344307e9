//! [`Server`]: an [`HttpHandler`] on `127.0.0.1:<port>`, served by hyper on a tokio runtime of
//! its own thread, so a server can be started from sync code and from inside a test's runtime
//! alike. Each connection speaks HTTP/1.1 (keep-alive) or HTTP/2 in cleartext (h2c), chosen by
//! the client's first bytes, as the servers in front of a real replica do (PocketIC's axum, a
//! boundary node); [`ReplicaConfig::http2`] off serves HTTP/1.1 only. keepsake reaches a
//! plain-http URL over h2c (one connection, flow-controlled), most other clients over HTTP/1.1.

use super::replica::{Replica, ReplicaConfig};
use super::{HttpError, HttpHandler, Keys};
use crate::LocalNet;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;

/// A running HTTP server. Dropping it (or [`Server::stop`]) stops it.
pub struct Server {
    replica: Replica,
    addr: SocketAddr,
    requests: Arc<RequestCounts>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Serves `net` on `127.0.0.1:port` (`0` picks a free port).
    pub fn start(
        net: LocalNet,
        keys: Keys,
        config: ReplicaConfig,
        port: u16,
    ) -> std::io::Result<Server> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let max_body = config.max_request_bytes;
        let mut protocols = auto::Builder::new(TokioExecutor::new());
        if !config.http2 {
            protocols = protocols.http1_only();
        }
        let requests = Arc::new(RequestCounts::default());
        let counts = requests.clone();
        let replica = Replica::new(net, keys, config)?;
        let handler = replica.handler();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("localnet-http")
            .build()?;
        let (tx, rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("localnet-server".into())
            .spawn(move || {
                runtime.block_on(accept_loop(
                    listener, protocols, handler, max_body, counts, rx,
                ));
                // Open connections are cut here; handlers hold no locks across awaits, and the
                // replica has already made its last commit, so nothing is worth waiting for.
                runtime.shutdown_timeout(Duration::from_millis(100));
            })?;
        Ok(Server {
            replica,
            addr,
            requests,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The replica behind the server (keys, direct access to the subnet).
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// Requests served so far by HTTP version: `(HTTP/1.x, HTTP/2)`.
    pub fn requests_by_version(&self) -> (u64, u64) {
        (
            self.requests.http1.load(Ordering::Relaxed),
            self.requests.http2.load(Ordering::Relaxed),
        )
    }

    /// Stops the driver after a last commit of the subnet, then stops accepting and cuts open
    /// connections (requests still open get no reply: nothing after the last commit is
    /// acknowledged).
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        self.replica.shutdown();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

/// Requests received, by HTTP version: which protocol clients really chose.
#[derive(Default)]
struct RequestCounts {
    http1: AtomicU64,
    http2: AtomicU64,
}

impl RequestCounts {
    fn count(&self, version: http::Version) {
        let counter = if version == http::Version::HTTP_2 {
            &self.http2
        } else {
            &self.http1
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    protocols: auto::Builder<TokioExecutor>,
    handler: HttpHandler,
    max_body: usize,
    counts: Arc<RequestCounts>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("a non-blocking listener");
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let counts = counts.clone();
        let protocols = protocols.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                counts.count(req.version());
                serve(handler.clone(), max_body, req)
            });
            let _ = protocols
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn serve(
    handler: HttpHandler,
    max_body: usize,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let too_large = |size: usize| {
        let e = HttpError::too_large(size, max_body);
        hyper::Response::builder()
            .status(e.status)
            .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from(e.message)))
            .expect("a valid response")
    };
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(size) = declared.filter(|&s| s > max_body) {
        return Ok(too_large(size));
    }
    let body = match Limited::new(body, max_body).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(too_large(max_body + 1)),
    };
    let response = handler.handle(http::Request::from_parts(parts, body)).await;
    Ok(response.map(Full::new))
}
