#!/usr/bin/env python3
"""Waits until a JSON-RPC endpoint answers eth_chainId over HTTPS (verifying its certificate
against the given CA) or plain HTTP; prints the chain id. Used by the suites after starting
a node. Usage: wait_rpc.py URL [CA.pem] [TIMEOUT_S] [PID]  (gives up early if PID exits)."""
import json
import os
import ssl
import sys
import time
import urllib.request

url = sys.argv[1]
ca = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 120
pid = int(sys.argv[4]) if len(sys.argv) > 4 else None
deadline = time.monotonic() + timeout
last = None
while time.monotonic() < deadline:
    if pid is not None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit(f"node process {pid} exited before answering (last error: {last})")
    try:
        # The CA file appears only once the node has written it.
        ctx = None
        if url.startswith("https://"):
            if ca and not os.path.exists(ca):
                raise FileNotFoundError(ca)
            ctx = ssl.create_default_context(cafile=ca)
        req = urllib.request.Request(url, data=b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
            print(int(json.load(r)["result"], 16))
            sys.exit(0)
    except Exception as e:  # noqa: BLE001 - keep polling until the deadline
        last = e
        time.sleep(0.5)
sys.exit(f"{url} did not answer eth_chainId within {timeout}s (last error: {last})")
