//! The block builder, pool validation and eth_call / eth_estimateGas on a small chain:
//! what the dev node and the replicas rely on.
#![allow(clippy::unwrap_used)]

use alloy_consensus::{transaction::Recovered, SignableTransaction, Transaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use std::sync::Arc;
use stele_evm::{
    db::check::check_consistency,
    executor::{
        build_and_commit, build_block,
        persist::{persist_block, BlockToPersist},
        BlockPipeline, BuildError,
        call::{call, estimate_gas, CallContext, CallError, CALL_GAS_CAP_DEFAULT},
        BlockRequest,
    },
    genesis::init_genesis,
    pool::{decode_raw_transaction, validate_transaction, TxError},
    state::{StateAt, StateReader},
    ChainDb, ChainSpec,
};

const CHAIN_ID: u64 = 4242;

fn signer(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&alloy_primitives::keccak256([i])).unwrap()
}

fn spec() -> Arc<ChainSpec> {
    let mut alloc = serde_json::Map::new();
    for i in 0..3u8 {
        alloc.insert(signer(i).address().to_string(), serde_json::json!({ "balance": "0x3635c9adc5dea00000" }));
    }
    let genesis = serde_json::json!({
        "config": {
            "chainId": CHAIN_ID, "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0, "eip158Block": 0,
            "byzantiumBlock": 0, "constantinopleBlock": 0, "petersburgBlock": 0, "istanbulBlock": 0,
            "berlinBlock": 0, "londonBlock": 0, "mergeNetsplitBlock": 0, "terminalTotalDifficulty": 0,
            "shanghaiTime": 0, "cancunTime": 0
        },
        "gasLimit": "0x1c9c380", "difficulty": "0x0", "alloc": alloc
    });
    Arc::new(ChainSpec::from_genesis_json(&genesis.to_string()).unwrap())
}

/// Runtime: with calldata, stores its first word in slot 0; without, returns slot 0.
/// With a first word of 0xdead, reverts with Error("nope") data.
fn store_contract_initcode() -> Bytes {
    let runtime: Vec<u8> = vec![
        0x36, 0x15, 0x60, 0x1d, 0x57, // CALLDATASIZE ISZERO PUSH1 0x1d JUMPI  -> getter
        0x60, 0x00, 0x35, // PUSH1 0 CALLDATALOAD
        0x80, 0x61, 0xde, 0xad, 0x14, 0x60, 0x29, 0x57, // DUP1 PUSH2 0xdead EQ PUSH1 0x29 JUMPI -> revert
        0x60, 0x00, 0x55, // PUSH1 0 SSTORE
        0x60, 0x01, 0x60, 0x00, 0xa0, // PUSH1 1 PUSH1 0 LOG0 (an empty log)
        0x00, // STOP
        0x00, 0x00, 0x00, 0x00, // padding to 0x1d
        0x5b, 0x60, 0x00, 0x54, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3, // 0x1d: JUMPDEST SLOAD(0) MSTORE RETURN 32
    ];
    // 0x29: JUMPDEST, then revert with 4 bytes of data 0x08c379a0 (Error selector) as a marker.
    let mut runtime = runtime;
    assert_eq!(runtime.len(), 0x29);
    runtime.extend_from_slice(&[0x5b, 0x63, 0x08, 0xc3, 0x79, 0xa0, 0x60, 0xe0, 0x1b, 0x60, 0x00, 0x52, 0x60, 0x04, 0x60, 0x00, 0xfd]);
    let len = runtime.len() as u8;
    let mut init = vec![0x60, len, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, len, 0x60, 0x00, 0xf3];
    init.extend(runtime);
    Bytes::from(init)
}

fn eip1559(signer: &PrivateKeySigner, nonce: u64, to: TxKind, value: u64, input: Bytes, gas: u64) -> Recovered<TxEnvelope> {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1,
        to,
        value: U256::from(value),
        input,
        ..Default::default()
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    Recovered::new_unchecked(TxEnvelope::Eip1559(tx.into_signed(sig)), signer.address())
}

