//! # stele-net: the replica-to-replica transport
//!
//! TLS 1.3 with mutual authentication; each peer is pinned by the SHA-256 of its certificate
//! and identified by it (the consensus core trusts `from` because of this). Frames carry a
//! lane: consensus frames always go before bulk (state-transfer) frames. Sends never block:
//! each peer has a bounded queue per lane, and a full queue refuses the frame (the consensus
//! core retransmits what matters; state transfer retries).
//!
//! Connections: every replica dials every peer and only *writes* on the connection it
//! dialed; it only *reads* on connections it accepted. Two TCP connections per pair, no
//! tie-breaking, and a restarted peer is simply dialed again (exponential backoff with
//! jitter, [`NetLimits::reconnect_min`] to [`NetLimits::reconnect_max`]).
//!
//! Files: [`frame`] (bytes on the wire), `tls` (rustls configs and pins), `peer` (the
//! per-peer queue and dialer), `accept` (inbound connections), [`pki`] (certificates).

pub mod frame;
pub mod pki;

mod accept;
mod peer;
mod socket;
mod tls;

use bytes::Bytes;
use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};
use stele_consensus::ReplicaId;
use stele_rpc::tls::Fingerprint;
use tokio::sync::{mpsc, watch};

/// Which queue a frame goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Consensus messages: small, latency-critical, always first.
    Consensus,
    /// State transfer: large, yields to consensus frames.
    Bulk,
}

/// One peer in the config.
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// Its replica id.
    pub id: ReplicaId,
    /// `host:port` to dial.
    pub addr: String,
    /// The pin: SHA-256 of its certificate.
    pub cert_sha256: Fingerprint,
}

/// Bounds and timings.
#[derive(Clone, Debug)]
pub struct NetLimits {
    /// Largest payload accepted or sent.
    pub frame_bytes_max: u32,
    /// Queued consensus frames per peer.
    pub consensus_queue_frames: usize,
    /// Queued bulk frames per peer.
    pub bulk_queue_frames: usize,
    /// First reconnect delay.
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// A TCP connect plus TLS handshake must finish within this.
    pub handshake_timeout: Duration,
    /// Inbound frames buffered before readers wait (backpressure to the senders).
    pub inbound_frames: usize,
    /// Inbound connections open at once, handshakes included; more are closed at accept.
    pub inbound_connections_max: usize,
    /// An idle link whose peer answers no keepalive probe for about this long is dropped
    /// (a powered-off VM sends no FIN; see `socket.rs`).
    pub dead_peer_after: Duration,
}

impl Default for NetLimits {
    fn default() -> Self {
        Self {
            frame_bytes_max: stele_consensus::limits::MESSAGE_BYTES_MAX,
            consensus_queue_frames: 8_192,
            bulk_queue_frames: 64,
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(2),
            handshake_timeout: Duration::from_secs(5),
            inbound_frames: 65_536,
            inbound_connections_max: 64,
            dead_peer_after: Duration::from_secs(30),
        }
    }
}

/// Everything the transport needs.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// This replica.
    pub id: ReplicaId,
    /// Address to accept peers on.
    pub listen: SocketAddr,
    /// Every other replica.
    pub peers: Vec<PeerConfig>,
    /// Cluster CA (PEM).
    pub ca_pem: PathBuf,
    /// This replica's certificate chain (PEM).
    pub cert_pem: PathBuf,
    /// Its key (PEM).
    pub key_pem: PathBuf,
    /// Bounds and timings.
    pub limits: NetLimits,
}

/// A frame from an authenticated peer.
#[derive(Clone, Debug)]
pub struct Inbound {
    /// Who sent it (proved by its certificate).
    pub from: ReplicaId,
    /// Its lane.
    pub lane: Lane,
    /// The bytes.
    pub payload: Bytes,
}

/// The transport could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Certificates, key or CA unusable.
    #[error("transport TLS setup: {0}")]
    Tls(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The peer list is inconsistent.
    #[error("peer list: {0}")]
    Peers(String),
}

/// A frame was not queued.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    /// Not a configured peer.
    #[error("replica {0} is not a peer")]
    UnknownPeer(u16),
    /// The peer's queue for that lane is full (it is slow or unreachable).
    #[error("queue to replica {0} is full")]
    QueueFull(u16),
    /// Larger than the frame limit.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Payload length.
        len: usize,
        /// Limit.
        max: u32,
    },
}

