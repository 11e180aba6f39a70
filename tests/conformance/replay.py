#!/usr/bin/env python3
"""Replays the execution-apis conformance fixtures against a JSON-RPC endpoint and judges
every response the way hive's rpc-compat simulator does.

Usage:
    replay.py URL [--ca CA.pem] [--fixtures DIR] [--only METHOD ...] [--core N --debug N
              --txpool N] [--verbose] [--timeout S]

URL is https://host:port (the CA file makes the node's certificate trusted) or http://host:port
for development. Python 3.11 standard library only, so CI needs nothing installed.

Judging (hive simulators/ethereum/rpc-compat):
  * files run in sorted path order, each `>>` line is POSTed verbatim, each `<<` line is the
    expected reply to the request before it;
  * wherever both sides carry an `error` object its `message` is dropped: codes and `data`
    must match, wording is free;
  * everything else must match exactly: no missing or extra keys (in the whole envelope,
    `jsonrpc` and `id` included), numbers compared by value, strings byte for byte (hex case
    and leading zeros matter), arrays element by element;
  * `// speconly` files: a reply without an error passes if its result has the *shape* of the
    recorded one (see shape_errors below). hive validates against the OpenRPC schema instead;
    we have no schema offline, so the recorded geth reply stands in for it. A speconly reply
    that is an error is judged exactly (as hive does: the schema path is only taken when the
    client returned no error).

Output: one line per file (PASS/FAIL + the first difference, shown as a path-wise diff),
a per-method table, and totals for core eth_/net_, debug_, txpool_ and other (testing_*).
Exit status 1 when a group is under its threshold (defaults: core 100, debug 24, txpool 3,
i.e. issue 3's bar), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass, field

DEFAULT_FIXTURES = os.path.join(
    os.environ.get("STELE_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared")),
    "conformance",
    "execution-apis",
)

HEX_RE = re.compile(r"^0x[0-9a-fA-F]*$")


# ---------------------------------------------------------------- loading


@dataclass
class Case:
    path: str  # relative, e.g. eth_call/call-revert-abi-error.io
    method: str  # the folder name = the method under test
    speconly: bool
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (request line, expected line)


def group_of(method: str) -> str:
    if method.startswith("debug_"):
        return "debug"
    if method.startswith("txpool_"):
        return "txpool"
    if method.startswith("eth_") or method.startswith("net_"):
        return "core"
    return "other"


def load_cases(root: str) -> list[Case]:
    cases = []
    files = []
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            if n.endswith(".io"):
                files.append(os.path.relpath(os.path.join(dirpath, n), root))
    # hive walks with filepath.Walk, which is lexical order of the full path.
    for rel in sorted(files, key=lambda p: p.replace(os.sep, "/")):
        rel = rel.replace(os.sep, "/")
        method = rel.split("/", 1)[0]
        with open(os.path.join(root, rel), encoding="utf-8") as fh:
            text = fh.read()
        case = Case(path=rel, method=method, speconly=False)
        pending = None
        for raw in text.split("\n"):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("//"):
                if line[2:].strip().lower().startswith("speconly"):
                    case.speconly = True
                continue
            if line.startswith(">> "):
                if pending is not None:
                    raise ValueError(f"{rel}: two requests without a response between them")
                pending = line[3:]
            elif line.startswith("<< "):
                if pending is None:
                    raise ValueError(f"{rel}: response before request")
                case.pairs.append((pending, line[3:]))
                pending = None
            else:
                raise ValueError(f"{rel}: invalid line in test script: {line[:80]}")
        if pending is not None:
            raise ValueError(f"{rel}: request without an expected response")
        cases.append(case)
    return cases


# ---------------------------------------------------------------- transport


class Transport:
    def __init__(self, url: str, ca: str | None, timeout: float):
        self.url = url
        self.timeout = timeout
        self.ctx = None
        if url.startswith("https://"):
            # Verify the node's certificate against the given CA (or the system store):
            # the test must prove the TLS endpoint is usable by a real client, not bypass it.
            self.ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
        elif not url.startswith("http://"):
            raise SystemExit(f"unsupported URL scheme: {url}")

    def post(self, body: str) -> bytes:
        req = urllib.request.Request(
            self.url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.ctx) as resp:
                return resp.read()
        except urllib.error.HTTPError as e:
            # A JSON-RPC error may travel with a non-200 status; judge the body anyway.
            return e.read()


# ---------------------------------------------------------------- judging


def strip_error_messages(got, want):
    """hive deletes error.message wherever both replies carry an error object."""
    if isinstance(got, dict) and isinstance(want, dict):
        ge, we = got.get("error"), want.get("error")
        if isinstance(ge, dict) and isinstance(we, dict):
            ge.pop("message", None)
            we.pop("message", None)


def exact_diff(got, want, path="$"):
    """First difference between two JSON values under hive's rules, or None."""
    if isinstance(want, bool) or isinstance(got, bool):
        if type(got) is not type(want) or got != want:
            return (path, got, want)
        return None
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return None if float(got) == float(want) else (path, got, want)
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return (path, got, want)
        for k in want:
            if k not in got:
                return (f"{path}.{k}", "<missing>", want[k])
        for k in got:
            if k not in want:
                return (f"{path}.{k}", got[k], "<not expected>")
        for k in want:
            d = exact_diff(got[k], want[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(want, list):
        if not isinstance(got, list):
            return (path, got, want)
        for i in range(min(len(got), len(want))):
            d = exact_diff(got[i], want[i], f"{path}[{i}]")
            if d:
                return d
        if len(got) != len(want):
            return (f"{path}.length", len(got), len(want))
        return None
    if type(got) is not type(want) or got != want:
        return (path, got, want)
    return None


NULLABLE_KEYS = {"to", "blockHash", "blockNumber", "transactionIndex", "blockTimestamp", "contractAddress"}
# Keys the spec's schema leaves optional although the recorded geth reply has them, where a
# node may truthfully leave them out: `deleteStrategy` of EthCapabilitiesEffectiveResource
# (src/schemas/capabilities.yaml @033ca6e: only `disabled` is required, and the one strategy
# defined is a sliding deletion window, which a node that deletes nothing does not have).
# When present, they are still checked against the recorded shape.
OPTIONAL_KEYS = {"deleteStrategy"}
MAP_KEY_RE = re.compile(r"^(0x[0-9a-fA-F]{40}|[0-9]+)$")


def is_map_like(obj: dict) -> bool:
    return bool(obj) and all(MAP_KEY_RE.match(k) for k in obj)


def template_for(value, recorded: dict):
    """The recorded map entry to judge `value` against: one of the same transaction type
    (deep inside, for sender -> nonce -> tx maps) if there is one, else the first."""
    def tx_type(v):
        if isinstance(v, dict):
            if "type" in v and not isinstance(v["type"], dict):
                return v["type"]
            for inner in v.values():
                t = tx_type(inner)
                if t is not None:
                    return t
        return None
    t = tx_type(value)
    for cand in recorded.values():
        if t is not None and tx_type(cand) == t:
            return cand
    return next(iter(recorded.values()))


def shape_errors(got, want, path="$result"):
    """Schema stand-in for speconly cases: the reply must have the recorded reply's shape.

    - same JSON type at every position (null matches null only);
    - hex strings stay hex strings; a DATA value of fixed width (20-byte address, 32-byte
      hash, 256-byte bloom) keeps that width; a quantity must be compact (no leading zero);
    - objects: every key of the recorded reply must be present (the spec's required fields
      are a subset of what geth emits, so this is slightly stricter than the schema for a
      few optional fields), except the OPTIONAL_KEYS; extra keys are reported but tolerated,
      as a schema without additionalProperties=false would;
    - arrays: each element is checked against the recorded element at the same index, or
      the first recorded element if the reply is longer (lengths may legitimately differ);
    - map-like objects, whose keys are addresses or decimal numbers (txpool_content's
      sender -> nonce -> transaction): which keys exist is data, not schema, so each entry of
      the reply is checked against the recorded entry of the same key, else one of the same
      transaction "type", else the first; an empty recorded map accepts any map;
    - the spec's nullable fields (to, blockHash, blockNumber, transactionIndex, ...) may be
      null or a hex string either way.
    Returns (errors, notes)."""
    errs, notes = [], []

    def walk(g, w, p, key=None):
        if key in NULLABLE_KEYS and (g is None or w is None):
            if g is not None and not (isinstance(g, str) and HEX_RE.match(g)):
                errs.append(f"{p}: expected null or a hex string, got {short(g)}")
            return
        if w is None:
            if g is not None:
                errs.append(f"{p}: expected null, got {short(g)}")
            return
        if isinstance(w, bool):
            if not isinstance(g, bool):
                errs.append(f"{p}: expected a boolean, got {short(g)}")
            return
        if isinstance(w, (int, float)):
            if isinstance(g, bool) or not isinstance(g, (int, float)):
                errs.append(f"{p}: expected a number, got {short(g)}")
            return
        if isinstance(w, str):
            if not isinstance(g, str):
                errs.append(f"{p}: expected a string, got {short(g)}")
                return
            if HEX_RE.match(w):
                if not HEX_RE.match(g):
                    errs.append(f"{p}: expected a 0x-hex string, got {short(g)}")
                elif len(w) in (42, 66, 514) and len(g) != len(w):
                    errs.append(f"{p}: expected {(len(w) - 2) // 2} bytes, got {short(g)}")
                elif len(w) < 42 and len(g) > 3 and g[2] == "0" and len(w) != len(g):
                    errs.append(f"{p}: quantity with a leading zero: {short(g)}")
            return
        if isinstance(w, list):
            if not isinstance(g, list):
                errs.append(f"{p}: expected an array, got {short(g)}")
                return
            if not w:
                return
            for i, gi in enumerate(g):
                walk(gi, w[i] if i < len(w) else w[0], f"{p}[{i}]")
            return
        if isinstance(w, dict):
            if not isinstance(g, dict):
                errs.append(f"{p}: expected an object, got {short(g)}")
                return
            if is_map_like(w) or (not w and g and is_map_like(g)):
                if not w:
                    return  # nothing recorded to compare entries with
                for k, gv in g.items():
                    if not MAP_KEY_RE.match(k):
                        errs.append(f"{p}.{k}: key is not an address or a number")
                        continue
                    walk(gv, w.get(k, template_for(gv, w)), f"{p}.{k}")
                return
            for k in w:
                if k not in g and k in OPTIONAL_KEYS:
                    notes.append(f"{p}.{k}: optional key left out")
                elif k not in g:
                    errs.append(f"{p}.{k}: missing")
                else:
                    walk(g[k], w[k], f"{p}.{k}", k)
            for k in g:
                if k not in w:
                    notes.append(f"{p}.{k}: extra key (tolerated for speconly)")

    walk(got, want, path)
    return errs, notes


def short(v, limit=160):
    # "<missing>" / "<not expected>" markers print bare; real values print as JSON.
    s = v if isinstance(v, str) and v in ("<missing>", "<not expected>") else json.dumps(v, separators=(",", ":"))
    return s if len(s) <= limit else s[: limit - 3] + "..."


@dataclass
class Outcome:
    ok: bool
    detail: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def judge_pair(raw_resp: bytes, want_line: str, speconly: bool) -> Outcome:
    want = json.loads(want_line)
    try:
        got = json.loads(raw_resp)
    except (ValueError, UnicodeDecodeError):
        return Outcome(False, [f"reply is not JSON: {raw_resp[:200]!r}"])
    if speconly and isinstance(got, dict) and "error" not in got and isinstance(want, dict) and "result" in want:
        if "result" not in got:
            return Outcome(False, [f"speconly: reply has neither result nor error: {short(got)}"])
        env = {k: v for k, v in got.items() if k != "result"}
        wenv = {k: v for k, v in want.items() if k != "result"}
        d = exact_diff(env, wenv)
        if d:
            return Outcome(False, [f"envelope: at {d[0]}: got {short(d[1])}, want {short(d[2])}"])
        errs, notes = shape_errors(got["result"], want["result"])
        return Outcome(not errs, [f"speconly: {e}" for e in errs[:5]], notes)
    strip_error_messages(got, want)
    d = exact_diff(got, want)
    if d is None:
        return Outcome(True)
    path, g, w = d
    lines = [f"at {path}:", f"  - want {short(w, 400)}", f"  + got  {short(g, 400)}"]
    # Error vs result mismatches are the most common failure: show the whole error object.
    if isinstance(got, dict) and "error" in got and "error" not in (want or {}):
        lines.append(f"  node answered an error: {short(got['error'], 400)}")
    return Outcome(False, lines)


def write_markdown(path, url, groups, thresholds, per_method, results):
    labels = {"core": "core `eth_`/`net_`", "debug": "`debug_`", "txpool": "`txpool_`", "other": "other (`testing_`)"}
    out = [f"Replay of the execution-apis fixtures against `{url}`, judged with hive's rpc-compat rules",
           f"(`tests/conformance/replay.py`, {time.strftime('%Y-%m-%d')}).", "",
           "| group | passed | files | bar |", "|---|---|---|---|"]
    for g, (p, n) in groups.items():
        if n:
            out.append(f"| {labels[g]} | {p} | {n} | {min(thresholds[g], n) if thresholds[g] else '-'} |")
    out += ["", "| method | passed | files |", "|---|---|---|"]
    out += [f"| `{m}` | {p} | {n} |" for m, (p, n) in per_method.items()]
    failing = [r for r in results if not r["pass"]]
    out += ["", f"## Failing files ({len(failing)})", "",
            "Each with the first difference the runner found; add why it fails and whether it is meant to.", ""]
    for r in failing:
        d = [x.strip() for x in r["detail"]]
        m = re.match(r"^(request \d+ of \d+: )?at (.*):$", d[0]) if d else None
        if m and len(d) >= 3 and d[1].startswith("- want ") and d[2].startswith("+ got "):
            first = f"{m.group(1) or ''}at `{m.group(2)}`: want `{d[1][7:]}`, got `{d[2][6:].strip()}`"
        else:
            first = " ".join(d[:2])
        out.append(f"- `{r['file']}`{' (speconly)' if r['speconly'] else ''}: {first.replace('|', '/')}")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(out) + "\n")


# ---------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", help="https://127.0.0.1:8545 (or http:// for development)")
    ap.add_argument("--ca", help="PEM CA file that signed the node's certificate")
    ap.add_argument("--fixtures", default=DEFAULT_FIXTURES, help="execution-apis tests folder")
    ap.add_argument("--only", action="append", default=[], metavar="METHOD",
                    help="run only this method's folder (repeatable); a prefix also works: debug_ or "
                         "eth_call/call-revert")
    ap.add_argument("--core", type=int, default=100, help="core eth_/net_ files that must pass")
    ap.add_argument("--debug", type=int, default=24, help="debug_* files that must pass")
    ap.add_argument("--txpool", type=int, default=3, help="txpool_* files that must pass")
    ap.add_argument("--timeout", type=float, default=5.0, help="per request, seconds (hive uses 5)")
    ap.add_argument("--verbose", "-v", action="store_true", help="also print request/reply of failures")
    ap.add_argument("--json", metavar="FILE", help="write per-file results as JSON")
    ap.add_argument("--markdown", metavar="FILE",
                    help="write the totals, the per-method table and every failing file with its first "
                         "difference as Markdown, the starting point of the record in docs/")
    args = ap.parse_args(argv)

    if not os.path.isdir(args.fixtures):
        print(f"fixtures folder not found: {args.fixtures}", file=sys.stderr)
        return 2
    cases = load_cases(args.fixtures)
    if args.only:
        cases = [c for c in cases if any(c.path.startswith(o) for o in args.only)]
        if not cases:
            print(f"no fixture matches --only {args.only}", file=sys.stderr)
            return 2
    tr = Transport(args.url, args.ca, args.timeout)

    per_method: "OrderedDict[str, list[int]]" = OrderedDict()
    groups = {g: [0, 0] for g in ("core", "debug", "txpool", "other")}
    results = []
    t0 = time.monotonic()
    for case in cases:
        outcome = Outcome(True)
        for i, (req, want_line) in enumerate(case.pairs):
            try:
                raw = tr.post(req)
            except (urllib.error.URLError, OSError, TimeoutError) as e:
                outcome = Outcome(False, [f"request {i + 1}: transport error: {e}"])
                break
            o = judge_pair(raw, want_line, case.speconly)
            outcome.notes += o.notes
            if not o.ok:
                prefix = f"request {i + 1} of {len(case.pairs)}: " if len(case.pairs) > 1 else ""
                outcome = Outcome(False, [prefix + o.detail[0]] + o.detail[1:], outcome.notes)
                if args.verbose:
                    outcome.detail += [f"  >> {req[:600]}", f"  << {raw[:600].decode(errors='replace')}",
                                       f"  want {want_line[:600]}"]
                break
        tag = " (speconly)" if case.speconly else ""
        print(f"{'PASS' if outcome.ok else 'FAIL'} {case.path}{tag}")
        if not outcome.ok:
            for line in outcome.detail:
                print(f"     {line}")
        elif args.verbose:
            for n in outcome.notes:
                print(f"     note: {n}")
        m = per_method.setdefault(case.method, [0, 0])
        g = groups[group_of(case.method)]
        m[1] += 1
        g[1] += 1
        if outcome.ok:
            m[0] += 1
            g[0] += 1
        results.append({"file": case.path, "method": case.method, "speconly": case.speconly,
                        "pass": outcome.ok, "detail": outcome.detail})
    elapsed = time.monotonic() - t0

    print("\nper method (passed/total):")
    width = max(len(m) for m in per_method)
    for method, (p, n) in per_method.items():
        mark = "" if p == n else "   <-- failing"
        print(f"  {method:<{width}}  {p:>3}/{n:<3}{mark}")

    thresholds = {"core": args.core, "debug": args.debug, "txpool": args.txpool, "other": 0}
    print("\ntotals:")
    below = []
    for gname, (p, n) in groups.items():
        if n == 0:
            continue
        # With --only a group may be partially selected; cap the bar at what was run.
        need = min(thresholds[gname], n)
        verdict = "ok" if p >= need else "BELOW THRESHOLD"
        label = {"core": "core eth_/net_", "debug": "debug_", "txpool": "txpool_", "other": "other (no bar)"}[gname]
        print(f"  {label:<16} {p:>3}/{n:<3} (need {need}) {verdict}")
        if p < need:
            below.append(gname)
    total_p = sum(p for p, _ in groups.values())
    total_n = sum(n for _, n in groups.values())
    print(f"  {'all':<16} {total_p:>3}/{total_n:<3} in {elapsed:.1f}s")
    # The plain closing line CI tooling recognises.
    print(f"conformance: {total_p} passed, {total_n - total_p} failed")

    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
    if args.markdown:
        write_markdown(args.markdown, args.url, groups, thresholds, per_method, results)
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
