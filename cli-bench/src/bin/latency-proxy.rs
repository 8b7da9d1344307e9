//! `latency-proxy UPSTREAM_HOST:PORT DELAY_MS`: a TCP proxy on 127.0.0.1 (port printed as
//! `listening on http://127.0.0.1:<port>`) that delays every byte coming back from the upstream
//! by `DELAY_MS`, so each request/response round trip takes that much longer, as against a
//! replica across a network, while bandwidth stays unlimited.
//!
//! Why only the response direction: one delay per round trip is what a client's concurrency has
//! to hide, and a delay line (bytes timestamped when read, written once their time has come)
//! keeps the byte order and never holds more than `DELAY_MS` worth of traffic.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Copies upstream → client, each read released `delay` after it arrived.
async fn delayed(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    while let Some((due, bytes)) = rx.recv().await {
        tokio::time::sleep_until(due).await;
        if to.write_all(&bytes).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
    reader.abort();
}

async fn serve(client: TcpStream, upstream: String, delay: Duration) -> Result<()> {
    let server = TcpStream::connect(&upstream)
        .await
        .with_context(|| format!("cannot connect to {upstream}"))?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (mut client_read, client_write) = client.into_split();
    let (server_read, mut server_write) = server.into_split();
    let back = tokio::spawn(delayed(server_read, client_write, delay));
    // Requests go through at once.
    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    let _ = server_write.shutdown().await;
    let _ = back.await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [upstream, delay_ms] = args.as_slice() else {
        bail!("usage: latency-proxy UPSTREAM_HOST:PORT DELAY_MS");
    };
    let delay = Duration::from_millis(delay_ms.parse().context("DELAY_MS is a number")?);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (client, _) = listener.accept().await?;
        let upstream = upstream.clone();
        tokio::spawn(async move {
            if let Err(e) = serve(client, upstream, delay).await {
                eprintln!("latency-proxy: {e:#}");
            }
        });
    }
}
