#!/usr/bin/env python3
"""Proves replay.py judges like hive before it is trusted with the node: serves the recorded
replies from a fake JSON-RPC server (everything must pass), then serves deliberately wrong
replies (each kind of mismatch must fail, and error messages alone must not).

Run: python3 tests/conformance/selftest.py [FIXTURES_DIR]. Stdlib only; exits non-zero on failure.
"""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import replay  # noqa: E402


class Oracle(http.server.BaseHTTPRequestHandler):
    """Answers each request line with the recorded reply, optionally mutated."""

    table: dict = {}
    mutate = None

    def do_POST(self):  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        queue = self.table.get(body)
        reply = queue.pop(0) if queue else '{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}'
        if self.mutate:
            reply = json.dumps(self.mutate(json.loads(reply)))
        data = reply.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def serve(cases, mutate=None):
    table = {}
    for c in cases:
        for req, want in c.pairs:
            table.setdefault(req, []).append(want)
    Oracle.table, Oracle.mutate = table, staticmethod(mutate) if mutate else None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Oracle)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def run(fixtures, only, mutate, quiet=True):
    cases = replay.load_cases(fixtures)
    srv = serve(cases, mutate)
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    args = [url, "--fixtures", fixtures, "--core", "0", "--debug", "0", "--txpool", "0"]
    for o in only:
        args += ["--only", o]
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        replay.main(args)
    srv.shutdown()
    text = out.getvalue()
    if not quiet:
        print(text)
    passed = sum(1 for line in text.splitlines() if line.startswith("PASS "))
    failed = sum(1 for line in text.splitlines() if line.startswith("FAIL "))
    return passed, failed, text


def main():
    fixtures = sys.argv[1] if len(sys.argv) > 1 else replay.DEFAULT_FIXTURES
    n = len(replay.load_cases(fixtures))
    checks = []

    p, f, text = run(fixtures, [], None)
    checks.append(("recorded replies all pass", p == n and f == 0, f"{p}/{n} passed\n{text if f else ''}"))

    def new_message(r):
        if "error" in r:
            r["error"]["message"] = "reworded by the node"
        return r

    p, f, _ = run(fixtures, [], new_message)
    checks.append(("error wording is ignored", p == n, f"{p}/{n}"))

    def extra_key(r):
        if isinstance(r.get("result"), dict):
            r["result"]["totalDifficulty"] = "0x0"
        return r

    p, f, _ = run(fixtures, ["eth_getBlockByNumber/get-latest"], extra_key)
    checks.append(("an extra key fails", f == 1, f"{p} passed {f} failed"))

    def pad_hex(r):
        if isinstance(r.get("result"), str) and r["result"].startswith("0x"):
            r["result"] = "0x0" + r["result"][2:]
        return r

    p, f, _ = run(fixtures, ["eth_blockNumber"], pad_hex)
    checks.append(("a leading zero fails", f == 1, f"{p} passed {f} failed"))

    def upper_hex(r):
        if isinstance(r.get("result"), str):
            r["result"] = r["result"].upper().replace("0X", "0x")
        return r

    p, f, _ = run(fixtures, ["eth_getCode"], upper_hex)
    checks.append(("hex case matters", f >= 1, f"{p} passed {f} failed"))

    def other_code(r):
        if "error" in r:
            r["error"]["code"] = -32000
        return r

    p, f, _ = run(fixtures, ["eth_call"], other_code)
    checks.append(("a different error code fails", f >= 1, f"{p} passed {f} failed"))

    def drop_data(r):
        if "error" in r:
            r["error"].pop("data", None)
        return r

    p, f, _ = run(fixtures, ["eth_call"], drop_data)
    checks.append(("missing revert data fails", f >= 1, f"{p} passed {f} failed"))

    def as_error(r):
        r.pop("result", None)
        r["error"] = {"code": -32601, "message": "the method does not exist/is not available"}
        return r

    p, f, _ = run(fixtures, ["txpool_status", "eth_feeHistory"], as_error)
    checks.append(("speconly: an error reply fails", f == 2, f"{p} passed {f} failed"))

    def speconly_values(r):
        if isinstance(r.get("result"), dict) and "pending" in r["result"]:
            r["result"]["pending"] = "0x9"  # another value, same shape: schema-valid
        return r

    p, f, _ = run(fixtures, ["txpool_status"], speconly_values)
    checks.append(("speconly: other values of the same shape pass", p == 1, f"{p} passed {f} failed"))

    def speconly_shape(r):
        if isinstance(r.get("result"), dict) and "pending" in r["result"]:
            r["result"]["pending"] = 6  # a JSON number where the schema says hex quantity
        return r

    p, f, _ = run(fixtures, ["txpool_status"], speconly_shape)
    checks.append(("speconly: a wrong type fails", f == 1, f"{p} passed {f} failed"))

    def pool_lacks_one(r):
        # The node refused one of the earlier transactions (stele rejects blob txs): the pool
        # holds other senders/nonces than geth's did. Schema-valid, so it must still pass.
        pend = (r.get("result") or {}).get("pending")
        if isinstance(pend, dict) and pend:
            sender = next(iter(pend))
            nonces = pend[sender]
            nonces.pop(max(nonces, key=int))
            pend["0x" + "ab" * 20] = {"7": next(iter(nonces.values()))}
        return r

    p, f, _ = run(fixtures, ["txpool_content/"], pool_lacks_one)
    checks.append(("speconly: txpool map with other senders/nonces passes", p == 1, f"{p} passed {f} failed"))

    def pool_tx_without_hash(r):
        pend = (r.get("result") or {}).get("pending")
        if isinstance(pend, dict) and pend:
            for tx in next(iter(pend.values())).values():
                tx.pop("hash", None)
        return r

    p, f, _ = run(fixtures, ["txpool_content/"], pool_tx_without_hash)
    checks.append(("speconly: a pool transaction without hash fails", f == 1, f"{p} passed {f} failed"))

    def no_delete_strategy(r):
        # An archive node: nothing is deleted, so no deletion window to report (the schema
        # makes deleteStrategy optional). Must pass.
        for resource in (r.get("result") or {}).values():
            if isinstance(resource, dict):
                resource.pop("deleteStrategy", None)
        return r

    p, f, _ = run(fixtures, ["eth_capabilities"], no_delete_strategy)
    checks.append(("speconly: an optional key left out passes", p == 1, f"{p} passed {f} failed"))

    def no_head_hash(r):
        (r.get("result") or {}).get("head", {}).pop("hash", None)
        return r

    p, f, _ = run(fixtures, ["eth_capabilities"], no_head_hash)
    checks.append(("speconly: a required key left out fails", f == 1, f"{p} passed {f} failed"))

    def bad_delete_strategy(r):
        logs = (r.get("result") or {}).get("logs")
        if isinstance(logs, dict) and "deleteStrategy" in logs:
            logs["deleteStrategy"] = "none"
        return r

    p, f, _ = run(fixtures, ["eth_capabilities"], bad_delete_strategy)
    checks.append(("speconly: an optional key of the wrong type fails", f == 1, f"{p} passed {f} failed"))

    def renumber(r):
        r["id"] = 99
        return r

    p, f, _ = run(fixtures, ["eth_chainId"], renumber)
    checks.append(("a wrong id fails", f == 1, f"{p} passed {f} failed"))

    bad = 0
    for name, ok, info in checks:
        print(f"{'ok' if ok else 'FAILED'} {name} ({info.splitlines()[0] if info else ''})")
        if not ok:
            bad += 1
            print(info)
    print(f"selftest: {len(checks) - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
