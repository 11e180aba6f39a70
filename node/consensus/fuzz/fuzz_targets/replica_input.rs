//! A replica fed arbitrary decodable messages from arbitrary peers never panics (its
//! internal assertions included): bad input is rejected, never trusted.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use stele_consensus::crypto::mock::MockCrypto;
use stele_consensus::message::Message;
use stele_consensus::wire::decode;
use stele_consensus::{Config, Input, Params, Replica, ReplicaId, Tick};

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Params::new(4, 1, 0) else { return };
    let id = ReplicaId::new(1);
    let mut r = Replica::new(Config::new(p, id), Arc::new(MockCrypto::new(id)));
    let _ = r.handle(Tick::from_ms(0), Input::Start);
    // Frames: [from u8][len u16][bytes].
    let mut rest = data;
    let mut t = 1;
    while rest.len() >= 3 {
        let from = ReplicaId::new(u16::from(rest[0] % 4));
        let len = usize::from(u16::from_le_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let frame = &rest[3..3 + len];
        rest = &rest[3 + len..];
        if let Ok(msg) = decode::<Message>(frame) {
            let _ = r.handle(Tick::from_ms(t), Input::Message { from, msg });
        }
        t += 7;
    }
});
