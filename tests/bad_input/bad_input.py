#!/usr/bin/env python3
"""Sends every kind of bad input to a JSON-RPC endpoint and asserts geth's error code and
wording, and that the node keeps serving after each one.

Usage: bad_input.py URL [--ca CA.pem] [--chain-id N] [--max-body BYTES] [--batch-limit N]
Needs eth_account (the web3.py venv that tests/clients/setup.sh builds) to sign transactions.

Expected answers are geth's (go-ethereum rpc/errors.go, rpc/http.go, core/txpool, internal/ethapi):
  malformed JSON            -32700 "parse error"
  request without method    -32600 "invalid request" (also for a jsonrpc version other than "2.0");
                            empty batch -32600 "empty batch"
  unknown method            -32601 "the method X does not exist/is not available"
  wrong params              -32602 "invalid argument N: ..." / "missing value for required
                            argument N" / "too many arguments, want at most N" / "non-array args"
  batch over the limit      [ -32600 "batch too large" with the first call's id ] (limit 1000)
  body over the limit       HTTP 413 (geth: 5 MiB)
  wrong Content-Type        HTTP 415; PUT: HTTP 405
  transactions              -32000 with geth's txpool wording (see tx_cases below)
  plaintext HTTP on TLS     refused: connection closed, a TLS alert or an HTTP 4xx, never a result
  eth_subscribe over HTTP   -32601 "notifications not supported"
  over WebSocket            malformed JSON -32700, unknown method -32601, unknown subscription
                            -32601 "no \"foo\" subscription in eth namespace", unsubscribing an
                            unknown id -32000 "subscription not found"; the socket stays usable
Only the part of a message up to its first variable detail is asserted (geth appends Go type
names and numbers that another implementation need not copy byte for byte).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import ssl
import sys
import time
import urllib.parse

from eth_account import Account
from websockets.sync.client import connect as ws_connect
from eth_keys import keys
from eth_utils import keccak
import rlp

MNEMONIC = os.environ.get("STELE_MNEMONIC", "test test test test test test test test test test test junk")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class Node:
    def __init__(self, url: str, ca: str | None, timeout: float = 30):
        u = urllib.parse.urlparse(url)
        self.tls = u.scheme == "https"
        self.host, self.port = u.hostname, u.port or (443 if self.tls else 80)
        self.path = u.path or "/"
        self.timeout = timeout
        self.ctx = ssl.create_default_context(cafile=ca) if self.tls else None
        self.next_id = 1

    def conn(self):
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def post_raw(self, body: bytes, content_type="application/json"):
        """Returns (HTTP status, body bytes); a connection the node closes counts as status 0."""
        c = self.conn()
        try:
            c.request("POST", self.path, body=body, headers={"Content-Type": content_type})
            r = c.getresponse()
            return r.status, r.read()
        except (ConnectionError, http.client.HTTPException, ssl.SSLError, socket.timeout) as e:
            return 0, str(e).encode()
        finally:
            c.close()

    def post_streaming(self, body: bytes):
        """POSTs a large body over a raw (TLS) socket, tolerating the node answering and closing
        before the body is fully sent (geth answers 413 from the Content-Length header alone).
        Returns (HTTP status or 0, first bytes of the answer)."""
        raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
        s = self.ctx.wrap_socket(raw, server_hostname=self.host) if self.tls else raw
        got = b""
        try:
            s.sendall(f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
            try:
                for i in range(0, len(body), 1 << 16):
                    s.sendall(body[i:i + (1 << 16)])
            except (ConnectionError, ssl.SSLError, socket.timeout):
                pass  # the node stopped reading: its answer (if any) is already on the wire
            while len(got) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ConnectionError, ssl.SSLError, socket.timeout):
            pass
        finally:
            s.close()
        m = re.match(rb"HTTP/1\.[01] (\d{3})", got)
        return (int(m.group(1)) if m else 0), got

    def call(self, method, params=None):
        self.next_id += 1
        req = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            req["params"] = params
        status, body = self.post_raw(json.dumps(req).encode())
        try:
            return status, json.loads(body)
        except ValueError:
            return status, {"_raw": body[:300].decode(errors="replace")}


class Checks:
    """Counts checks. A name in `known` is a deviation from geth that is recorded in
    docs/conformance.md: it still runs, prints KNOWN with the detail, and fails the run if it
    unexpectedly passes (so the list cannot go stale and hide a regression elsewhere)."""

    def __init__(self, known=()):
        self.passed, self.failed, self.known = 0, [], set(known)
        self.known_seen = []

    def case(self, name, ok, detail=""):
        if name in self.known:
            if ok:
                self.failed.append(name)
                print(f"FAIL {name}: listed with --known-deviation but now passes: remove it from the list", flush=True)
            else:
                self.known_seen.append(name)
                print(f"KNOWN {name}: {detail}", flush=True)
        elif ok:
            self.passed += 1
            print(f"ok {name}", flush=True)
        else:
            self.failed.append(name)
            print(f"FAIL {name}: {detail}", flush=True)


def err_of(reply):
    return reply.get("error") if isinstance(reply, dict) else None


def expect_error(chk, node, name, status, reply, code, pattern, want_id=True):
    """Asserts a JSON-RPC error reply with geth's code and a message matching `pattern`."""
    e = err_of(reply)
    if e is None:
        chk.case(name, False, f"no error object (HTTP {status}): {json.dumps(reply)[:300]}")
        return
    msg = e.get("message", "")
    problems = []
    if e.get("code") != code:
        problems.append(f"code {e.get('code')} != {code}")
    if not re.search(pattern, msg):
        problems.append(f"message {msg!r} does not match geth's /{pattern}/")
    if reply.get("jsonrpc") != "2.0":
        problems.append("missing jsonrpc 2.0")
    chk.case(name, not problems, "; ".join(problems))


