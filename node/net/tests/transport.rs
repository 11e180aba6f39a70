//! The transport over real sockets on loopback: delivery on both lanes, who may connect,
//! what a hostile connection can do, reconnects and the queue bound.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use std::{net::TcpListener, path::Path, time::Duration};
use stele_consensus::ReplicaId;
use stele_net::{pki::ClusterCa, Inbound, Lane, NetConfig, NetLimits, Network, PeerConfig, SendError};
use tokio::{io::AsyncWriteExt, sync::mpsc};

struct Node {
    cfg: NetConfig,
    listener: Option<TcpListener>,
}

/// n replicas of one cluster: certificates on disk, listeners bound, configs pinned.
fn cluster(dir: &Path, n: u16) -> Vec<Node> {
    let ca = ClusterCa::generate("test").unwrap();
    std::fs::write(dir.join("ca.crt"), ca.cert_pem()).unwrap();
    let mut ids = Vec::new();
    let mut listeners = Vec::new();
    for i in 0..n {
        let id = ca.issue_replica(ReplicaId::new(i), &["127.0.0.1".into()]).unwrap();
        std::fs::write(dir.join(format!("{i}.crt")), &id.cert_pem).unwrap();
        std::fs::write(dir.join(format!("{i}.key")), &id.key_pem).unwrap();
        ids.push(id);
        listeners.push(TcpListener::bind("127.0.0.1:0").unwrap());
    }
    let addrs: Vec<_> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    listeners
        .into_iter()
        .enumerate()
        .map(|(i, l)| Node {
            cfg: NetConfig {
                id: ReplicaId::new(i as u16),
                listen: addrs[i],
                peers: (0..n as usize)
                    .filter(|j| *j != i)
                    .map(|j| PeerConfig { id: ReplicaId::new(j as u16), addr: addrs[j].to_string(), cert_sha256: ids[j].fingerprint })
                    .collect(),
                ca_pem: dir.join("ca.crt"),
                cert_pem: dir.join(format!("{i}.crt")),
                key_pem: dir.join(format!("{i}.key")),
                limits: NetLimits { reconnect_max: Duration::from_millis(200), ..NetLimits::default() },
            },
            listener: Some(l),
        })
        .collect()
}

async fn start(node: &mut Node) -> (Network, mpsc::Receiver<Inbound>) {
    let listener = match node.listener.take() {
        Some(l) => l,
        None => TcpListener::bind(node.cfg.listen).unwrap(),
    };
    Network::start_on(listener, node.cfg.clone()).await.unwrap()
}

async fn recv(rx: &mut mpsc::Receiver<Inbound>) -> Inbound {
    tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("frame within 10 s").unwrap()
}

#[tokio::test]
async fn four_replicas_exchange_frames_on_both_lanes() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = cluster(dir.path(), 4);
    let mut nets = Vec::new();
    for n in &mut nodes {
        nets.push(start(n).await);
    }
    for (i, (net, _)) in nets.iter().enumerate() {
        net.broadcast(Lane::Consensus, Bytes::from(vec![i as u8; 10]));
        let big = Bytes::from(vec![i as u8; 300_000]);
        net.send(ReplicaId::new(((i + 1) % 4) as u16), Lane::Bulk, big).unwrap();
    }
    for (i, (_, rx)) in nets.iter_mut().enumerate() {
        let mut consensus_from = Vec::new();
        let mut bulk = None;
        for _ in 0..4 {
            let f = recv(rx).await;
            match f.lane {
                Lane::Consensus => {
                    assert_eq!(f.payload, Bytes::from(vec![f.from.get() as u8; 10]), "payload names its sender");
                    consensus_from.push(f.from.get());
                }
                Lane::Bulk => bulk = Some(f),
            }
        }
        consensus_from.sort();
        let expected: Vec<u16> = (0..4).filter(|j| *j != i as u16).collect();
        assert_eq!(consensus_from, expected);
        let bulk = bulk.unwrap();
        assert_eq!(bulk.from.get() as usize, (i + 3) % 4);
        assert_eq!(bulk.payload.len(), 300_000);
    }
    let status = nets[0].0.peers();
    assert!(status.iter().all(|p| p.connected_out && p.frames_sent >= 1), "{status:?}");
}

