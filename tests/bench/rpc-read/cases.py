#!/usr/bin/env python3
"""The RPC read benchmark's cases: the JSON-RPC request of each, and the check of its answer.
run.sh and ab.sh both use it, so that both measure the same requests.

Usage: cases.py body  TARGET_JSON CASE           prints the request body
       cases.py check TARGET_JSON CASE ANSWER    exits non-zero unless ANSWER is right
TARGET_JSON is what fill.mjs wrote for the node (contract, account, block range, ...).

Cases (a case is named by its method, with a suffix when one method has two cases):
  eth_call                   Emitter.total(), one storage slot, at latest
  eth_getBalance             the dev account at latest
  eth_getTransactionReceipt  a transaction from the middle of the chain
  eth_getLogs                every block of the range, by the contract's address: one log each
  eth_getLogs_rare           the same range, by the indexed `round` of the middle bump: one log
"""
import json
import sys


def round_topic(n: int) -> str:
    return "0x" + n.to_bytes(32, "big").hex()


def rare_round(target: dict) -> int:
    # fill.mjs bumps rounds 1..N, one per block.
    return max(1, target["logs_expected"] // 2)


def request(target: dict, case: str) -> dict:
    span = {"fromBlock": target["from_block"], "toBlock": target["to_block"]}
    method, params = {
        "eth_call": ("eth_call", [{"to": target["contract"], "data": target["call_data"]}, "latest"]),
        "eth_getBalance": ("eth_getBalance", [target["account"], "latest"]),
        "eth_getTransactionReceipt": ("eth_getTransactionReceipt", [target["receipt_tx"]]),
        "eth_getLogs": ("eth_getLogs", [{"address": target["contract"], **span}]),
        "eth_getLogs_rare": ("eth_getLogs", [{**span, "topics": [None, None, round_topic(rare_round(target))]}]),
    }[case]
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


def check(target: dict, case: str, reply: dict) -> str | None:
    """What is wrong with `reply`, or None."""
    if "error" in reply or reply.get("result") is None:
        return f"no result: {json.dumps(reply)[:300]}"
    result = reply["result"]
    if case == "eth_getLogs" and len(result) != target["logs_expected"]:
        return f"{len(result)} logs, want {target['logs_expected']}"
    if case == "eth_getLogs_rare":
        want = round_topic(rare_round(target))
        if len(result) != 1 or result[0]["topics"][2] != want:
            return f"want exactly the log of round {rare_round(target)}, got {json.dumps(result)[:300]}"
    return None


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[1] not in ("body", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    target = json.load(open(sys.argv[2]))
    case = sys.argv[3]
    if sys.argv[1] == "body":
        print(json.dumps(request(target, case), separators=(",", ":")))
        return 0
    problem = check(target, case, json.load(open(sys.argv[4])))
    if problem:
        print(f"{case}: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
