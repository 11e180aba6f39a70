#!/usr/bin/env python3
"""Turns the RPC read benchmark's wrk outputs into one markdown table.

Usage: table.py RESULTS_DIR ROUNDS METHOD...
Reads RESULTS_DIR/<node>-<method>.r<round>.wrk (node: stele, anvil; round 1..ROUNDS) and
prints one row per method: for each node the round with the median requests/s, with that
round's p50 and p99 latency and the lowest–highest requests/s over all rounds, then
stele's median rate as a share of anvil's. A run with socket errors or non-2xx responses
is marked, not dropped.
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


def median_round(results: Path, node: str, method: str, rounds: int, notes: list) -> dict:
    runs = [parse(results / f"{node}-{method}.r{r}.wrk") for r in range(1, rounds + 1)]
    for i, r in enumerate(runs, 1):
        if r["problems"]:
            notes.append(f"{node} {method} round {i}: {', '.join(r['problems'])}")
    ordered = sorted(runs, key=lambda r: r["rps"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["range"] = f"{ordered[0]['rps']:,.0f}–{ordered[-1]['rps']:,.0f}"
    return median


def main() -> int:
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    results = Path(sys.argv[1])
    rounds = int(sys.argv[2])
    print(
        "| method | stele req/s | (range) | p50 ms | p99 ms "
        "| anvil req/s | (range) | p50 ms | p99 ms | stele / anvil |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    notes: list = []
    for method in sys.argv[3:]:
        s = median_round(results, "stele", method, rounds, notes)
        a = median_round(results, "anvil", method, rounds, notes)
        ratio = s["rps"] / a["rps"] if a["rps"] else float("inf")
        print(
            f"| {method} | {s['rps']:,.0f} | {s['range']} | {ms(s['p50'])} | {ms(s['p99'])} "
            f"| {a['rps']:,.0f} | {a['range']} | {ms(a['p50'])} | {ms(a['p99'])} | {ratio:.2f}x |"
        )
    for n in notes:
        print(f"\n**{n}**")
    return 0


if __name__ == "__main__":
    sys.exit(main())