fn fresh() -> (tempfile::TempDir, ChainDb, Arc<ChainSpec>) {
    let dir = tempfile::tempdir().unwrap();
    let db = ChainDb::open(dir.path()).unwrap();
    let spec = spec();
    init_genesis(&db, &spec).unwrap();
    (dir, db, spec)
}

fn request(transactions: Vec<Recovered<TxEnvelope>>) -> BlockRequest {
    BlockRequest { timestamp: 1_700_000_000, beneficiary: Address::repeat_byte(0xbe), transactions, extra_data: Bytes::new() }
}

#[test]
fn builder_skips_invalid_transactions_deterministically_and_commits() {
    let alice = signer(0);
    let bob = signer(1);
    let txs = || {
        vec![
            eip1559(&alice, 0, TxKind::Call(bob.address()), 1_000, Bytes::new(), 21_000),
            eip1559(&alice, 5, TxKind::Call(bob.address()), 1, Bytes::new(), 21_000), // nonce gap
            eip1559(&signer(9), 0, TxKind::Call(alice.address()), 1, Bytes::new(), 21_000), // unfunded
            eip1559(&alice, 1, TxKind::Create, 0, store_contract_initcode(), 200_000),
        ]
    };
    let (_d1, db1, spec) = fresh();
    let (_d2, db2, _) = fresh();
    let a = build_and_commit(&db1, &spec, &request(txs())).unwrap();
    let b = build_block(&db2.read().unwrap(), &spec, &request(txs())).unwrap();
    assert_eq!(a.hash, b.hash, "same inputs, same block on every machine");
    assert_eq!(a.body.transactions.len(), 2);
    assert_eq!(a.skipped.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![1, 2]);
    assert!(a.receipts.iter().all(|r| r.status()));

    let tx = db1.read().unwrap();
    assert_eq!(check_consistency(&tx).unwrap().head, 1);
    let stored_hashes = tx.tx_hashes(1).unwrap().expect("the block's transaction hashes are stored");
    let body_hashes: Vec<_> = a.body.transactions.iter().map(alloy_eips::Encodable2718::trie_hash).collect();
    assert_eq!(stored_hashes, body_hashes);
    let head = StateReader::new(&tx, StateAt::Head);
    let genesis = StateReader::new(&tx, StateAt::Block(0));
    let bob_now = head.account(bob.address()).unwrap().unwrap().balance;
    let bob_then = genesis.account(bob.address()).unwrap().unwrap().balance;
    assert_eq!(bob_now - bob_then, U256::from(1_000));
    assert_eq!(head.account(alice.address()).unwrap().unwrap().nonce, 2);
    assert_eq!(genesis.account(alice.address()).unwrap().unwrap().nonce, 0);
}

#[test]
fn call_estimate_and_revert_on_a_deployed_contract() {
    let (_dir, db, spec) = fresh();
    let alice = signer(0);
    let built = build_and_commit(&db, &spec, &request(vec![eip1559(&alice, 0, TxKind::Create, 0, store_contract_initcode(), 200_000)])).unwrap();
    let contract = alice.address().create(0);
    assert!(built.receipts[0].status());
    let store = |value: u64| {
        let mut word = [0u8; 32];
        word[24..].copy_from_slice(&value.to_be_bytes());
        Bytes::from(word.to_vec())
    };
    build_and_commit(&db, &spec, &request(vec![eip1559(&alice, 1, TxKind::Call(contract), 0, store(77), 100_000)])).unwrap();

    let tx = db.read().unwrap();
    let header = tx.head_header().unwrap();
    let ctx = CallContext { spec: &spec, header: &header, at: StateAt::Head, gas_cap: CALL_GAS_CAP_DEFAULT };
    let read = TransactionRequest::default().to(contract);
    let out = call(&tx, &ctx, read.clone()).unwrap();
    assert_eq!(U256::from_be_slice(&out.output), U256::from(77));
    // The same call on the state after block 1 (before the store) sees zero.
    let before = tx.header(1).unwrap().unwrap();
    let past = CallContext { header: &before, at: StateAt::Block(1), ..ctx };
    assert_eq!(U256::from_be_slice(&call(&tx, &past, read).unwrap().output), U256::ZERO);

    let revert = TransactionRequest::default().from(alice.address()).to(contract).input(store(0xdead).into());
    match call(&tx, &ctx, revert.clone()) {
        Err(CallError::Reverted { output, .. }) => assert_eq!(output.as_ref(), &[0x08, 0xc3, 0x79, 0xa0]),
        other => panic!("expected a revert, got {other:?}"),
    }
    assert!(matches!(estimate_gas(&tx, &ctx, revert), Err(CallError::Reverted { .. })));

    let transfer = TransactionRequest::default().from(alice.address()).to(Address::repeat_byte(9)).value(U256::from(1));
    assert_eq!(estimate_gas(&tx, &ctx, transfer).unwrap(), 21_000);
    let write = TransactionRequest::default().from(alice.address()).to(contract).input(store(5).into());
    let estimate = estimate_gas(&tx, &ctx, write.clone()).unwrap();
    // The estimate must be enough: the write succeeds at exactly that gas.
    let at_estimate = call(&tx, &ctx, write.clone().gas_limit(estimate)).unwrap();
    assert!(at_estimate.gas_used <= estimate);
    assert!(call(&tx, &ctx, write.gas_limit(estimate * 98 / 100 - 2_000)).is_err() || estimate < 30_000);
}