#[tokio::test]
async fn a_certificate_with_the_wrong_identity_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = cluster(dir.path(), 4);
    // Replica 0 pins another certificate of the same CA (replica 3's, which never runs) for
    // replica 1: replica 1's own certificate — right CA, other identity — must be refused
    // both when 0 dials it and when it dials 0.
    let other = nodes[0].cfg.peers.iter().find(|p| p.id.get() == 3).unwrap().cert_sha256;
    nodes[0].cfg.peers.iter_mut().find(|p| p.id.get() == 1).unwrap().cert_sha256 = other;
    nodes[0].cfg.peers.retain(|p| p.id.get() != 3);
    let (n0, mut rx0) = start(&mut nodes[0]).await;
    let (n1, _rx1) = start(&mut nodes[1]).await;
    let (n2, _rx2) = start(&mut nodes[2]).await;
    n1.send(ReplicaId::new(0), Lane::Consensus, Bytes::from_static(b"from 1")).unwrap();
    n2.send(ReplicaId::new(0), Lane::Consensus, Bytes::from_static(b"from 2")).unwrap();
    let f = recv(&mut rx0).await;
    assert_eq!(f.from.get(), 2, "only the honestly pinned peer gets through");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rx0.try_recv().is_err(), "replica 1's frame must not arrive");
    let to1 = n0.peers().into_iter().find(|p| p.id.get() == 1).unwrap();
    assert!(!to1.connected_out, "dialing a peer that shows another identity fails");
    assert!(to1.last_error.unwrap_or_default().contains("pinned"));
}

#[tokio::test]
async fn another_cas_certificate_plaintext_and_garbage_are_refused_and_the_node_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = cluster(dir.path(), 2);
    let other = tempfile::tempdir().unwrap();
    let mut foreign = cluster(other.path(), 2);
    // A replica of another cluster that claims to be replica 1 at the same place.
    foreign[1].cfg.peers[0].addr = nodes[0].cfg.listen.to_string();
    let (_n0, mut rx0) = start(&mut nodes[0]).await;
    let (f1, _frx) = start(&mut foreign[1]).await;
    f1.send(ReplicaId::new(0), Lane::Consensus, Bytes::from_static(b"intruder")).unwrap();
    // Plaintext HTTP and random bytes on the port.
    for junk in [&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], &[0x16, 0x03, 0x01, 0xff, 0xff, 0, 1, 2, 3][..], &[0u8; 64][..]] {
        let mut s = tokio::net::TcpStream::connect(nodes[0].cfg.listen).await.unwrap();
        let _ = s.write_all(junk).await;
    }
    let (n1, _rx1) = start(&mut nodes[1]).await;
    n1.send(ReplicaId::new(0), Lane::Consensus, Bytes::from_static(b"honest")).unwrap();
    let f = recv(&mut rx0).await;
    assert_eq!((f.from.get(), &f.payload[..]), (1, &b"honest"[..]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx0.try_recv().is_err(), "nothing from the other cluster");
}

