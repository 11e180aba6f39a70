#!/usr/bin/env python3
"""A TLS terminator for developing the client scenarios against anvil, which speaks only
plain HTTP/WS: it makes a throw-away CA and a 127.0.0.1/localhost server certificate (or
reuses the ones given), listens with TLS and relays the decrypted bytes to anvil. HTTP and
WebSocket both pass through unchanged, so every client is exercised over https:// and wss://
with its CA-trust environment variable exactly as it will be against stele.

Usage: tls_proxy.py --listen 8545 --upstream 127.0.0.1:8546 --dir DIR
Writes DIR/ca.pem (trust this) and DIR/server.{pem,key}; prints "ready" when listening.
Stdlib plus the openssl command line tool.
"""

import argparse
import os
import socket
import ssl
import subprocess
import sys
import threading


def make_certs(d: str) -> None:
    """A CA and a leaf for 127.0.0.1 + localhost, shaped like the node's dev CA (SANs matter:
    clients check the IP SAN, not the CN)."""
    if os.path.exists(os.path.join(d, "server.pem")):
        return
    os.makedirs(d, exist_ok=True)
    run = lambda *a: subprocess.run(a, cwd=d, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=stele-test dev CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        # Name-constrained to loopback like stele's dev CA, so every client is proven to accept that.
        "-addext", "nameConstraints=critical,permitted;DNS:localhost,permitted;IP:127.0.0.0/255.0.0.0")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as fh:
        fh.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                 "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(raw, ctx, upstream):
    try:
        tls = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()  # plaintext or bad handshake: refused, like the node
        return
    try:
        up = socket.create_connection(upstream)
    except OSError:
        tls.close()
        return
    threading.Thread(target=pump, args=(up, tls), daemon=True).start()
    pump(tls, up)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    make_certs(a.dir)
    host, port = a.upstream.rsplit(":", 1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(a.dir, "server.pem"), os.path.join(a.dir, "server.key"))
    srv = socket.create_server(("127.0.0.1", a.listen))
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn, ctx, (host, int(port))), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
