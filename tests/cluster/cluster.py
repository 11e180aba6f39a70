"""A real stele cluster for fault tests: `stele init` into a temporary directory, one
`stele run` process per replica, and what a test needs to hurt it (SIGKILL, SIGTERM, wiping a
data directory, a TCP proxy that partitions a replica) and to judge it (every accepted
transaction has a receipt on every live replica; no two replicas hold different blocks at
the same height).

Only the standard library, `requests` and `eth_account` (the web3.py venv has both).
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import requests
from eth_account import Account

# The dev accounts (mnemonic "test test ... junk", m/44'/60'/0'/0/i), funded by the dev genesis.
DEV_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
]
CHAIN_ID = 1337


class Failure(AssertionError):
    pass


def ephemeral_port_low():
    """The lowest port the kernel gives outgoing connections (Linux: 32768 by default)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_base_port(count, rng):
    """A base port with `count` consecutive free ports, below the ephemeral range: a port
    that is free when checked but inside that range can be taken by any outgoing connection
    (the replicas' own, the proxies', the clients') before the replica that owns it binds
    it. That happened once in CI ("cannot listen on 127.0.0.1:38926: Address already in
    use", byzantine-equivocate)."""
    top = max(10000 + count + 1, ephemeral_port_low()) - count
    for _ in range(200):
        base = rng.randrange(10000, top)
        ok = True
        for p in range(base, base + count):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                s.close()
            if not ok:
                break
        if ok:
            return base
    raise RuntimeError("no free port range")


