//! How keepsake reaches a replica: the HTTP version under the agent.
//!
//! An export keeps ~40 snapshot reads in flight. Over HTTP/1.1 that is one connection per
//! read, and hyper grows each connection's read buffer to ~400 KiB as 2 MB replies pass and keeps
//! it while the connection lives, so peak memory grew with snapshot size (64 MiB for a 66 MiB
//! snapshot, 92 MiB for 1 GiB). Over HTTP/2 every read shares one connection whose flow-control
//! window bounds the reply bytes in flight, so the peak hardly grows with the snapshot
//! (docs/BENCHMARKS.md, "HTTP/2 landed").
//!
//! - `https://` (mainnet, a remote replica): TLS ALPN offers h2 and HTTP/1.1 and the server
//!   picks.
//! - `http://` (a local replica, PocketIC, localnet): there is no ALPN, so the first request
//!   (the status call that fetches the root key) goes out as HTTP/2 with prior knowledge (h2c).
//!   If it fails, for instance because a proxy in front speaks only HTTP/1.1, the agent is built
//!   again on HTTP/1.1 and that request is repeated; its error, if any, is the one reported.
//!
//! `KEEPSAKE_HTTP1=1` skips HTTP/2 everywhere (h1 only), for a server whose HTTP/2 misbehaves
//! and to compare the two (scripts/bench.sh).
//!
//! Every client is reqwest on rustls with ic-agent's own timeout (ic-agent builds the same when
//! given none) plus the HTTP/2 frame size and connection window below.

use std::sync::Arc;
use std::time::Duration;

use ic_agent::{Agent, Identity};

/// Largest reply the agent accepts: large snapshot slices come back in one response.
const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;

/// ic-agent's own per-request timeout, kept for the client we build ourselves.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(360);

/// How long the HTTP/2 attempt may take before HTTP/1.1 is tried: a server that does not speak
/// HTTP/2 may also just wait for more bytes instead of closing.
const H2_PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest HTTP/2 frame the server may send us (the protocol's default is 16 KiB). With 1 MiB a
/// 2 MB snapshot slice arrives in two frames instead of 128: at 16 KiB, HTTP/2 was 19-22% slower
/// than HTTP/1.1 in the direct mode, at 1 MiB it is level (docs/BENCHMARKS.md).
const H2_MAX_FRAME: u32 = 1024 * 1024;

/// The HTTP/2 connection's flow-control window: the reply bytes the server may send before we
/// have read them, shared by every stream (each stream keeps hyper's 2 MiB, which holds one 2 MB
/// slice). It bounds memory, and it bounds throughput to window / round-trip time. Across 200 ms
/// of latency, a 210 MiB export took 10.4-10.9 s with hyper's 5 MiB default against HTTP/1.1's
/// 2.1-3.1 s (forty connections, no shared cap), and 2.4-2.8 s with 32 MiB; against a replica in
/// 1 s rounds 32 MiB costs 12% there and nothing at 30 ms. Peaks on localnet: 59-64 MiB against
/// HTTP/1.1's 71-93; 64 MiB would reach icp-cli's (docs/BENCHMARKS.md, "HTTP/2 landed").
const H2_CONNECTION_WINDOW: u32 = 32 * 1024 * 1024;

/// The variable that keeps every connection on HTTP/1.1.
const HTTP1_VAR: &str = "KEEPSAKE_HTTP1";

/// The HTTP a client speaks.
#[derive(Debug, Clone, Copy)]
enum Http {
    /// Whatever TLS ALPN settles (https).
    Negotiated,
    /// HTTP/2 with prior knowledge (cleartext).
    H2c,
    /// HTTP/1.1 only (cleartext, the fallback).
    Http1,
}

/// An agent for `url` as `identity`, with the root key fetched unless `mainnet`; the error is
/// ic-agent's, for the caller to put in context.
pub async fn connect(
    url: &str,
    identity: Arc<dyn Identity>,
    mainnet: bool,
) -> anyhow::Result<Agent> {
    let http1 = std::env::var_os(HTTP1_VAR).is_some_and(|v| !v.is_empty() && v != "0");
    let plain_http = url.starts_with("http://");
    if plain_http && !http1 {
        let agent = build(url, identity.clone(), Http::H2c)?;
        let first = tokio::time::timeout(H2_PROBE_TIMEOUT, first_request(&agent, mainnet)).await;
        if let Ok(Ok(())) = first {
            return Ok(agent);
        }
    }
    let agent = build(
        url,
        identity,
        if plain_http || http1 {
            Http::Http1
        } else {
            Http::Negotiated
        },
    )?;
    if !mainnet {
        agent.fetch_root_key().await?;
    }
    Ok(agent)
}

/// The status call, with the root key for every network but mainnet.
async fn first_request(agent: &Agent, mainnet: bool) -> Result<(), ic_agent::AgentError> {
    if mainnet {
        agent.status().await.map(drop)
    } else {
        agent.fetch_root_key().await
    }
}

fn build(url: &str, identity: Arc<dyn Identity>, http: Http) -> anyhow::Result<Agent> {
    let client = reqwest::Client::builder()
        .tls_backend_rustls()
        .timeout(REQUEST_TIMEOUT)
        .http2_max_frame_size(H2_MAX_FRAME)
        .http2_initial_connection_window_size(H2_CONNECTION_WINDOW);
    let client = match http {
        Http::Negotiated => client,
        Http::H2c => client.http2_prior_knowledge(),
        Http::Http1 => client.http1_only(),
    };
    Ok(Agent::builder()
        .with_url(url)
        .with_arc_identity(identity)
        .with_max_response_body_size(MAX_RESPONSE_BODY)
        .with_http_client(client.build()?)
        .build()?)
}