#[test]
fn pool_validation_refuses_with_geths_words() {
    let (_dir, db, spec) = fresh();
    let alice = signer(0);
    let poor = signer(9);
    let tx = db.read().unwrap();
    let head = tx.head_header().unwrap();
    let check = |envelope: TxEnvelope| validate_transaction(&tx, &spec, &head, envelope).map(|v| v.sender);

    let good = eip1559(&alice, 0, TxKind::Call(poor.address()), 1, Bytes::new(), 21_000);
    assert_eq!(check(good.inner().clone()).unwrap(), alice.address());

    let wrong_chain = {
        let t = TxEip1559 { chain_id: CHAIN_ID + 1, gas_limit: 21_000, max_fee_per_gas: 10_000_000_000, to: TxKind::Call(poor.address()), ..Default::default() };
        let sig = alice.sign_hash_sync(&t.signature_hash()).unwrap();
        TxEnvelope::Eip1559(t.into_signed(sig))
    };
    assert_eq!(check(wrong_chain).unwrap_err(), TxError::WrongChainId { have: CHAIN_ID + 1, want: CHAIN_ID });

    let unprotected = {
        let t = TxLegacy { chain_id: None, gas_limit: 21_000, gas_price: 10_000_000_000, to: TxKind::Call(poor.address()), ..Default::default() };
        let sig = alice.sign_hash_sync(&t.signature_hash()).unwrap();
        TxEnvelope::Legacy(t.into_signed(sig))
    };
    assert_eq!(check(unprotected).unwrap_err().to_string(), "only replay-protected (EIP-155) transactions allowed over RPC");

    let low_gas = eip1559(&alice, 0, TxKind::Call(poor.address()), 1, Bytes::new(), 20_000);
    assert!(check(low_gas.inner().clone()).unwrap_err().to_string().starts_with("intrinsic gas too low: gas 20000, minimum needed 21000"));

    let broke = eip1559(&poor, 0, TxKind::Call(alice.address()), 1, Bytes::new(), 21_000);
    assert!(check(broke.inner().clone()).unwrap_err().to_string().starts_with("insufficient funds for gas * price + value"));

    let garbage = decode_raw_transaction(&[0xde, 0xad, 0xbe, 0xef]).unwrap_err().to_string();
    assert!(garbage.starts_with("rlp: "), "{garbage}");
    assert_eq!(decode_raw_transaction(&[0x03, 0xc0]).unwrap_err(), TxError::TypeNotSupported);
    drop(tx);

    build_and_commit(&db, &spec, &request(vec![good])).unwrap();
    let tx = db.read().unwrap();
    let head = tx.head_header().unwrap();
    let replay = eip1559(&alice, 0, TxKind::Call(poor.address()), 2, Bytes::new(), 21_000);
    let err = validate_transaction(&tx, &spec, &head, replay.inner().clone()).unwrap_err();
    assert_eq!(err.to_string(), "nonce too low: next nonce 1, tx nonce 0");
    let _ = replay.inner().nonce();
}