class Proxy:
    """A TCP forwarder that can cut its traffic: the replica behind it is partitioned while
    cut (existing connections are closed, new ones are closed at once)."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.cut = False
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data or self.cut:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass

    def set_cut(self, cut):
        self.cut = cut
        if cut:
            with self.lock:
                for s in self.conns:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                        s.close()
                    except OSError:
                        pass
                self.conns = []


class Cluster:
    def __init__(self, name, stele, byzantine_bin=None, n=4, consensus=None, proxied=(), seed=None):
        self.name = name
        self.stele = stele
        self.byzantine_bin = byzantine_bin
        self.n = n
        self.seed = seed if seed is not None else random.randrange(1 << 30)
        self.rng = random.Random(self.seed)
        self.dir = tempfile.mkdtemp(prefix=f"stele-{name}-")
        base = free_base_port(2 * n, self.rng)
        self.p2p_base, self.rpc_base = base, base + n
        out = subprocess.run(
            [stele, "init", "--replicas", str(n), "--p2p-port", str(self.p2p_base), "--rpc-port", str(self.rpc_base),
             "--out", os.path.join(self.dir, "c")],
            capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"stele init failed: {out.stderr}")
        self.ca = os.path.join(self.dir, "c", "ca", "ca.crt")
        self.procs = [None] * n
        self.logs = [os.path.join(self.dir, "c", f"replica-{i}", "replica.log") for i in range(n)]
        self.proxies = {}
        for i in proxied:
            # Every link to and from replica i goes through a proxy: peers dial i's proxy, and
            # i dials each peer through a proxy of its own.
            self.proxies[("in", i)] = Proxy(self.p2p_base + i)
            for j in range(n):
                if j != i:
                    self.proxies[("out", i, j)] = Proxy(self.p2p_base + j)
        for i in range(n):
            self._patch_config(i, consensus or {})
        self.session = requests.Session()
        self.accepted = []  # tx hashes the cluster accepted
        self.nonces = {}
        print(f"[{name}] cluster in {self.dir}, seed {self.seed}, rpc ports {self.rpc_base}..{self.rpc_base + n - 1}", flush=True)

    # ---- configuration
    def config_path(self, i):
        return os.path.join(self.dir, "c", f"replica-{i}", "config.toml")

    def data_dir(self, i):
        return os.path.join(self.dir, "c", f"replica-{i}", "data")

    def _patch_config(self, i, consensus):
        path = self.config_path(i)
        text = open(path).read()
        lines = "".join(f"{k} = {v}\n" for k, v in consensus.items())
        text = text.replace("[consensus]\n", "[consensus]\n" + lines, 1)

        def peer_address(m):
            pid = int(m.group(1))
            addr = m.group(2)
            if ("in", pid) in self.proxies and pid != i:
                addr = f"127.0.0.1:{self.proxies[('in', pid)].port}"
            if ("out", i, pid) in self.proxies:
                addr = f"127.0.0.1:{self.proxies[('out', i, pid)].port}"
            return f'id = {pid}\naddress = "{addr}"'

        text = re.sub(r'id = (\d+)\naddress = "([^"]+)"', peer_address, text)
        open(path, "w").write(text)

    # ---- processes
    def start(self, i, byzantine=None):
        assert self.procs[i] is None or self.procs[i].poll() is not None, f"replica {i} is running"
        cmd = [self.stele, "run", "--config", self.config_path(i)]
        if byzantine:
            if not self.byzantine_bin:
                raise RuntimeError("no byzantine build")
            cmd = [self.byzantine_bin, "run", "--config", self.config_path(i), "--byzantine", byzantine]
        log = open(self.logs[i], "ab")
        self.procs[i] = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)

    def start_all(self, byzantine=None):
        for i in range(self.n):
            self.start(i, byzantine=(byzantine or {}).get(i))
        self.wait(lambda: all(self.head(i) is not None for i in range(self.n)), 120, "every replica answers")

    def kill(self, i):
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()

    def stop(self, i):
        self.procs[i].send_signal(signal.SIGTERM)
        try:
            self.procs[i].wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise Failure(f"replica {i} did not stop within 30 s of SIGTERM")

    def wipe(self, i):
        shutil.rmtree(self.data_dir(i), ignore_errors=True)

    def alive(self):
        return [i for i in range(self.n) if self.procs[i] is not None and self.procs[i].poll() is None]

    def close(self, keep=False):
        for i in range(self.n):
            p = self.procs[i]
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        for proxy in self.proxies.values():
            proxy.set_cut(True)
            proxy.listener.close()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def tail_logs(self, lines=12):
        for i, path in enumerate(self.logs):
            try:
                content = open(path, errors="replace").read().splitlines()[-lines:]
            except OSError:
                content = []
            print(f"--- replica {i} log tail ({path})")
            for line in content:
                print("   ", re.sub(r"\x1b\[[0-9;]*m", "", line))

    # ---- RPC
    def rpc(self, i, method, params=None, timeout=5):
        url = f"https://127.0.0.1:{self.rpc_base + i}"
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
        r = self.session.post(url, json=body, verify=self.ca, timeout=timeout)
        reply = r.json()
        if "error" in reply:
            raise RuntimeError(f"{method} on replica {i}: {reply['error']}")
        return reply["result"]

    def rpc_batch(self, i, calls, timeout=20):
        url = f"https://127.0.0.1:{self.rpc_base + i}"
        body = [{"jsonrpc": "2.0", "id": k, "method": m, "params": p} for k, (m, p) in enumerate(calls)]
        r = self.session.post(url, json=body, verify=self.ca, timeout=timeout)
        replies = sorted(r.json(), key=lambda x: x["id"])
        return [x.get("result") for x in replies]

    def head(self, i):
        try:
            return int(self.rpc(i, "eth_blockNumber"), 16)
        except Exception:
            return None

    def status(self, i):
        return self.rpc(i, "stele_status")

    def primary(self):
        for i in self.alive():
            try:
                return self.status(i)["primary"]
            except Exception:
                continue
        raise Failure("no replica answers stele_status")

    # ---- transactions
    def send(self, i, key_index=0, value=1):
        """Signs a transfer from dev account `key_index` and sends it to replica i; remembers
        its hash once accepted."""
        acct = Account.from_key(DEV_KEYS[key_index])
        if acct.address not in self.nonces:
            self.nonces[acct.address] = int(self.rpc(i, "eth_getTransactionCount", [acct.address, "pending"]), 16)
        nonce = self.nonces[acct.address]
        tx = {"chainId": CHAIN_ID, "nonce": nonce, "to": "0x000000000000000000000000000000000000dEaD", "value": value,
              "gas": 21000, "maxFeePerGas": 20 * 10**9, "maxPriorityFeePerGas": 10**9, "type": 2}
        signed = Account.sign_transaction(tx, acct.key)
        raw = signed.raw_transaction if hasattr(signed, "raw_transaction") else signed.rawTransaction
        h = self.rpc(i, "eth_sendRawTransaction", ["0x" + raw.hex().removeprefix("0x")])
        self.nonces[acct.address] = nonce + 1
        self.accepted.append(h)
        return h

    # ---- waiting and judging
    def wait(self, cond, timeout, what):
        started = time.time()
        while True:
            try:
                if cond():
                    return time.time() - started
            except Exception:
                pass
            if time.time() - started > timeout:
                raise Failure(f"timed out after {timeout} s waiting for: {what}")
            time.sleep(0.2)

    def assert_no_loss(self, replicas=None, timeout=120):
        """Every accepted transaction has a successful receipt on every given replica."""
        replicas = self.alive() if replicas is None else replicas

        def all_mined():
            for i in replicas:
                for k in range(0, len(self.accepted), 200):
                    chunk = self.accepted[k:k + 200]
                    got = self.rpc_batch(i, [("eth_getTransactionReceipt", [h]) for h in chunk])
                    if any(r is None for r in got):
                        return False
                    bad = [r["transactionHash"] for r in got if r["status"] != "0x1"]
                    if bad:
                        raise Failure(f"replica {i}: failed receipts {bad[:3]}")
            return True

        try:
            self.wait(all_mined, timeout, f"all {len(self.accepted)} accepted transactions mined on replicas {replicas}")
        except Failure as e:
            try:
                lost = {i: [f"#{self.accepted.index(h)} {h}" for h in hs] for i, hs in missing_report(self, replicas).items() if hs}
            except Exception:  # noqa: BLE001
                lost = "unknown"
            raise Failure(f"{e}; missing (index in send order, sent round-robin): {lost}") from None

    def assert_same_blocks(self, replicas=None):
        """No two replicas hold different blocks at the same height (up to the lowest head)."""
        replicas = self.alive() if replicas is None else replicas
        heads = {i: self.head(i) for i in replicas}
        top = min(h for h in heads.values() if h is not None)
        hashes = {}
        for i in replicas:
            got = []
            for k in range(0, top + 1, 250):
                calls = [("eth_getBlockByNumber", [hex(n), False]) for n in range(k, min(top + 1, k + 250))]
                got += [b["hash"] if b else None for b in self.rpc_batch(i, calls)]
            hashes[i] = got
        first = replicas[0]
        for i in replicas[1:]:
            for n, (a, b) in enumerate(zip(hashes[first], hashes[i])):
                if a != b:
                    raise Failure(f"replicas {first} and {i} differ at block {n}: {a} vs {b}")
        return top

    def log_contains(self, i, text):
        try:
            return text in re.sub(r"\x1b\[[0-9;]*m", "", open(self.logs[i], errors="replace").read())
        except OSError:
            return False


def missing_report(c, replicas):
    """Which accepted transactions a replica lacks (for failure messages)."""
    out = {}
    for i in replicas:
        got = c.rpc_batch(i, [("eth_getTransactionReceipt", [h]) for h in c.accepted])
        out[i] = [h for h, r in zip(c.accepted, got) if r is None]
    return out
