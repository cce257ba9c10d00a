//! Serving the API on a TCP listener, with deadlines a slow client cannot stretch.
//!
//! Why not `axum::serve`: it takes no configuration, and hyper enforces its header read timeout
//! only when given a timer, which `axum::serve` does not give. A client that opened connections
//! and sent nothing, or its headers a byte at a time, held each one (a task, a descriptor)
//! forever: 1,100 were held in a test. Here every connection is HTTP/1.1 with a timer:
//! - the request line and headers must arrive within `header_read_timeout`, counted from the
//!   first byte awaited, so a connection that sends nothing and an idle keep-alive one end too;
//! - the body's deadline is `body_read_timeout`, enforced where a body is read (`post_windows`).
//!
//! HTTP/2 is not offered: over plain `http://` neither browsers nor the collector's shipper
//! speak it, and its streams would need deadlines of their own.
//!
//! Shutdown: when `shutdown` completes, no connection is accepted; open ones finish the request
//! in progress (idle ones close at once), then `serve` returns.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

use super::{router_with, ApiOptions, ApiState};

/// Serves the API with the default [`ApiOptions`] for the listener's address until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let options = ApiOptions::listening_on(listener.local_addr()?, &state);
    serve_with(listener, state, options, shutdown).await
}

/// [`serve`] with the options given.
pub async fn serve_with(
    listener: TcpListener,
    state: ApiState,
    options: ApiOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let header_read_timeout = options.header_read_timeout;
    let app = router_with(state, options);
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a sender; `recv` answers `None` once all are gone.
    let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                // Out of descriptors, or a connection reset before it was accepted: wait a
                // little rather than spin, as `axum::serve` does.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        tokio::spawn(connection(stream, app.clone(), header_read_timeout, stop_rx.clone(), open_tx.clone()));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_tx);
    let _ = open_rx.recv().await;
    Ok(())
}

async fn connection(
    stream: tokio::net::TcpStream,
    app: Router,
    header_read_timeout: Duration,
    mut stop: watch::Receiver<bool>,
    _open: mpsc::Sender<()>,
) {
    let service =
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| app.clone().oneshot(req.map(Body::new)));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let stopping = async move {
        // `Ref` is not `Send`: drop it here, not across the select's await.
        let _ = stop.wait_for(|stop| *stop).await.map(|_| ());
    };
    tokio::select! {
        // A timed-out or broken connection is the client's business: nothing to report.
        _ = conn.as_mut() => {}
        () = stopping => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