def still_serving(chk, node, after, chain_id):
    status, r = node.call("eth_chainId", [])
    ok = status == 200 and isinstance(r, dict) and r.get("result") == hex(chain_id)
    if not ok:
        chk.case(f"still serving after {after}", False, f"HTTP {status}: {json.dumps(r)[:200]}")


# ---------------------------------------------------------------- transactions


def dev_key(index):
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def raw_of(signed):
    return "0x" + bytes(signed.raw_transaction).hex()


def legacy_high_s(acct, tx):
    """A legacy transaction whose signature is malleated to the high-s form, which every node
    since Homestead rejects (EIP-2)."""
    signed = acct.sign_transaction(tx)
    fields = rlp.decode(bytes(signed.raw_transaction))
    v, r, s = (int.from_bytes(x, "big") for x in fields[6:9])
    s2 = SECP256K1_N - s
    v2 = v + 1 if v % 2 == (tx["chainId"] * 2 + 35) % 2 else v - 1  # flip the parity bit
    fields[6:9] = [v2, r, s2]
    return "0x" + rlp.encode(fields).hex()


def blob_tx(acct, chain_id, nonce, fee):
    """A signed type-3 (EIP-4844) transaction in its canonical form (no sidecar): the node must
    refuse blob transactions by type before looking for blobs."""
    fields = [chain_id, nonce, 1, fee, 100000, bytes.fromhex("00" * 19 + "01"), 0, b"", [], 1,
              [bytes.fromhex("01" + "00" * 31)]]
    digest = keccak(b"\x03" + rlp.encode(fields))
    sig = keys.PrivateKey(bytes(acct.key)).sign_msg_hash(digest)
    return "0x03" + rlp.encode(fields + [sig.v, sig.r, sig.s]).hex()


def chain_fees(node):
    _, block = node.call("eth_getBlockByNumber", ["latest", False])
    _, gp = node.call("eth_gasPrice", [])
    base = int(block["result"].get("baseFeePerGas", "0x0"), 16)
    return base, max(int(gp["result"], 16), base * 2, 1)


