// Hardhat 3 (+ hardhat-ethers) against a stele node through an http network: every step a
// Hardhat script performs, each asserted. Run by run.sh as
//   hardhat run --no-compile --network stele scenario.mjs   (Node >= 22.13, from npm's node22)
// Env: STELE_RPC_URL, STELE_WS_URL, STELE_CHAIN_ID, NODE_EXTRA_CA_CERTS (the node's dev CA).
// Hardhat has no WebSocket transport for http networks: the subscription step uses ethers'
// WebSocketProvider with the contract Hardhat deployed, as a Hardhat script would.
import { network } from "hardhat";
import { ethers as ethersLib } from "ethers";
import { WS_URL, CHAIN_ID, assert, assertEq, runScenario, collector } from "../lib/common.mjs";

const conn = await network.connect();
const { ethers } = conn;
const [signer] = await ethers.getSigners();
const provider = ethers.provider;
const s = {};

async function mined(txPromise) {
  const tx = await txPromise;
  const r = await tx.wait(1);
  assertEq(r.status, 1, `receipt status of ${tx.hash}`);
  assertEq(r.hash, tx.hash, "receipt hash");
  return [tx, r];
}

async function revertOf(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a revert");
}

function expectDecoded(err, name, args) {
  assert(err.data && err.data.length > 10, `revert data present (${err.shortMessage ?? err.message})`);
  const parsed = s.contract.interface.parseError(err.data);
  assert(parsed, `revert data decodes with the artifact's ABI (${err.data})`);
  assertEq(parsed.name, name, "revert name");
  assertEq(parsed.args.map(String).join(","), args.map(String).join(","), "revert args");
}

