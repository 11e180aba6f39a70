//! The replica's transport: `stele-net`'s mutual-TLS network configured from the replica
//! config (every peer pinned by certificate fingerprint), as a [`PeerLink`].

use super::{config::ReplicaConfig, link::PeerLink};
use bytes::Bytes;
use std::sync::Arc;
use stele_consensus::ReplicaId;
use stele_net::{Lane, NetConfig, NetLimits, Network, PeerConfig};
use tokio::sync::mpsc;

/// The network as the shell uses it.
pub(crate) struct NetLink {
    network: Network,
}

impl PeerLink for NetLink {
    fn send(&self, to: ReplicaId, bulk: bool, payload: Bytes) {
        let lane = if bulk { Lane::Bulk } else { Lane::Consensus };
        if let Err(err) = self.network.send(to, lane, payload) {
            tracing::debug!(peer = to.get(), "frame dropped: {err}");
        }
    }

    fn broadcast(&self, payload: Bytes) {
        self.network.broadcast(Lane::Consensus, payload);
    }

    fn peers(&self) -> Vec<(ReplicaId, bool)> {
        self.network.peers().into_iter().map(|p| (p.id, p.connected_out)).collect()
    }
}

/// Starts the transport; inbound frames arrive on the returned channel.
pub(crate) async fn start(config: &ReplicaConfig) -> anyhow::Result<(Arc<NetLink>, mpsc::Receiver<(ReplicaId, Bytes)>)> {
    let peers = config
        .peers
        .iter()
        .filter(|p| p.id != config.replica.id)
        .map(|p| {
            Ok(PeerConfig {
                id: ReplicaId::new(p.id),
                addr: p.address.clone(),
                cert_sha256: p.cert_sha256.parse().map_err(anyhow::Error::msg)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let net_config = NetConfig {
        id: config.id(),
        listen: config.network.listen,
        peers,
        ca_pem: config.cluster.ca_cert.clone(),
        cert_pem: config.network.cert.clone(),
        key_pem: config.network.key.clone(),
        limits: NetLimits::default(),
    };
    let (network, mut inbound) = Network::start(net_config).await?;
    let (tx, rx) = mpsc::channel(65_536);
    tokio::spawn(async move {
        while let Some(frame) = inbound.recv().await {
            if tx.send((frame.from, frame.payload)).await.is_err() {
                return;
            }
        }
    });
    Ok((Arc::new(NetLink { network }), rx))
}
