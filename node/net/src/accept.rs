//! Inbound connections: TLS handshake (client certificate required), identification by pin,
//! then frames to the inbound channel until the connection ends.

use crate::{frame::read_frame, tls::peer_fingerprint, Inbound, Inner};
use rustls::ServerConfig;
use std::sync::{atomic::Ordering, Arc};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{mpsc, watch},
};
use tokio_rustls::TlsAcceptor;

/// Accepts until shutdown.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    inner: Arc<Inner>,
    inbound: mpsc::Sender<Inbound>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    // Every connection, authenticated or not, costs a task and a TLS state: bound them. Peers
    // need one each (plus one being replaced after a restart); the rest of the budget absorbs
    // probes and handshakes in progress.
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(inner.limits.inbound_connections_max));
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        match accepted {
            Ok((tcp, addr)) => {
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(%addr, "refused a connection: {} inbound connections already open", inner.limits.inbound_connections_max);
                    drop(tcp);
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let inner = inner.clone();
                let inbound = inbound.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    if let Err(reason) = serve(tcp, acceptor, &inner, inbound, shutdown).await {
                        tracing::debug!(%addr, "inbound connection closed: {reason}");
                    }
                    drop(slot);
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    inner: &Inner,
    inbound: mpsc::Sender<Inbound>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    crate::socket::tune(&tcp, inner.limits.dead_peer_after);
    let handshake = tokio::time::timeout(inner.limits.handshake_timeout, acceptor.accept(tcp));
    let mut stream = handshake.await.map_err(|_| "handshake timed out".to_string())?.map_err(|e| format!("handshake: {e}"))?;
    let pin = peer_fingerprint(stream.get_ref().1.peer_certificates()).ok_or("no client certificate")?;
    let Some(peer) = inner.peers.values().find(|p| p.config.cert_sha256 == pin) else {
        tracing::warn!("refused a connection: certificate {pin} is not pinned for any replica");
        return Err(format!("unpinned certificate {pin}"));
    };
    peer.inbound_connections.fetch_add(1, Ordering::Relaxed);
    let from = peer.config.id;
    let result = async {
        loop {
            let frame = tokio::select! {
                r = read_frame(&mut stream, inner.limits.frame_bytes_max) => r,
                _ = shutdown.changed() => return Ok(()),
            };
            match frame {
                Ok(Some((lane, payload))) => {
                    peer.received.fetch_add(1, Ordering::Relaxed);
                    if inbound.send(Inbound { from, lane, payload }).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    tracing::warn!(peer = from.get(), "dropping connection: {e}");
                    return Err(e.to_string());
                }
            }
        }
    }
    .await;
    peer.inbound_connections.fetch_sub(1, Ordering::Relaxed);
    result
}