await runScenario("hardhat", [
  ["chain-id", async () => {
    // network.connect() already checked eth_chainId against the config (HHE708 otherwise).
    assertEq((await provider.getNetwork()).chainId, CHAIN_ID, "getNetwork().chainId");
    assertEq(await conn.provider.request({ method: "eth_chainId" }), ethersLib.toQuantity(CHAIN_ID), "eth_chainId");
  }],
  ["balance", async () => {
    s.start = await provider.getBalance(signer.address);
    assert(s.start > ethers.parseEther("10"), `dev account ${signer.address} is funded (${s.start})`);
  }],
  ["send-eth-and-wait", async () => {
    const to = ethersLib.Wallet.createRandom().address;
    const value = ethers.parseUnits("1234567", "gwei");
    const [, r] = await mined(signer.sendTransaction({ to, value }));
    assertEq(await provider.getBalance(to), value, "recipient balance");
    assert(r.blockNumber > 0, "mined in a block");
  }],
  ["deploy", async () => {
    // From Hardhat's own compiled artifact (artifacts/…/Store.json).
    const c = await ethers.deployContract("Store", [42]);
    const r = await c.deploymentTransaction().wait(1);
    assertEq(r.status, 1, "deploy receipt status");
    s.address = await c.getAddress();
    assertEq(r.contractAddress, s.address, "receipt contractAddress");
    assert((await provider.getCode(s.address)).length > 2, "code at the address");
    s.deployBlock = r.blockNumber;
    s.contract = await ethers.getContractAt("Store", s.address);
  }],
  ["read", async () => {
    assertEq(await s.contract.value(), 42n, "value()");
    assertEq(await s.contract.owner(), signer.address, "owner()");
  }],
  ["write-and-wait", async () => {
    const [, r] = await mined(s.contract.set(7));
    const ev = r.logs.map((l) => s.contract.interface.parseLog(l)).find((l) => l?.name === "ValueChanged");
    assert(ev, "receipt carries ValueChanged");
    assertEq(`${ev.args.oldValue}/${ev.args.newValue}`, "42/7", "event args");
    assertEq(await s.contract.value(), 7n, "value() after set");
  }],
  ["eth_getLogs", async () => {
    const evs = await s.contract.queryFilter(s.contract.filters.ValueChanged(signer.address), s.deployBlock, "latest");
    assertEq(evs.map((e) => `${e.args.oldValue}->${e.args.newValue}`).join(","), "0->42,42->7", "ValueChanged history");
  }],
  ["http-filter-watch", async () => {
    // Through Hardhat's EIP-1193 provider: eth_newFilter / eth_getFilterChanges / eth_uninstallFilter.
    const req = (method, params = []) => conn.provider.request({ method, params });
    const topic = s.contract.interface.getEvent("ValueChanged").topicHash;
    const id = await req("eth_newFilter", [{ address: s.address, topics: [topic] }]);
    const [tx] = await mined(s.contract.set(8));
    let changes = [];
    for (let i = 0; i < 60 && changes.length === 0; i++) {
      changes = await req("eth_getFilterChanges", [id]);
      if (!changes.length) await new Promise((r) => setTimeout(r, 250));
    }
    assertEq(changes.length, 1, "one change since the filter was installed");
    assertEq(changes[0].transactionHash, tx.hash, "filtered log belongs to the write");
    assertEq(await req("eth_uninstallFilter", [id]), true, "eth_uninstallFilter");
  }],
  ["ws-subscriptions", async () => {
    const ws = new ethersLib.WebSocketProvider(WS_URL);
    try {
      const wsContract = new ethersLib.Contract(s.address, s.contract.interface, ws);
      const heads = collector();
      const logs = collector();
      ws.on("block", (n) => heads.push(n)); // eth_subscribe newHeads
      wsContract.on("ValueChanged", (by, o, n, ev) => logs.push(ev)); // eth_subscribe logs
      await new Promise((r) => setTimeout(r, 300));
      const [, r] = await mined(s.contract.set(9));
      await heads.waitFor((n) => n >= r.blockNumber, 30000, `newHeads reaching block ${r.blockNumber}`);
      const ev = await logs.waitFor((e) => e.log.transactionHash === r.hash, 30000, "the write's log over the logs subscription");
      assertEq(ev.args.newValue, 9n, "subscribed log args");
    } finally {
      await ws.destroy();
    }
  }],
  ["revert-custom-error", async () => {
    expectDecoded(await revertOf(() => s.contract.set.staticCall(2000000)), "TooLarge", [2000000n, 1000000n]);
    expectDecoded(await revertOf(() => s.contract.set.estimateGas(2000000)), "TooLarge", [2000000n, 1000000n]);
  }],
  ["revert-error-string", async () => {
    const err = await revertOf(() => s.contract.set.staticCall(13));
    expectDecoded(err, "Error", ["unlucky number"]);
  }],
  ["legacy-tx", async () => {
    const to = ethersLib.Wallet.createRandom().address;
    const gasPrice = (await provider.getFeeData()).gasPrice;
    const [tx, r] = await mined(signer.sendTransaction({ to, value: 1000n, type: 0, gasPrice }));
    assertEq(r.type, 0, "receipt type");
    const got = await provider.getTransaction(tx.hash);
    assertEq(got.type, 0, "transaction type");
    assertEq(got.chainId, CHAIN_ID, "EIP-155 chain id in the legacy signature");
  }],
  ["eip1559-tx", async () => {
    const block = await provider.getBlock("latest");
    const to = ethersLib.Wallet.createRandom().address;
    const [tx, r] = await mined(signer.sendTransaction({ to, value: 2000n, type: 2, maxPriorityFeePerGas: 1n,
      maxFeePerGas: block.baseFeePerGas * 2n + 1n }));
    assertEq(r.type, 2, "receipt type");
    assertEq((await provider.getTransaction(tx.hash)).type, 2, "transaction type");
    assertEq(await provider.getBalance(to), 2000n, "1559 transfer arrived");
  }],
  ["burst-20-no-wait", async () => {
    const to = ethersLib.Wallet.createRandom().address;
    const nonce = await provider.getTransactionCount(signer.address, "pending");
    const fee = await provider.getFeeData();
    const txs = [];
    for (let i = 0; i < 20; i++) {
      // Sequential sends (Hardhat's signer serialises them) but no wait for receipts.
      txs.push(await signer.sendTransaction({ to, value: 1n + BigInt(i), nonce: nonce + i, gasLimit: 21000n,
        maxFeePerGas: fee.maxFeePerGas, maxPriorityFeePerGas: fee.maxPriorityFeePerGas }));
    }
    assertEq(new Set(txs.map((t) => t.hash)).size, 20, "20 distinct hashes");
    const receipts = await Promise.all(txs.map((t) => t.wait(1)));
    assert(receipts.every((r) => r.status === 1), "all 20 succeeded");
    assertEq(await provider.getTransactionCount(signer.address, "latest"), nonce + 20, "nonce advanced by 20");
    assertEq(await provider.getBalance(to), 210n, "sum of the 20 values arrived");
  }],
]);
