#!/usr/bin/env python3
"""A syslog receiver for the cluster test: every VM forwards its journal here (the appliance's
syslog.target property), so a failing run shows what each replica logged.

    syslog-sink.py HOST PORT OUT_DIR

Listens on UDP HOST:PORT and appends each message, one line, to OUT_DIR/<source-ip>.log.
Runs until killed."""
import os
import socket
import sys


def main() -> None:
    host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    files = {}
    while True:
        data, (ip, _) = sock.recvfrom(65535)
        f = files.get(ip)
        if f is None:
            f = files[ip] = open(os.path.join(out, f"{ip}.log"), "a", buffering=1, encoding="utf-8")
        f.write(data.decode("utf-8", "replace").rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
