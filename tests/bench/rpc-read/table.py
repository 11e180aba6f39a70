#!/usr/bin/env python3
"""Turns the RPC read benchmark's wrk outputs into one markdown table.

Usage: table.py RESULTS_DIR METHOD...
Reads RESULTS_DIR/<node>-<method>.wrk (node: stele, anvil) and prints one row per method:
requests/s, p50 and p99 latency for each node, and stele's rate as a share of anvil's.
A run with socket errors or non-2xx responses is marked, not dropped.
"""
import re
import sys
from pathlib import Path

UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


class ParseError(Exception):
    """A wrk output without the line this script needs."""


def latency_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ParseError(f"latency {text!r}")
    return float(m.group(1)) * UNIT_MS[m.group(2)]


def parse(path: Path) -> dict:
    out = path.read_text()
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"^\s+(\d+) requests in", out, re.M)
    if not (rps and p50 and p99 and total):
        raise ParseError(f"{path}: not a complete `wrk --latency` output")
    problems = []
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        problems.append(f"{m.group(1)} non-2xx")
    if m := re.search(r"Socket errors: (.*)", out):
        problems.append(f"socket errors {m.group(1).strip()}")
    return {
        "rps": float(rps.group(1)),
        "p50": latency_ms(p50.group(1)),
        "p99": latency_ms(p99.group(1)),
        "requests": int(total.group(1)),
        "problems": problems,
    }


def ms(v: float) -> str:
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    results = Path(sys.argv[1])
    print("| method | stele req/s | stele p50 ms | stele p99 ms | anvil req/s | anvil p50 ms | anvil p99 ms | stele / anvil |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    notes = []
    for method in sys.argv[2:]:
        s = parse(results / f"stele-{method}.wrk")
        a = parse(results / f"anvil-{method}.wrk")
        for node, r in (("stele", s), ("anvil", a)):
            if r["problems"]:
                notes.append(f"{node} {method}: {', '.join(r['problems'])}")
        ratio = s["rps"] / a["rps"] if a["rps"] else float("inf")
        print(
            f"| {method} | {s['rps']:,.0f} | {ms(s['p50'])} | {ms(s['p99'])} "
            f"| {a['rps']:,.0f} | {ms(a['p50'])} | {ms(a['p99'])} | {ratio:.2f}x |"
        )
    for n in notes:
        print(f"\n**{n}**")
    return 0


if __name__ == "__main__":
    sys.exit(main())