/// Storage as it was after each past block, read through the storage trie of that block:
/// before the contract existed, after each store, across blocks that did not touch it, and
/// after the slot was cleared.
#[test]
fn storage_at_every_past_block() {
    let (_dir, db, spec) = fresh();
    let alice = signer(0);
    let bob = signer(1);
    build_and_commit(&db, &spec, &request(vec![eip1559(&alice, 0, TxKind::Create, 0, store_contract_initcode(), 200_000)])).unwrap();
    let contract = alice.address().create(0);
    let word = |value: u64| {
        let mut word = [0u8; 32];
        word[24..].copy_from_slice(&value.to_be_bytes());
        Bytes::from(word.to_vec())
    };
    // Block 2 stores 5, block 3 only moves ETH, block 4 stores 9, block 5 clears the slot.
    let mut alice_nonce = 1;
    let mut store = |value: u64| {
        let tx = eip1559(&alice, alice_nonce, TxKind::Call(contract), 0, word(value), 100_000);
        alice_nonce += 1;
        build_and_commit(&db, &spec, &request(vec![tx])).unwrap();
    };
    store(5);
    build_and_commit(&db, &spec, &request(vec![eip1559(&bob, 0, TxKind::Call(Address::repeat_byte(7)), 1, Bytes::new(), 21_000)])).unwrap();
    store(9);
    store(0);
    let tx = db.read().unwrap();
    let slot = alloy_primitives::B256::ZERO;
    let at = |block: u64| StateReader::new(&tx, StateAt::Block(block)).storage(contract, slot).unwrap();
    let expected = [0u64, 0, 5, 5, 9, 0];
    for (block, value) in expected.iter().enumerate() {
        assert_eq!(at(block as u64), U256::from(*value), "slot 0 after block {block}");
    }
    assert_eq!(StateReader::new(&tx, StateAt::Head).storage(contract, slot).unwrap(), U256::ZERO);
    check_consistency(&tx).unwrap();
}

/// Runtime: stores BLOCKHASH(NUMBER - 1) in slot 0, so a block's state depends on its
/// parent's hash.
fn parent_hash_recorder_initcode() -> Bytes {
    let runtime = [0x60, 0x01, 0x43, 0x03, 0x40, 0x60, 0x00, 0x55, 0x00]; // PUSH1 1 NUMBER SUB BLOCKHASH PUSH1 0 SSTORE STOP
    let mut init = vec![0x60, runtime.len() as u8, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, runtime.len() as u8, 0x60, 0x00, 0xf3];
    init.extend(runtime);
    Bytes::from(init)
}

