#!/usr/bin/env python3
"""web3.py against a stele node: every step a Python dApp or script performs, each asserted.

Env: STELE_RPC_URL, STELE_WS_URL, STELE_CHAIN_ID; the node's dev CA through REQUESTS_CA_BUNDLE
(HTTP: web3.py's HTTPProvider uses requests) and SSL_CERT_FILE (WebSocket: the websockets
library uses Python's default SSL context). Run with the venv that run.sh / the suite builds.
"""

import asyncio
import json
import os
import secrets
import sys
import threading
import time
import traceback

from eth_abi import decode as abi_decode, encode as abi_encode
from eth_account import Account
from web3 import AsyncWeb3, Web3
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.middleware import SignAndSendRawMiddlewareBuilder
from web3.providers.persistent import WebSocketProvider

RPC_URL = os.environ.get("STELE_RPC_URL", "https://127.0.0.1:8545")
WS_URL = os.environ.get("STELE_WS_URL", RPC_URL.replace("http", "ws", 1))
CHAIN_ID = int(os.environ.get("STELE_CHAIN_ID", "1337"))
MNEMONIC = os.environ.get("STELE_MNEMONIC", "test test test test test test test test test test test junk")
ACCOUNT = int(os.environ.get("STELE_ACCOUNT_INDEX", "3"))
STEP_TIMEOUT = float(os.environ.get("STELE_STEP_TIMEOUT_MS", "60000")) / 1000
HERE = os.path.dirname(os.path.abspath(__file__))

with open(os.path.join(HERE, "..", "contracts", "out", "Store.json")) as fh:
    STORE = json.load(fh)

if os.environ.get("STELE_TRACE"):
    # Every JSON-RPC request and reply on stderr, for debugging the node.
    import logging
    logging.basicConfig(level=logging.DEBUG, format="[rpc] %(name)s %(message)s")
    for noisy in ("urllib3", "asyncio", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

Account.enable_unaudited_hdwallet_features()
acct = Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{ACCOUNT}")
w3 = Web3(Web3.HTTPProvider(RPC_URL, request_kwargs={"timeout": 30}))
# Sign locally and send raw, as every wallet-backed dApp does (the node holds no keys).
w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(acct), layer=0)
w3.eth.default_account = acct.address
s = {}


class StepFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise StepFailed(f"assertion failed: {what}")


def eq(got, want, what):
    if got != want:
        raise StepFailed(f"assertion failed: {what}: got {got!r}, want {want!r}")


def fresh():
    return Account.create(secrets.token_hex(16)).address


def mined(tx_hash):
    r = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=STEP_TIMEOUT, poll_latency=0.25)
    eq(r["status"], 1, f"receipt status of {tx_hash.hex()}")
    eq(r["transactionHash"], tx_hash, "receipt hash")
    return r


def store():
    return w3.eth.contract(address=s["address"], abi=STORE["abi"])


def decode_custom_error(data):
    """web3.py surfaces custom errors as raw data; decode them with the ABI as a dApp would."""
    raw = bytes.fromhex(data[2:] if isinstance(data, str) else data.hex())
    for item in STORE["abi"]:
        if item["type"] != "error":
            continue
        types = [i["type"] for i in item["inputs"]]
        sel = Web3.keccak(text=f"{item['name']}({','.join(types)})")[:4]
        if raw[:4] == sel:
            return item["name"], list(abi_decode(types, raw[4:]))
    return None, None


def step_chain_id():
    eq(w3.eth.chain_id, CHAIN_ID, "eth.chain_id")
    check(w3.is_connected(), "is_connected() (web3_clientVersion)")


def step_balance():
    s["start"] = w3.eth.get_balance(acct.address)
    check(s["start"] > Web3.to_wei(10, "ether"), f"dev account {acct.address} is funded ({s['start']})")


def step_send_eth():
    to = fresh()
    value = Web3.to_wei(1234567, "gwei")
    h = w3.eth.send_transaction({"from": acct.address, "to": to, "value": value})
    r = mined(h)
    eq(w3.eth.get_balance(to), value, "recipient balance")
    block = w3.eth.get_block(r["blockNumber"])
    check(h in block["transactions"], "block lists the transaction")