#[tokio::test]
async fn an_oversized_frame_drops_only_that_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = cluster(dir.path(), 2);
    nodes[0].cfg.limits.frame_bytes_max = 1_000;
    let (_n0, mut rx0) = start(&mut nodes[0]).await;
    let (n1, _rx1) = start(&mut nodes[1]).await;
    n1.send(ReplicaId::new(0), Lane::Consensus, Bytes::from(vec![1u8; 5_000])).unwrap();
    n1.send(ReplicaId::new(0), Lane::Consensus, Bytes::from_static(b"after")).unwrap();
    // The big frame kills the connection (the small one behind it may die with it); the
    // sender reconnects and later frames arrive.
    let started = std::time::Instant::now();
    loop {
        let _ = n1.send(ReplicaId::new(0), Lane::Consensus, Bytes::from_static(b"later"));
        if let Ok(Some(f)) = tokio::time::timeout(Duration::from_millis(200), rx0.recv()).await {
            assert!(f.payload.len() <= 1_000, "the oversized frame is never delivered");
            if &f.payload[..] == b"later" {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the sender did not reconnect within 10 s");
    }
}

#[tokio::test]
async fn a_restarted_peer_is_dialed_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = cluster(dir.path(), 2);
    let (n0, _rx0) = start(&mut nodes[0]).await;
    let (n1, mut rx1) = start(&mut nodes[1]).await;
    n0.send(ReplicaId::new(1), Lane::Consensus, Bytes::from_static(b"one")).unwrap();
    assert_eq!(&recv(&mut rx1).await.payload[..], b"one");
    n1.shutdown().await;
    drop(rx1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_n1, mut rx1) = start(&mut nodes[1]).await;
    // Frames written into the dead connection may be lost; keep sending until one arrives.
    let started = std::time::Instant::now();
    loop {
        let _ = n0.send(ReplicaId::new(1), Lane::Consensus, Bytes::from_static(b"two"));
        if let Ok(Some(f)) = tokio::time::timeout(Duration::from_millis(200), rx1.recv()).await {
            assert_eq!(&f.payload[..], b"two");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no reconnect within 10 s");
    }
}

#[tokio::test]
async fn queues_to_an_unreachable_peer_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = cluster(dir.path(), 2);
    nodes[0].cfg.limits.consensus_queue_frames = 100;
    nodes[0].cfg.limits.bulk_queue_frames = 3;
    let (n0, _rx0) = start(&mut nodes[0]).await;
    // Replica 1 never starts.
    for _ in 0..100 {
        n0.send(ReplicaId::new(1), Lane::Consensus, Bytes::from_static(b"x")).unwrap();
    }
    assert_eq!(n0.send(ReplicaId::new(1), Lane::Consensus, Bytes::from_static(b"x")), Err(SendError::QueueFull(1)));
    for _ in 0..3 {
        n0.send(ReplicaId::new(1), Lane::Bulk, Bytes::from_static(b"y")).unwrap();
    }
    assert_eq!(n0.send(ReplicaId::new(1), Lane::Bulk, Bytes::from_static(b"y")), Err(SendError::QueueFull(1)));
    assert_eq!(n0.send(ReplicaId::new(9), Lane::Bulk, Bytes::from_static(b"y")), Err(SendError::UnknownPeer(9)));
    assert!(n0.peers()[0].frames_dropped >= 2);
}

#[tokio::test]
async fn one_certificate_pinned_for_two_replicas_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = cluster(dir.path(), 3);
    let pin = nodes[0].cfg.peers[0].cert_sha256;
    nodes[0].cfg.peers[1].cert_sha256 = pin;
    let err = Network::start_on(nodes[0].listener.take().unwrap(), nodes[0].cfg.clone()).await.unwrap_err();
    assert!(err.to_string().contains("pinned for both"), "{err}");
}

#[tokio::test]
async fn idle_connections_beyond_the_bound_do_not_lock_out_peers() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = cluster(dir.path(), 2);
    nodes[0].cfg.limits.inbound_connections_max = 4;
    nodes[0].cfg.limits.handshake_timeout = Duration::from_millis(500);
    let (_n0, mut rx0) = start(&mut nodes[0]).await;
    // Many silent connections: the excess is closed at once, the rest time out in the
    // handshake, and the honest peer gets in afterwards.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(tokio::net::TcpStream::connect(nodes[0].cfg.listen).await.unwrap());
    }
    let (n1, _rx1) = start(&mut nodes[1]).await;
    let started = std::time::Instant::now();
    loop {
        let _ = n1.send(ReplicaId::new(0), Lane::Consensus, Bytes::from_static(b"in"));
        if let Ok(Some(f)) = tokio::time::timeout(Duration::from_millis(300), rx0.recv()).await {
            assert_eq!(&f.payload[..], b"in");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "the honest peer never got a slot");
    }
    drop(idle);
}