def tx_cases(chain_id, acct, base):
    """(name, build(nonce, gas_price) -> raw tx, geth's code, geth's message pattern). Each is
    built with the sender's pending nonce at the time it is sent, so one wrongly accepted
    transaction does not turn the following cases into nonce errors."""
    to = "0x" + "00" * 19 + "0b"

    def legacy(n, gp, **kw):
        return {"to": to, "value": 1, "gas": 21000, "gasPrice": gp, "nonce": n, "chainId": chain_id, **kw}

    def dynamic(n, gp, **kw):
        return {"type": 2, "to": to, "value": 1, "gas": 21000, "maxFeePerGas": gp, "maxPriorityFeePerGas": 1,
                "nonce": n, "chainId": chain_id, **kw}

    sign = lambda tx: raw_of(acct.sign_transaction(tx))  # noqa: E731
    cases = [
        # geth: "invalid sender: invalid chain id for signer: have X want Y"
        ("tx: wrong chain id (legacy EIP-155)", lambda n, gp: sign(legacy(n, gp, chainId=chain_id + 1)), -32000, r"invalid chain id"),
        ("tx: wrong chain id (EIP-1559)", lambda n, gp: sign(dynamic(n, gp, chainId=chain_id + 1)), -32000, r"invalid chain id"),
        # geth: "invalid transaction v, r, s values" (decode) or "invalid sender: ..." (pool)
        ("tx: bad signature (high s)", lambda n, gp: legacy_high_s(acct, legacy(n, gp)),
         -32000, r"^(invalid transaction v, r, s values|invalid sender)"),
        ("tx: unprotected legacy (pre-EIP-155)",
         lambda n, gp: sign({k: v for k, v in legacy(n, gp).items() if k != "chainId"}),
         -32000, r"^only replay-protected \(EIP-155\) transactions allowed over RPC$"),
        ("tx: type 3 (blob)", lambda n, gp: blob_tx(acct, chain_id, n, gp), -32000, r"^transaction type not supported"),
        ("tx: intrinsic gas too low", lambda n, gp: sign(legacy(n, gp, gas=20000)), -32000, r"^intrinsic gas too low"),
        ("tx: insufficient funds", lambda n, gp: raw_of(Account.create().sign_transaction(legacy(0, gp))),
         -32000, r"^insufficient funds for gas \* price \+ value"),
        # geth decodes with UnmarshalBinary; its errors are rlp:/typed-tx errors, code -32000
        ("tx: garbage bytes", lambda n, gp: "0xdeadbeef", -32000, r"^(rlp: |typed transaction too short|transaction type not supported)"),
    ]
    if base > 0:
        # Zero tip and zero fee cap: below geth's minimum tip ("transaction underpriced: gas tip
        # cap 0, minimum needed 1") and below the base fee (reth/anvil: "max fee per gas less
        # than block base fee").
        cases.append(("tx: underpriced (zero fees on a chain with a base fee)",
                      lambda n, gp: sign(dynamic(n, gp, maxFeePerGas=0, maxPriorityFeePerGas=0)),
                      -32000, r"^transaction underpriced|max fee per gas less than block base fee"))
    else:
        print("note: latest base fee is 0 (free-gas chain): zero-fee transactions are valid, no underpriced case")
    return cases


