//! TCP options of replica links, so that a peer that vanished is noticed.
//!
//! A replica whose VM is powered off, or whose network is cut, sends no FIN: without these
//! options an idle connection stays "connected" (the kernel never hears back), and the
//! acceptor's read waits forever — `stele status` showed a dead peer as connected. TCP
//! keepalive probes an idle link, so its socket errors within about
//! [`NetLimits::dead_peer_after`] and the connection is dropped (the dialer then reconnects).
//!
//! `TCP_USER_TIMEOUT` would also bound how long sent data may stay unacknowledged, but Linux
//! applies it to a receiver that keeps its window closed too, and a replica slow to read (four
//! VMs under TCG) could then lose its links while busy. A dialer with unacknowledged data to a
//! dead peer therefore still waits for the kernel's retransmission limit.
//!
//! [`NetLimits::dead_peer_after`]: crate::NetLimits::dead_peer_after

use socket2::{SockRef, TcpKeepalive};
use std::time::Duration;
use tokio::net::TcpStream;

/// Keepalive probes sent before an idle peer is declared dead.
const KEEPALIVE_PROBES: u32 = 3;

/// Sets no-delay and keepalive on a replica link. Failures are logged and
/// ignored: the link still works, only dead-peer detection falls back to the kernel defaults.
pub(crate) fn tune(tcp: &TcpStream, dead_peer_after: Duration) {
    let _ = tcp.set_nodelay(true);
    let sock = SockRef::from(tcp);
    // Idle time before the first probe, then KEEPALIVE_PROBES probes: about dead_peer_after.
    let step = (dead_peer_after / (KEEPALIVE_PROBES + 1)).max(Duration::from_secs(1));
    let keepalive = TcpKeepalive::new().with_time(step).with_interval(step).with_retries(KEEPALIVE_PROBES);
    if let Err(e) = sock.set_tcp_keepalive(&keepalive) {
        tracing::debug!("cannot enable TCP keepalive on a replica link: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn options_are_set_on_both_ends() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (dialed, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (dialed, (accepted, _)) = (dialed.unwrap(), accepted.unwrap());
        for tcp in [&dialed, &accepted] {
            tune(tcp, Duration::from_secs(8));
            let sock = SockRef::from(tcp);
            assert!(sock.keepalive().unwrap());
            assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(2));
            assert_eq!(sock.tcp_keepalive_retries().unwrap(), KEEPALIVE_PROBES);
            assert!(tcp.nodelay().unwrap());
        }
    }
}