def step_deploy():
    factory = w3.eth.contract(abi=STORE["abi"], bytecode=STORE["bytecode"])
    r = mined(factory.constructor(42).transact({"from": acct.address}))
    check(r["contractAddress"], "receipt contractAddress")
    s["address"], s["deploy_block"] = r["contractAddress"], r["blockNumber"]
    check(len(w3.eth.get_code(s["address"])) > 0, "code at the address")


def step_read():
    c = store()
    eq(c.functions.value().call(), 42, "value()")
    eq(c.functions.owner().call(), acct.address, "owner()")
    eq(c.functions.LIMIT().call(), 1000000, "LIMIT()")


def step_write():
    c = store()
    r = mined(c.functions.set(7).transact({"from": acct.address}))
    evs = c.events.ValueChanged().process_receipt(r)
    eq(len(evs), 1, "one ValueChanged in the receipt")
    eq((evs[0]["args"]["by"], evs[0]["args"]["oldValue"], evs[0]["args"]["newValue"]), (acct.address, 42, 7), "event args")
    eq(c.functions.value().call(), 7, "value() after set")


def step_get_logs():
    c = store()
    evs = c.events.ValueChanged.get_logs(from_block=s["deploy_block"], argument_filters={"by": acct.address})
    eq([(e["args"]["oldValue"], e["args"]["newValue"]) for e in evs], [(0, 42), (42, 7)], "ValueChanged history")
    raw = w3.eth.get_logs({"address": s["address"], "fromBlock": s["deploy_block"], "toBlock": "latest",
                           "topics": [c.events.ValueChanged.topic, None, "0x" + (42).to_bytes(32, "big").hex()]})
    eq(len(raw), 1, "one log with oldValue 42")


def step_http_filter():
    c = store()
    flt = c.events.ValueChanged.create_filter(from_block="latest")  # eth_newFilter
    try:
        r = mined(c.functions.set(8).transact({"from": acct.address}))
        deadline = time.monotonic() + 30
        seen = []
        while time.monotonic() < deadline:
            seen += flt.get_new_entries()  # eth_getFilterChanges
            if any(e["args"]["newValue"] == 8 for e in seen):
                break
            time.sleep(0.25)
        match = [e for e in seen if e["args"]["newValue"] == 8]
        eq(len(match), 1, "ValueChanged(8) delivered by the HTTP filter exactly once")
        eq(match[0]["transactionHash"], r["transactionHash"], "filtered log belongs to the write")
    finally:
        check(w3.eth.uninstall_filter(flt.filter_id), "eth_uninstallFilter")


async def ws_subscriptions():
    async with AsyncWeb3(WebSocketProvider(WS_URL)) as aw3:
        eq(await aw3.eth.chain_id, CHAIN_ID, "chain id over WS")
        heads_id = await aw3.eth.subscribe("newHeads")
        logs_id = await aw3.eth.subscribe("logs", {"address": s["address"]})
        check(heads_id != logs_id, "distinct subscription ids")
        heads, logs = [], []

        async def listen():
            async for msg in aw3.socket.process_subscriptions():
                (heads if msg["subscription"] == heads_id else logs).append(msg["result"])

        listener = asyncio.create_task(listen())
        # Write from another thread while the listener collects.
        r = await asyncio.get_running_loop().run_in_executor(
            None, lambda: mined(store().functions.set(9).transact({"from": acct.address})))
        # Wait for the write's own block and log, not just "the next" message: the chain may
        # also make empty blocks.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(h["hash"] == r["blockHash"] for h in heads) and any(
                    l["transactionHash"] == r["transactionHash"] for l in logs):
                break
            if listener.done():
                listener.result()  # re-raises what broke the subscription stream
            await asyncio.sleep(0.1)
        listener.cancel()
        head = [h for h in heads if h["hash"] == r["blockHash"]]
        check(head, f"newHeads delivered the write's block {r['blockNumber']} (got {[h['number'] for h in heads]})")
        eq(head[0]["number"], r["blockNumber"], "newHeads block number")
        log = [l for l in logs if l["transactionHash"] == r["transactionHash"]]
        eq(len(log), 1, "the write's log over the logs subscription, once")
        eq(log[0]["blockHash"], r["blockHash"], "subscribed log block hash")
        check(await aw3.eth.unsubscribe(heads_id), "eth_unsubscribe newHeads")
        check(await aw3.eth.unsubscribe(logs_id), "eth_unsubscribe logs")


def step_ws():
    asyncio.run(ws_subscriptions())


