// Shared plumbing of the Node client scenarios: where the node is (env), which dev account a
// scenario sends from, the compiled Store artifact, and the `ok <step>` / loud-failure protocol.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const here = path.dirname(fileURLToPath(import.meta.url));
export const RPC_URL = process.env.STELE_RPC_URL ?? "https://127.0.0.1:8545";
// Same port as HTTP: the node upgrades to WebSocket on the same TLS listener.
export const WS_URL = process.env.STELE_WS_URL ?? RPC_URL.replace(/^http/, "ws");
export const CHAIN_ID = BigInt(process.env.STELE_CHAIN_ID ?? "1337");
// The dev accounts are those of the well-known test mnemonic (as anvil and Hardhat use).
export const MNEMONIC = process.env.STELE_MNEMONIC ?? "test test test test test test test test test test test junk";
// A step that takes longer than this fails instead of hanging CI.
export const STEP_TIMEOUT_MS = Number(process.env.STELE_STEP_TIMEOUT_MS ?? 60000);

export function artifact(name) {
  const file = path.join(here, "..", "contracts", "out", `${name}.json`);
  if (!fs.existsSync(file)) throw new Error(`${file} missing: run node contracts/build.mjs first`);
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

export class StepError extends Error {}

export function assert(cond, what) {
  if (!cond) throw new StepError(`assertion failed: ${what}`);
}

export function assertEq(got, want, what) {
  if (got !== want) throw new StepError(`assertion failed: ${what}: got ${fmt(got)}, want ${fmt(want)}`);
}

function fmt(v) {
  return typeof v === "bigint" ? `${v}n` : JSON.stringify(v);
}

export function withTimeout(promise, ms, what) {
  let t;
  const timer = new Promise((_, rej) => {
    t = setTimeout(() => rej(new StepError(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timer]).finally(() => clearTimeout(t));
}

// Runs the steps in order, prints `ok <step> (<ms> ms)` for each, and on the first failure
// prints the step, the error and its cause, then exits 1 (later steps depend on earlier ones).
export async function runScenario(client, steps) {
  const t0 = Date.now();
  console.log(`# ${client} scenario against ${RPC_URL} (ws ${WS_URL}), chain id ${CHAIN_ID}`);
  for (const [name, fn] of steps) {
    const s = Date.now();
    try {
      await withTimeout(Promise.resolve().then(fn), STEP_TIMEOUT_MS, name);
    } catch (e) {
      console.error(`FAIL ${name}: ${e?.stack ?? e}`);
      if (e?.cause) console.error(`  cause: ${e.cause?.stack ?? e.cause}`);
      if (e?.info) console.error(`  info: ${JSON.stringify(e.info, (_, v) => (typeof v === "bigint" ? v.toString() : v))}`);
      console.error(`${client}: 0 passed, 1 failed (stopped at ${name})`);
      process.exit(1);
    }
    console.log(`ok ${name} (${Date.now() - s} ms)`);
  }
  console.log(`${client}: ${steps.length} passed, 0 failed in ${Date.now() - t0} ms`);
  // WebSocket handles may keep the loop alive; the scenario is done.
  process.exit(0);
}

// Collects what a subscription delivers; waitFor(pred) resolves with the first value, already
// seen or still to come, that pred accepts. Waiting for a specific block or log instead of
// "the next one" keeps the subscription steps exact on a chain that also makes empty blocks.
export function collector() {
  const seen = [];
  let waiters = [];
  return {
    seen,
    push(v) {
      seen.push(v);
      waiters = waiters.filter(([pred, resolve]) => {
        if (!pred(v)) return true;
        resolve(v);
        return false;
      });
    },
    waitFor(pred, ms, what) {
      const hit = seen.find(pred);
      if (hit !== undefined) return Promise.resolve(hit);
      return withTimeout(new Promise((resolve) => waiters.push([pred, resolve])), ms, what);
    },
  };
}