def ws_cases(chk, node, chain_id):
    """Bad input over one WebSocket connection: each gets geth's error and the same socket
    still answers eth_chainId afterwards."""
    url = f"{'wss' if node.tls else 'ws'}://{node.host}:{node.port}{node.path}"
    try:
        ws = ws_connect(url, ssl=node.ctx if node.tls else None, open_timeout=10, max_size=None)
    except Exception as e:  # noqa: BLE001 - any failure to connect is a failed check
        chk.case("WebSocket connect", False, f"{type(e).__name__}: {e}")
        return

    def rpc(text):
        ws.send(text)
        return json.loads(ws.recv(timeout=10))

    try:
        for name, text, code, pattern in [
            ("ws: malformed JSON", '{"jsonrpc":"2.0","id":1,"method":', -32700, r"^parse error$"),
            ("ws: unknown method", '{"jsonrpc":"2.0","id":2,"method":"foo_bar","params":[]}', -32601,
             r"^the method foo_bar does not exist/is not available$"),
            ("ws: unknown subscription", '{"jsonrpc":"2.0","id":3,"method":"eth_subscribe","params":["foo"]}', -32601,
             r'^no "foo" subscription in eth namespace$'),
            # geth's ErrSubscriptionNotFound, default code
            ("ws: eth_unsubscribe of an unknown id", '{"jsonrpc":"2.0","id":4,"method":"eth_unsubscribe","params":["0x1234"]}',
             -32000, r"^subscription not found$"),
        ]:
            expect_error(chk, node, name, 200, rpc(text), code, pattern)
            alive = rpc('{"jsonrpc":"2.0","id":99,"method":"eth_chainId","params":[]}')
            if alive.get("result") != hex(chain_id):
                chk.case(f"ws: socket still serving after {name}", False, json.dumps(alive)[:200])
    except Exception as e:  # noqa: BLE001 - a closed socket or timeout is a failed check
        chk.case("ws: bad input kept the socket open", False, f"{type(e).__name__}: {e}")
    finally:
        ws.close()


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url")
    ap.add_argument("--ca")
    ap.add_argument("--known-deviation", action="append", default=[],
                    help="check name that is known to differ from geth (still run; reported as KNOWN)")
    ap.add_argument("--chain-id", type=int, default=int(os.environ.get("STELE_CHAIN_ID", "1337")))
    ap.add_argument("--max-body", type=int, default=5 * 1024 * 1024, help="node's request body limit (geth: 5 MiB)")
    ap.add_argument("--batch-limit", type=int, default=1000, help="node's batch item limit (geth: 1000)")
    ap.add_argument("--account", type=int, default=int(os.environ.get("STELE_ACCOUNT_INDEX", "6")))
    a = ap.parse_args()
    node, chk = Node(a.url, a.ca), Checks(a.known_deviation)
    t0 = time.monotonic()
    print(f"# bad input against {a.url}, chain id {a.chain_id}")
    still_serving(chk, node, "start", a.chain_id)

    def raw(name, body, code, pattern, content_type="application/json"):
        status, b = node.post_raw(body if isinstance(body, bytes) else body.encode(), content_type)
        try:
            reply = json.loads(b)
        except ValueError:
            reply = {"_raw": b[:200].decode(errors="replace")}
        if isinstance(reply, list):
            chk.case(name, False, f"expected one error object, got a batch: {json.dumps(reply)[:200]}")
        else:
            expect_error(chk, node, name, status, reply, code, pattern)
        still_serving(chk, node, name, a.chain_id)

    # --- envelope errors
    raw("malformed JSON", '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"', -32700, r"^parse error$")
    raw("not JSON at all", "hello", -32700, r"^parse error$")
    raw("request without method", '{"jsonrpc":"2.0","id":1}', -32600, r"^invalid request$")
    raw("wrong JSON-RPC version", '{"jsonrpc":"1.0","id":1,"method":"eth_chainId","params":[]}', -32600, r"^invalid request$")
    raw("empty batch", "[]", -32600, r"^empty batch$")
    status, b = node.post_raw(b"[1]")
    try:
        reply = json.loads(b)
    except ValueError:
        reply = None
    ok = isinstance(reply, list) and len(reply) == 1 and (err_of(reply[0]) or {}).get("code") == -32600
    chk.case("batch with a non-object item", ok, f"want [-32600 invalid request], got HTTP {status} {b[:200]!r}")
    still_serving(chk, node, "batch with a non-object item", a.chain_id)

    # --- method / params errors
    for name, method, params, code, pattern in [
        ("unknown method", "foo_bar", [], -32601, r"^the method foo_bar does not exist/is not available$"),
        ("unknown method (anvil probe)", "anvil_nodeInfo", [], -32601, r"^the method anvil_nodeInfo does not exist/is not available$"),
        ("wrong param type: number for address", "eth_getBalance", [123, "latest"], -32602, r"^invalid argument 0"),
        ("wrong param type: short address", "eth_getBalance", ["0x123", "latest"], -32602, r"^invalid argument 0"),
        ("wrong param type: string for bool", "eth_getBlockByNumber", ["latest", "yes"], -32602, r"^invalid argument 1"),
        ("hex quantity with leading zero", "eth_getBlockByNumber", ["0x01", False], -32602, r"^invalid argument 0: hex number with leading zero digits$"),
        ("missing required param", "eth_getBalance", [], -32602, r"^missing value for required argument 0$"),
        ("too many params", "eth_blockNumber", [1], -32602, r"^too many arguments, want at most 0$"),
        ("params as an object", "eth_getBalance", {"address": "0x0"}, -32602, r"^non-array args$"),
    ]:
        status, reply = node.call(method, params)
        expect_error(chk, node, name, status, reply, code, pattern)
        still_serving(chk, node, name, a.chain_id)

    # --- size limits
    batch = [{"jsonrpc": "2.0", "id": 1000 + i, "method": "eth_chainId", "params": []} for i in range(a.batch_limit + 1)]
    status, b = node.post_raw(json.dumps(batch).encode())
    try:
        reply = json.loads(b)
    except ValueError:
        reply = None
    ok = (isinstance(reply, list) and len(reply) == 1 and (err_of(reply[0]) or {}).get("code") == -32600
          and (err_of(reply[0]) or {}).get("message", "").startswith("batch too large") and reply[0].get("id") == 1000)
    chk.case(f"huge batch ({a.batch_limit + 1} calls)", ok,
             f"want [{{id:1000, error:-32600 'batch too large'}}], got HTTP {status} {b[:300]!r}")
    still_serving(chk, node, "huge batch", a.chain_id)
    batch = batch[: a.batch_limit]
    status, b = node.post_raw(json.dumps(batch).encode())
    try:
        reply = json.loads(b)
        ok = isinstance(reply, list) and len(reply) == a.batch_limit and all(r.get("result") == hex(a.chain_id) for r in reply)
    except ValueError:
        ok = False
    chk.case(f"batch at the limit ({a.batch_limit} calls) is served", ok, f"HTTP {status} {b[:200]!r}")

    pad = "0" * (a.max_body + 1024 * 1024)
    body = ('{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"data":"0x' + pad + '"},"latest"]}').encode()
    status, head = node.post_streaming(body)
    chk.case(f"oversized request ({len(body) // 1024} KiB)", status == 413,
             f"want HTTP 413 as geth, got HTTP {status} {head[:200]!r}")
    still_serving(chk, node, "oversized request", a.chain_id)

    c = node.conn()
    try:
        c.request("PUT", node.path, body=b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
                  headers={"Content-Type": "application/json"})
        status = c.getresponse().status
    except (ConnectionError, http.client.HTTPException, ssl.SSLError, socket.timeout):
        status = 0
    finally:
        c.close()
    chk.case("HTTP PUT", status == 405, f"want HTTP 405 as geth, got HTTP {status}")

    status, b = node.post_raw(b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}', "text/plain")
    chk.case("wrong Content-Type", status == 415, f"want HTTP 415 as geth, got HTTP {status} {b[:200]!r}")
    still_serving(chk, node, "wrong Content-Type", a.chain_id)

    # --- invalid transactions
    acct = dev_key(a.account)
    try:
        base, _ = chain_fees(node)
    except (KeyError, TypeError, ValueError) as e:
        # No chain state to build transactions from: every transaction case fails, loudly.
        chk.case("tx: read chain state (eth_getBlockByNumber, eth_gasPrice)", False, f"{type(e).__name__}: {e}")
        base = None
    if base is not None:
        for name, build, code, pattern in tx_cases(a.chain_id, acct, base):
            try:
                _, nr = node.call("eth_getTransactionCount", [acct.address, "pending"])
                _, gp = chain_fees(node)
                rawtx = build(int(nr["result"], 16), gp)
            except (KeyError, TypeError, ValueError) as e:
                chk.case(name, False, f"could not build the transaction: {type(e).__name__}: {e}")
                continue
            status, reply = node.call("eth_sendRawTransaction", [rawtx])
            expect_error(chk, node, name, status, reply, code, pattern)
            still_serving(chk, node, name, a.chain_id)
        _, nr = node.call("eth_getTransactionCount", [acct.address, "pending"])
        _, gp = chain_fees(node)
        legacy = {"to": "0x" + "00" * 19 + "0b", "value": 1, "gas": 21000, "gasPrice": gp,
                  "nonce": int(nr["result"], 16), "chainId": a.chain_id}
        # nonce too low: mine one valid transaction, then replay its nonce with other content.
        status, reply = node.call("eth_sendRawTransaction", [raw_of(acct.sign_transaction(legacy))])
        good = (reply or {}).get("result")
        chk.case("tx: valid legacy transaction accepted", bool(good), json.dumps(reply)[:300])
        if good:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                _, rc = node.call("eth_getTransactionReceipt", [good])
                if rc.get("result"):
                    break
                time.sleep(0.25)
            chk.case("tx: valid legacy transaction mined", bool(rc.get("result")), "no receipt within 60 s")
            status, reply = node.call("eth_sendRawTransaction", [raw_of(acct.sign_transaction({**legacy, "value": 2}))])
            expect_error(chk, node, "tx: nonce too low", status, reply, -32000, r"^nonce too low")
            still_serving(chk, node, "tx: nonce too low", a.chain_id)

    # --- subscriptions: not over HTTP; bad input over WebSocket keeps the socket usable
    status, reply = node.call("eth_subscribe", ["newHeads"])
    expect_error(chk, node, "eth_subscribe over HTTP", status, reply, -32601, r"^notifications not supported$")
    ws_cases(chk, node, a.chain_id)

    # --- plaintext on the TLS port
    if node.tls:
        s = socket.create_connection((node.host, node.port), timeout=10)
        got = b""
        try:
            s.sendall(b'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 58\r\n\r\n'
                      b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}')
            while len(got) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ConnectionError, socket.timeout):
            pass
        finally:
            s.close()
        served = re.match(rb"HTTP/1\.[01] 2\d\d", got) or b'"result"' in got
        refused = got == b"" or got[:1] == b"\x15" or re.match(rb"HTTP/1\.[01] 4\d\d", got)
        chk.case("plaintext HTTP on the TLS port is refused", bool(refused and not served),
                 f"got {got[:120]!r}")
        still_serving(chk, node, "plaintext HTTP", a.chain_id)
    else:
        print("note: plain http URL: the plaintext-on-TLS-port case needs an https URL")

    still_serving(chk, node, "the whole run", a.chain_id)
    for k in chk.known_seen:
        print(f"  known deviation: {k}")
    print(f"bad_input: {chk.passed} passed, {len(chk.failed)} failed in {time.monotonic() - t0:.1f}s")
    for f in chk.failed:
        print(f"  failed: {f}")
    return 1 if chk.failed else 0


if __name__ == "__main__":
    sys.exit(main())
