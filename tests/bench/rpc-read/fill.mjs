// Fills one node with the RPC read benchmark's chain: deploys Emitter.sol, then sends
// `bump(i)` transactions one at a time, each waiting for its receipt, so that every call lands
// in a block of its own (stele's dev producer and anvil's automine both seal a block per
// pending batch). Prints one JSON line describing what the benchmark should query.
//
// Usage: node fill.mjs URL BLOCKS OUT.json
// Env:   NODE_MODULES  tests/clients/node_modules (ethers and solc come from there)
//        NODE_EXTRA_CA_CERTS  the node's dev CA for https:// URLs
// Every transaction is signed here with explicit nonce, gas and fees, so both nodes receive
// byte-identical transactions: the same hashes, the same contract address.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeModules = process.env.NODE_MODULES ?? path.join(here, "..", "..", "clients", "node_modules");
const require = createRequire(path.join(nodeModules, "_"));
const { ethers } = require("ethers");
const solc = require("solc");

const MNEMONIC = "test test test test test test test test test test test junk";
const CHAIN_ID = 1337n;
// Fees well above either node's base fee (anvil starts at 1 gwei and falls; stele's dev
// chain is at or below that) so no transaction waits for the base fee to drop.
const MAX_FEE = ethers.parseUnits("20", "gwei");
const TIP = ethers.parseUnits("1", "gwei");
const DEPLOY_GAS = 400_000n;
const BUMP_GAS = 100_000n;
// A receipt not seen after this long is a stuck node: fail loudly instead of hanging.
const RECEIPT_TIMEOUT_MS = 30_000;

const [url, blocksArg, outFile] = process.argv.slice(2);
if (!url || !blocksArg || !outFile) {
  console.error("usage: node fill.mjs URL BLOCKS OUT.json");
  process.exit(2);
}
const blocks = Number(blocksArg);

let nextId = 1;
async function rpc(method, params) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params }),
  });
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status}`);
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

async function receiptOf(hash) {
  const start = Date.now();
  for (;;) {
    const r = await rpc("eth_getTransactionReceipt", [hash]);
    if (r) {
      if (r.status !== "0x1") throw new Error(`tx ${hash} failed: ${JSON.stringify(r)}`);
      return r;
    }
    if (Date.now() - start > RECEIPT_TIMEOUT_MS) throw new Error(`no receipt for ${hash} after ${RECEIPT_TIMEOUT_MS} ms`);
    await new Promise((ok) => setTimeout(ok, 1));
  }
}

function compile() {
  const input = {
    language: "Solidity",
    sources: { "Emitter.sol": { content: fs.readFileSync(path.join(here, "Emitter.sol"), "utf8") } },
    settings: {
      evmVersion: "cancun",
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
  const c = out.contracts["Emitter.sol"].Emitter;
  return { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
}

async function main() {
  const { abi, bytecode } = compile();
  const iface = new ethers.Interface(abi);
  const wallet = ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/44'/60'/0'/0/0");
  const chainId = BigInt(await rpc("eth_chainId", []));
  if (chainId !== CHAIN_ID) throw new Error(`chain id ${chainId}, want ${CHAIN_ID}`);
  let nonce = Number(await rpc("eth_getTransactionCount", [wallet.address, "latest"]));
  if (nonce !== 0) throw new Error(`${wallet.address} has nonce ${nonce}: start from a fresh chain`);

  const send = async (to, data, gasLimit) => {
    const raw = await wallet.signTransaction({
      type: 2, chainId, nonce: nonce++, to, data, gasLimit, maxFeePerGas: MAX_FEE, maxPriorityFeePerGas: TIP, value: 0n,
    });
    return receiptOf(await rpc("eth_sendRawTransaction", [raw]));
  };

  const deployed = await send(null, bytecode, DEPLOY_GAS);
  const contract = deployed.contractAddress;
  const hashes = [];
  let first = null, last = null;
  const started = Date.now();
  for (let i = 1; i <= blocks; i++) {
    const r = await send(contract, iface.encodeFunctionData("bump", [i]), BUMP_GAS);
    if (last !== null && BigInt(r.blockNumber) === last) throw new Error(`two bumps in block ${last}: the node batched them`);
    last = BigInt(r.blockNumber);
    first ??= last;
    hashes.push(r.transactionHash);
    if (i % 250 === 0) console.error(`  ${url}: ${i}/${blocks} blocks (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  const target = {
    url,
    account: wallet.address,
    contract,
    call_data: iface.encodeFunctionData("total", []),
    // A receipt from the middle of the chain, not the newest (no cache-friendly tail).
    receipt_tx: hashes[Math.floor(hashes.length / 2)],
    from_block: "0x" + first.toString(16),
    to_block: "0x" + last.toString(16),
    logs_expected: blocks,
  };
  fs.writeFileSync(outFile, JSON.stringify(target, null, 1) + "\n");
}

main().catch((e) => {
  console.error(`fill ${url}: ${e.stack ?? e}`);
  process.exit(1);
});