def step_revert_custom():
    for how in ("call", "estimate_gas"):
        try:
            getattr(store().functions.set(2000000), how)({"from": acct.address})
        except ContractCustomError as e:
            name, args = decode_custom_error(e.data)
            eq((name, args), ("TooLarge", [2000000, 1000000]), f"decoded custom error via {how}")
        else:
            raise StepFailed(f"set(2000000).{how}() did not revert")


def step_revert_string():
    try:
        store().functions.set(13).call({"from": acct.address})
    except ContractLogicError as e:
        eq(e.message, "execution reverted: unlucky number", "revert message")
        want = "0x08c379a0" + abi_encode(["string"], ["unlucky number"]).hex()
        eq(e.data, want, "raw Error(string) data")
    else:
        raise StepFailed("set(13).call() did not revert")


def step_legacy():
    to = fresh()
    h = w3.eth.send_transaction({"from": acct.address, "to": to, "value": 1000, "gasPrice": w3.eth.gas_price})
    r = mined(h)
    eq(r["type"], 0, "receipt type")
    tx = w3.eth.get_transaction(h)
    eq(tx["type"], 0, "transaction type")
    eq(tx["chainId"], CHAIN_ID, "EIP-155 chain id in the legacy signature")
    eq(w3.eth.get_balance(to), 1000, "legacy transfer arrived")


def step_1559():
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    to = fresh()
    h = w3.eth.send_transaction({"from": acct.address, "to": to, "value": 2000,
                                 "maxPriorityFeePerGas": 1, "maxFeePerGas": base * 2 + 1})
    r = mined(h)
    eq(r["type"], 2, "receipt type")
    eq(w3.eth.get_transaction(h)["type"], 2, "transaction type")
    eq(w3.eth.get_balance(to), 2000, "1559 transfer arrived")


def step_burst():
    to = fresh()
    nonce = w3.eth.get_transaction_count(acct.address, "pending")
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    tip = w3.eth.max_priority_fee
    hashes = []
    for i in range(20):
        signed = acct.sign_transaction({"chainId": CHAIN_ID, "nonce": nonce + i, "to": to, "value": 1 + i, "gas": 21000,
                                        "maxFeePerGas": base * 2 + tip, "maxPriorityFeePerGas": tip, "type": 2})
        hashes.append(w3.eth.send_raw_transaction(signed.raw_transaction))  # no waiting in between
    eq(len(set(hashes)), 20, "20 distinct hashes")
    for h in hashes:
        mined(h)
    eq(w3.eth.get_transaction_count(acct.address, "latest"), nonce + 20, "nonce advanced by 20")
    eq(w3.eth.get_balance(to), 210, "sum of the 20 values arrived")


STEPS = [
    ("chain-id", step_chain_id), ("balance", step_balance), ("send-eth-and-wait", step_send_eth),
    ("deploy", step_deploy), ("read", step_read), ("write-and-wait", step_write), ("eth_getLogs", step_get_logs),
    ("http-filter-watch", step_http_filter), ("ws-subscriptions", step_ws),
    ("revert-custom-error", step_revert_custom), ("revert-error-string", step_revert_string),
    ("legacy-tx", step_legacy), ("eip1559-tx", step_1559), ("burst-20-no-wait", step_burst),
]


def main():
    t0 = time.monotonic()
    print(f"# web3py scenario against {RPC_URL} (ws {WS_URL}), chain id {CHAIN_ID}", flush=True)
    for name, fn in STEPS:
        t = time.monotonic()
        # A watchdog turns a hang into a loud failure instead of a stuck CI job.
        timer = threading.Timer(STEP_TIMEOUT, lambda n=name: (print(f"FAIL {n}: timed out", flush=True), os._exit(1)))
        timer.start()
        try:
            fn()
        except Exception:  # noqa: BLE001 - any failure of a step is fatal and printed in full
            print(f"FAIL {name}:", flush=True)
            traceback.print_exc()
            print(f"web3py: 0 passed, 1 failed (stopped at {name})")
            os._exit(1)
        finally:
            timer.cancel()
        print(f"ok {name} ({(time.monotonic() - t) * 1000:.0f} ms)", flush=True)
    print(f"web3py: {len(STEPS)} passed, 0 failed in {(time.monotonic() - t0) * 1000:.0f} ms")


if __name__ == "__main__":
    sys.exit(main())