/// What `peers()` reports.
#[derive(Clone, Debug)]
pub struct PeerStatus {
    /// Replica id.
    pub id: ReplicaId,
    /// Dialed address.
    pub addr: String,
    /// Our connection to it is up.
    pub connected_out: bool,
    /// Its connection to us is up.
    pub connected_in: bool,
    /// Frames written to it.
    pub frames_sent: u64,
    /// Frames read from it.
    pub frames_received: u64,
    /// Frames refused (queue full) or lost with a broken connection.
    pub frames_dropped: u64,
    /// The last connection error, if any.
    pub last_error: Option<String>,
}

struct Inner {
    id: ReplicaId,
    local_addr: SocketAddr,
    limits: NetLimits,
    peers: BTreeMap<ReplicaId, Arc<peer::Peer>>,
    shutdown: watch::Sender<bool>,
}

/// The running transport. Cheap to clone.
#[derive(Clone)]
pub struct Network {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").field("id", &self.inner.id).field("local_addr", &self.inner.local_addr).finish()
    }
}

impl Network {
    /// Binds `cfg.listen` and starts accepting and dialing.
    pub async fn start(cfg: NetConfig) -> Result<(Network, mpsc::Receiver<Inbound>), NetError> {
        let listener = std::net::TcpListener::bind(cfg.listen).map_err(|source| NetError::Bind { addr: cfg.listen, source })?;
        Self::start_on(listener, cfg).await
    }

    /// Starts on a listener bound by the caller (tests bind every replica's port first).
    pub async fn start_on(listener: std::net::TcpListener, cfg: NetConfig) -> Result<(Network, mpsc::Receiver<Inbound>), NetError> {
        let (server_tls, client_tls) = tls::configs(&cfg)?;
        let local_addr = listener.local_addr().map_err(|source| NetError::Bind { addr: cfg.listen, source })?;
        listener.set_nonblocking(true).map_err(|source| NetError::Bind { addr: cfg.listen, source })?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|source| NetError::Bind { addr: cfg.listen, source })?;
        let mut peers = BTreeMap::new();
        for p in &cfg.peers {
            if p.id == cfg.id {
                return Err(NetError::Peers(format!("replica {} lists itself as a peer", p.id.get())));
            }
            if let Some(q) = cfg.peers.iter().find(|q| q.id != p.id && q.cert_sha256 == p.cert_sha256) {
                // The pin is the identity: one certificate for two replicas would let one
                // speak for the other.
                return Err(NetError::Peers(format!(
                    "certificate {} is pinned for both replica {} and replica {}",
                    p.cert_sha256,
                    p.id.get(),
                    q.id.get()
                )));
            }
            if peers.insert(p.id, Arc::new(peer::Peer::new(p.clone()))).is_some() {
                return Err(NetError::Peers(format!("replica {} is listed twice", p.id.get())));
            }
        }
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (inbound_tx, inbound_rx) = mpsc::channel(cfg.limits.inbound_frames);
        let inner = Arc::new(Inner { id: cfg.id, local_addr, limits: cfg.limits.clone(), peers, shutdown });
        for p in inner.peers.values() {
            tokio::spawn(peer::dial_loop(p.clone(), client_tls.clone(), cfg.limits.clone(), shutdown_rx.clone()));
        }
        tokio::spawn(accept::accept_loop(listener, server_tls, inner.clone(), inbound_tx, shutdown_rx));
        Ok((Network { inner }, inbound_rx))
    }

    /// Queues `payload` for `to`. Never blocks.
    pub fn send(&self, to: ReplicaId, lane: Lane, payload: Bytes) -> Result<(), SendError> {
        if payload.len() > self.inner.limits.frame_bytes_max as usize {
            return Err(SendError::TooLarge { len: payload.len(), max: self.inner.limits.frame_bytes_max });
        }
        let peer = self.inner.peers.get(&to).ok_or(SendError::UnknownPeer(to.get()))?;
        peer.push(lane, payload, &self.inner.limits)
    }

    /// Queues `payload` for every peer; full queues drop it (counted).
    pub fn broadcast(&self, lane: Lane, payload: Bytes) {
        for id in self.inner.peers.keys() {
            let _ = self.send(*id, lane, payload.clone());
        }
    }

    /// Every peer's connection state and counters.
    pub fn peers(&self) -> Vec<PeerStatus> {
        self.inner.peers.values().map(|p| p.status()).collect()
    }

    /// The bound listen address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Stops accepting, dialing and writing.
    pub async fn shutdown(self) {
        let _ = self.inner.shutdown.send(true);
        tokio::task::yield_now().await;
    }
}
