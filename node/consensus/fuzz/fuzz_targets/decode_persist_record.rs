//! Decoding a (possibly corrupt) persisted record never panics and is canonical; folding
//! what decodes into a `Durable` never panics either.
#![no_main]
use libfuzzer_sys::fuzz_target;
use stele_consensus::persist::{Durable, PersistRecord};
use stele_consensus::wire::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = decode::<PersistRecord>(data) {
        assert_eq!(encode(&r), data);
        let mut d = Durable::default();
        d.apply(&r);
        d.apply(&r);
    }
});
