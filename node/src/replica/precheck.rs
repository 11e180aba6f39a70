//! Checks the certificates in peers' consensus messages before the core sees them.
//!
//! The core verifies every certificate it acts on (a commit proof, a prepare certificate, a
//! finality certificate: one BLS pairing check each, several milliseconds on a busy core),
//! and it runs on one thread. Checking them first on this thread, with a crypto that
//! remembers what verified (`BlsCrypto`), turns the core's own check into a lookup, so the
//! core is free for the next proposal or share meanwhile. The core still decides: a
//! certificate that fails here reaches it unchanged and fails there again.

use std::sync::{mpsc, Arc};
use stele_consensus::{crypto::CryptoTr, message::Message, Input, ReplicaId};

use super::node::ReplicaNode;

/// The sending side: every consensus message from a peer goes through the pre-check thread,
/// so messages reach the core in the order they arrived.
#[derive(Debug, Clone)]
pub(crate) struct Precheck {
    queue: mpsc::Sender<(ReplicaId, Message)>,
}

impl Precheck {
    /// Starts the thread that checks, for a cluster of `n` replicas, and forwards to `node`'s core.
    pub(crate) fn spawn(node: Arc<ReplicaNode>, crypto: Arc<dyn CryptoTr>, n: usize) -> std::io::Result<Self> {
        let (queue, messages) = mpsc::channel::<(ReplicaId, Message)>();
        std::thread::Builder::new().name("precheck".into()).spawn(move || {
            while let Ok((from, msg)) = messages.recv() {
                for (signed, cert) in msg.certificate_claims() {
                    // The answer is remembered by the crypto; the core acts on it.
                    let _ = crypto.verify_certificate(n, &signed, cert);
                }
                node.to_core(Input::Message { from, msg });
            }
        })?;
        Ok(Self { queue })
    }

    /// Hands `msg` from `from` to the core through the pre-check (straight to the core if
    /// the thread is gone: the core checks everything itself anyway).
    pub(crate) fn deliver(&self, node: &ReplicaNode, from: ReplicaId, msg: Message) {
        if let Err(mpsc::SendError((from, msg))) = self.queue.send((from, msg)) {
            node.to_core(Input::Message { from, msg });
        }
    }
}
