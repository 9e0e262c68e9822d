//! The minimal hyper baseline for REST: `tickd-loadtest bare-hyper-server` answers every request
//! with the same bytes (a `/price/latest` body tickd sent), over hyper's HTTP/1.1 with
//! keep-alive, on a multi-threaded tokio runtime (`--threads` workers): the least work a JSON server can do per
//! request.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// `tickd-loadtest bare-hyper-server` options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerArgs {
    /// TCP address to listen on.
    #[arg(long)]
    listen: SocketAddr,
    /// The response body.
    #[arg(long)]
    body: PathBuf,
    /// Runtime worker threads (tokio's default: one per CPU).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
}

/// Serves until killed.
pub(crate) async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    let body = Bytes::from(
        std::fs::read(&args.body).with_context(|| format!("read {}", args.body.display()))?,
    );
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_req| {
                let body = body.clone();
                async move {
                    hyper::Response::builder()
                        .header(hyper::header::CONTENT_TYPE, "application/json")
                        .body(Full::new(body))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One GET of `path` from `addr`, with hyper's client: the status and the body.
pub(crate) async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, Bytes)> {
    use http_body_util::BodyExt;
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(http_body_util::Empty::<Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}
