//! Decoding untrusted peer bytes never panics, and whatever decodes re-encodes to the same
//! bytes (the encoding is canonical).
#![no_main]
use libfuzzer_sys::fuzz_target;
use stele_consensus::message::Message;
use stele_consensus::wire::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = decode::<Message>(data) {
        assert_eq!(encode(&m), data, "non-canonical encoding accepted");
    }
});