#[test]
fn the_pipeline_builds_the_same_chain_as_one_block_at_a_time() {
    let (alice, bob, carol) = (signer(0), signer(1), signer(2));
    let store = alice.address().create(0);
    let recorder = alice.address().create(1);
    let word = |value: u64| Bytes::from(U256::from(value).to_be_bytes::<32>().to_vec());
    // Each block reads what the one before it wrote, which in the pipeline is still being
    // committed: nonces and balances, code deployed one block earlier, a slot written and
    // then cleared, the parent's hash.
    let blocks = vec![
        vec![
            eip1559(&alice, 0, TxKind::Create, 0, store_contract_initcode(), 200_000),
            eip1559(&alice, 1, TxKind::Create, 0, parent_hash_recorder_initcode(), 200_000),
            eip1559(&bob, 0, TxKind::Call(carol.address()), 5_000, Bytes::new(), 21_000),
        ],
        vec![
            eip1559(&alice, 2, TxKind::Call(store), 0, word(77), 100_000),
            eip1559(&carol, 0, TxKind::Call(recorder), 0, Bytes::new(), 100_000),
            eip1559(&bob, 1, TxKind::Call(alice.address()), 1, Bytes::new(), 21_000),
        ],
        vec![
            eip1559(&alice, 3, TxKind::Call(store), 0, word(0), 100_000),
            eip1559(&carol, 1, TxKind::Call(recorder), 0, Bytes::new(), 100_000),
        ],
        vec![
            eip1559(&alice, 4, TxKind::Call(store), 0, word(9), 100_000),
            eip1559(&carol, 2, TxKind::Call(recorder), 0, Bytes::new(), 100_000),
            eip1559(&bob, 2, TxKind::Call(carol.address()), 7, Bytes::new(), 21_000),
        ],
    ];
    let (_serial_dir, serial_db, spec) = fresh();
    let serial: Vec<_> = blocks.iter().map(|txs| build_and_commit(&serial_db, &spec, &request(txs.clone())).unwrap()).collect();

    let (_dir, db, _) = fresh();
    let mut pipeline = BlockPipeline::new(db.clone(), spec.clone());
    let mut landed = Vec::new();
    for txs in &blocks {
        landed.extend(pipeline.push(&request(txs.clone())).unwrap());
    }
    landed.extend(pipeline.finish().unwrap());
    assert!(pipeline.finish().unwrap().is_none(), "nothing is left in flight");

    assert_eq!(landed.len(), blocks.len());
    for (built, committed) in serial.iter().zip(&landed) {
        let number = built.header.number;
        assert!(built.skipped.is_empty() && committed.block.skipped.is_empty(), "block {number} left transactions out");
        assert_eq!(committed.block.hash, built.hash, "block {number}");
        assert!(committed.timings.commit >= committed.timings.flush);
    }
    let tx = db.read().unwrap();
    assert_eq!(check_consistency(&tx).unwrap().head, blocks.len() as u64);
    let slot = alloy_primitives::B256::ZERO;
    let at = |block: u64, contract| StateReader::new(&tx, StateAt::Block(block)).storage(contract, slot).unwrap();
    assert_eq!([at(2, store), at(3, store), at(4, store)], [U256::from(77), U256::ZERO, U256::from(9)]);
    for block in 2..=4 {
        let parent = tx.block_hash(block - 1).unwrap().unwrap();
        assert_eq!(at(block, recorder), U256::from_be_bytes(parent.0), "the recorder saw block {}'s hash", block - 1);
    }
}

#[test]
fn a_pipelined_commit_that_finds_the_head_moved_fails_and_changes_nothing() {
    let (alice, bob) = (signer(0), signer(1));
    let (_dir, db, spec) = fresh();
    let rival = build_block(&db.read().unwrap(), &spec, &request(vec![eip1559(&bob, 0, TxKind::Call(alice.address()), 1, Bytes::new(), 21_000)])).unwrap();
    // Another writer holds the write transaction, so the pipeline's commit of its block 1
    // waits, and finds block 1 already there when its turn comes.
    let writer = db.write().unwrap();
    let mut pipeline = BlockPipeline::new(db.clone(), spec.clone());
    assert!(pipeline.push(&request(vec![eip1559(&alice, 0, TxKind::Call(bob.address()), 1, Bytes::new(), 21_000)])).unwrap().is_none());
    persist_block(
        &writer,
        &BlockToPersist {
            header: &rival.header,
            hash: rival.hash,
            body: &rival.body,
            senders: &rival.senders,
            receipts: &rival.receipts,
            bundle: &rival.bundle,
            trie: &rival.trie,
        },
    )
    .unwrap();
    writer.commit().unwrap();

    let err = pipeline.finish().unwrap_err();
    assert!(matches!(&err, BuildError::Db(_)) && err.to_string().contains("the head moved"), "{err}");
    let tx = db.read().unwrap();
    assert_eq!(check_consistency(&tx).unwrap().head, 1);
    assert_eq!(tx.block_hash(1).unwrap(), Some(rival.hash), "the other writer's block stays");
    drop(tx);
    // The pipeline goes on from the database's head.
    let next = eip1559(&alice, 0, TxKind::Call(bob.address()), 1, Bytes::new(), 21_000);
    assert!(pipeline.push(&request(vec![next])).unwrap().is_none());
    let landed = pipeline.finish().unwrap().expect("block 2 landed");
    assert_eq!((landed.block.header.number, landed.block.header.parent_hash), (2, rival.hash));
    assert!(landed.block.skipped.is_empty());
}
