//! One peer: its bounded queues and the task that dials it and writes to it.

use crate::{frame::write_frame, tls::peer_fingerprint, Lane, NetLimits, PeerConfig, PeerStatus, SendError};
use bytes::Bytes;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::Duration,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, BufWriter},
    net::TcpStream,
    sync::{watch, Notify},
};
use tokio_rustls::TlsConnector;

#[derive(Default)]
struct Queues {
    consensus: VecDeque<Bytes>,
    bulk: VecDeque<Bytes>,
}

/// Shared state of one peer.
pub(crate) struct Peer {
    pub(crate) config: PeerConfig,
    queues: Mutex<Queues>,
    ready: Notify,
    pub(crate) connected_out: AtomicBool,
    pub(crate) inbound_connections: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) dropped: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Peer {
    pub(crate) fn new(config: PeerConfig) -> Self {
        Self {
            config,
            queues: Mutex::new(Queues::default()),
            ready: Notify::new(),
            connected_out: AtomicBool::new(false),
            inbound_connections: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    pub(crate) fn push(&self, lane: Lane, payload: Bytes, limits: &NetLimits) -> Result<(), SendError> {
        {
            let mut q = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
            let (queue, cap) = match lane {
                Lane::Consensus => (&mut q.consensus, limits.consensus_queue_frames),
                Lane::Bulk => (&mut q.bulk, limits.bulk_queue_frames),
            };
            if queue.len() >= cap {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return Err(SendError::QueueFull(self.config.id.get()));
            }
            queue.push_back(payload);
        }
        self.ready.notify_one();
        Ok(())
    }

    /// Consensus first, then bulk.
    fn pop(&self) -> Option<(Lane, Bytes)> {
        let mut q = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = q.consensus.pop_front() {
            return Some((Lane::Consensus, f));
        }
        q.bulk.pop_front().map(|f| (Lane::Bulk, f))
    }

    pub(crate) fn set_error(&self, error: String) {
        *self.last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
    }

    pub(crate) fn status(&self) -> PeerStatus {
        PeerStatus {
            id: self.config.id,
            addr: self.config.addr.clone(),
            connected_out: self.connected_out.load(Ordering::Relaxed),
            connected_in: self.inbound_connections.load(Ordering::Relaxed) > 0,
            frames_sent: self.sent.load(Ordering::Relaxed),
            frames_received: self.received.load(Ordering::Relaxed),
            frames_dropped: self.dropped.load(Ordering::Relaxed),
            last_error: self.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone(),
        }
    }
}

/// Why one connection attempt or connection ended.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS handshake: {0}")]
    Handshake(std::io::Error),
    #[error("timed out connecting")]
    Timeout,
    #[error("presented certificate {got} but {expected} is pinned for this replica")]
    WrongPin { got: String, expected: String },
    #[error("write: {0}")]
    Write(std::io::Error),
    #[error("closed by the peer")]
    Closed,
}

/// Dials `peer` until shutdown, writing its queued frames whenever connected.
pub(crate) async fn dial_loop(peer: Arc<Peer>, tls: Arc<ClientConfig>, limits: NetLimits, mut shutdown: watch::Receiver<bool>) {
    let connector = TlsConnector::from(tls);
    let mut backoff = limits.reconnect_min;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let attempt = tokio::select! {
            r = connect(&peer, &connector, limits.handshake_timeout, limits.dead_peer_after) => r,
            _ = shutdown.changed() => return,
        };
        match attempt {
            Ok(stream) => {
                backoff = limits.reconnect_min;
                peer.connected_out.store(true, Ordering::Relaxed);
                tracing::debug!(peer = peer.config.id.get(), "connected");
                let ended = tokio::select! {
                    r = write_loop(&peer, stream) => r,
                    _ = shutdown.changed() => return,
                };
                peer.connected_out.store(false, Ordering::Relaxed);
                if let Err(e) = ended {
                    tracing::debug!(peer = peer.config.id.get(), "connection lost: {e}");
                    peer.set_error(e.to_string());
                }
            }
            Err(e) => {
                if matches!(e, LinkError::WrongPin { .. }) {
                    tracing::warn!(peer = peer.config.id.get(), addr = %peer.config.addr, "refusing peer: {e}");
                }
                peer.set_error(e.to_string());
            }
        }
        // Jitter keeps a restarted cluster from reconnecting in lockstep.
        let jitter = rand::random_range(0..=backoff.as_millis() as u64 / 2);
        let delay = backoff + Duration::from_millis(jitter);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
        backoff = (backoff * 2).min(limits.reconnect_max);
    }
}

async fn connect(
    peer: &Peer,
    connector: &TlsConnector,
    timeout: Duration,
    dead_peer_after: Duration,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, LinkError> {
    let attempt = async {
        let tcp = TcpStream::connect(&peer.config.addr).await.map_err(LinkError::Connect)?;
        crate::socket::tune(&tcp, dead_peer_after);
        // The name checked against the certificate is the replica's identity, not the host:
        // what matters is which replica answers, wherever it runs.
        let name = ServerName::try_from(crate::pki::replica_dns_name(peer.config.id))
            .map_err(|e| LinkError::Handshake(std::io::Error::other(e)))?;
        let stream = connector.connect(name, tcp).await.map_err(LinkError::Handshake)?;
        let got = peer_fingerprint(stream.get_ref().1.peer_certificates());
        if got != Some(peer.config.cert_sha256) {
            return Err(LinkError::WrongPin {
                got: got.map_or_else(|| "none".into(), |f| f.to_string()),
                expected: peer.config.cert_sha256.to_string(),
            });
        }
        Ok(stream)
    };
    tokio::time::timeout(timeout, attempt).await.map_err(|_| LinkError::Timeout)?
}

async fn write_loop(peer: &Peer, stream: tokio_rustls::client::TlsStream<TcpStream>) -> Result<(), LinkError> {
    // The peer never writes on this connection: a read that returns means it closed it (a
    // restart, or it refused one of our frames). Noticing that while idle means the next
    // frame goes to a fresh connection instead of into a dead socket.
    let (mut closed, w) = tokio::io::split(stream);
    let mut w = BufWriter::with_capacity(64 * 1024, w);
    let mut probe = [0u8; 1];
    loop {
        let Some((lane, payload)) = peer.pop() else {
            w.flush().await.map_err(LinkError::Write)?;
            tokio::select! {
                _ = peer.ready.notified() => continue,
                _ = closed.read(&mut probe) => return Err(LinkError::Closed),
            }
        };
        if let Err(e) = write_frame(&mut w, lane, &payload).await {
            peer.dropped.fetch_add(1, Ordering::Relaxed);
            return Err(LinkError::Write(e));
        }
        peer.sent.fetch_add(1, Ordering::Relaxed);
    }
}
