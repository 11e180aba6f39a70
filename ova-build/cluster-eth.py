#!/usr/bin/env python3
"""JSON-RPC steps of ova-build/cluster-test.sh, run inside the test's network namespace.

Every call is HTTPS, verified against the cluster CA written by `stele init` (host names are
checked too: each replica's certificate names its address). Needs eth_account (the web3.py
venv of tests/clients/setup.sh) for `send`.

  cluster-eth.py --ca CA status URL...              one JSON line per replica (stele_status)
  cluster-eth.py --ca CA wait-final URL... --above N --timeout S
                                                    until every URL's finalized block > N
  cluster-eth.py --ca CA send URL --to ADDR         a signed 1-wei transfer from dev account 0
                                                    (well-known test key, funded by the dev
                                                    genesis); prints the tx hash
  cluster-eth.py --ca CA receipt URL... --tx HASH --timeout S
                                                    until every URL has the receipt; checks they
                                                    agree on block number and hash and status 1
  cluster-eth.py --ca CA balance URL... --address A prints the balance each URL reports
"""
import argparse
import json
import ssl
import sys
import time
import urllib.request

# Account 0 of the test mnemonic ("test test ... junk"), funded by stele's dev genesis.
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def call(ctx, url, method, params=None, timeout=5):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=timeout) as r:
        answer = json.loads(r.read())
    if "error" in answer:
        raise RuntimeError(f"{url} {method}: {answer['error']}")
    return answer["result"]


def try_call(ctx, url, method, params=None):
    try:
        return call(ctx, url, method, params)
    except Exception as e:  # a VM still booting or powered off
        return e


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ca", required=True)
    p.add_argument("cmd")
    p.add_argument("urls", nargs="+")
    p.add_argument("--above", type=int, default=0)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--to")
    p.add_argument("--tx")
    p.add_argument("--address")
    a = p.parse_args()
    ctx = ssl.create_default_context(cafile=a.ca)

    if a.cmd == "status":
        for url in a.urls:
            s = try_call(ctx, url, "stele_status")
            print(json.dumps({"url": url, "status": s if not isinstance(s, Exception) else None,
                              "error": str(s) if isinstance(s, Exception) else None}))
        return 0

    if a.cmd == "wait-final":
        deadline = time.time() + a.timeout
        last = {}
        while True:
            for url in a.urls:
                s = try_call(ctx, url, "stele_status")
                last[url] = s["finalized"] if isinstance(s, dict) else str(s)
            if all(isinstance(v, int) and v > a.above for v in last.values()):
                print(json.dumps(last))
                return 0
            if time.time() > deadline:
                print(f"finalized blocks not above {a.above} on every replica within {a.timeout} s: {last}", file=sys.stderr)
                return 1
            time.sleep(2)

    if a.cmd == "send":
        from eth_account import Account  # only this step needs it
        from eth_utils import to_checksum_address
        url = a.urls[0]
        acct = Account.from_key(DEV_KEY)
        chain_id = int(call(ctx, url, "eth_chainId"), 16)
        nonce = int(call(ctx, url, "eth_getTransactionCount", [acct.address, "pending"]), 16)
        gas_price = int(call(ctx, url, "eth_gasPrice"), 16)
        tx = {"chainId": chain_id, "nonce": nonce, "to": to_checksum_address(a.to), "value": 1, "gas": 21000,
              "maxFeePerGas": 2 * gas_price + 1, "maxPriorityFeePerGas": 1}
        signed = acct.sign_transaction(tx)
        raw = getattr(signed, "raw_transaction", None) or signed.rawTransaction
        h = call(ctx, url, "eth_sendRawTransaction", ["0x" + raw.hex().removeprefix("0x")])
        print(h)
        return 0

    if a.cmd == "receipt":
        deadline = time.time() + a.timeout
        got = {}
        while True:
            for url in a.urls:
                if url not in got:
                    r = try_call(ctx, url, "eth_getTransactionReceipt", [a.tx])
                    if isinstance(r, dict):
                        got[url] = r
            if len(got) == len(set(a.urls)):
                break
            if time.time() > deadline:
                print(f"receipt of {a.tx} missing on {sorted(set(a.urls) - set(got))} after {a.timeout} s", file=sys.stderr)
                return 1
            time.sleep(1)
        where = {(r["blockNumber"], r["blockHash"], r["status"]) for r in got.values()}
        if len(where) != 1:
            print(f"replicas disagree about {a.tx}: {got}", file=sys.stderr)
            return 1
        number, block_hash, status = where.pop()
        if status != "0x1":
            print(f"{a.tx} failed (status {status})", file=sys.stderr)
            return 1
        print(json.dumps({"tx": a.tx, "block": int(number, 16), "hash": block_hash, "replicas": len(got)}))
        return 0

    if a.cmd == "balance":
        out = {url: int(call(ctx, url, "eth_getBalance", [a.address, "latest"]), 16) for url in a.urls}
        print(json.dumps(out))
        return 0

    p.error(f"unknown command {a.cmd}")


if __name__ == "__main__":
    sys.exit(main())
