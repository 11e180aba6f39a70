// ethers v6 against a stele node: every step a dApp built on ethers performs, each asserted.
// Env: STELE_RPC_URL, STELE_WS_URL, STELE_CHAIN_ID, NODE_EXTRA_CA_CERTS (the node's dev CA).
import { ethers } from "ethers";
import { RPC_URL, WS_URL, CHAIN_ID, MNEMONIC, artifact, assert, assertEq, runScenario, withTimeout, collector } from "../lib/common.mjs";

const ACCOUNT = Number(process.env.STELE_ACCOUNT_INDEX ?? 1); // one dev account per client
const store = artifact("Store");

// cacheTimeout -1: ethers otherwise reuses an identical eth_getTransactionCount answer for
// 250 ms, which gives "nonce too low" right after wait() on a chain with fast blocks.
const provider = new ethers.JsonRpcProvider(RPC_URL, undefined, { cacheTimeout: -1, pollingInterval: 250 });
provider.pollingInterval = 250;
// STELE_TRACE=1 prints every JSON-RPC request and reply (stderr), for debugging the node.
if (process.env.STELE_TRACE) provider.on("debug", (e) => console.error(`[rpc] ${e.action} ${JSON.stringify(e.payload ?? e.result ?? e.error?.message ?? "")}`));
const wallet = ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${ACCOUNT}`).connect(provider);
const iface = new ethers.Interface(store.abi);
const s = {}; // state carried between steps

async function send(tx) {
  const sent = await wallet.sendTransaction(tx);
  const r = await sent.wait(1);
  assertEq(r.status, 1, `receipt status of ${sent.hash}`);
  assertEq(r.hash, sent.hash, "receipt hash");
  return [sent, r];
}

function expectRevert(err, name, args) {
  assert(err, `expected a revert ${name}`);
  // ethers decodes the revert data (code 3 + data from the node) into err.revert.
  assertEq(err.code, "CALL_EXCEPTION", `error code for ${name} (${err.shortMessage})`);
  assert(err.data && err.data.length > 2, `revert data present (${err.shortMessage})`);
  const parsed = err.revert ?? iface.parseError(err.data);
  assert(parsed, `revert data decodes (${err.data})`);
  assertEq(parsed.name, name, "revert name");
  assertEq(JSON.stringify(parsed.args.map(String)), JSON.stringify(args.map(String)), "revert args");
}

await runScenario("ethers", [
  ["chain-id", async () => {
    const net = await provider.getNetwork();
    assertEq(net.chainId, CHAIN_ID, "getNetwork().chainId");
    assertEq(await provider.send("eth_chainId", []), ethers.toQuantity(CHAIN_ID), "eth_chainId is compact hex");
  }],
  ["balance", async () => {
    s.start = await provider.getBalance(wallet.address);
    assert(s.start > ethers.parseEther("10"), `dev account ${wallet.address} is funded (${s.start})`);
  }],
  ["send-eth-and-wait", async () => {
    const to = ethers.Wallet.createRandom().address;
    const value = ethers.parseUnits("1234567", "gwei");
    const [, r] = await send({ to, value });
    assertEq(await provider.getBalance(to), value, "recipient balance");
    assert((await provider.getBalance(wallet.address)) <= s.start - value, "sender paid value + fee");
    assert(r.blockNumber > 0, "mined in a block");
    const block = await provider.getBlock(r.blockNumber);
    assert(block.transactions.includes(r.hash), "block lists the transaction");
  }],
  ["deploy", async () => {
    const factory = new ethers.ContractFactory(store.abi, store.bytecode, wallet);
    const c = await factory.deploy(42);
    const r = await c.deploymentTransaction().wait(1);
    assertEq(r.status, 1, "deploy receipt status");
    s.address = await c.getAddress();
    assertEq(r.contractAddress, s.address, "receipt contractAddress");
    assert((await provider.getCode(s.address)).length > 2, "code at the address");
    s.deployBlock = r.blockNumber;
    s.contract = new ethers.Contract(s.address, store.abi, wallet);
  }],
  ["read", async () => {
    assertEq(await s.contract.value(), 42n, "value()");
    assertEq(await s.contract.owner(), wallet.address, "owner()");
    assertEq(await s.contract.LIMIT(), 1000000n, "LIMIT()");
  }],
  ["write-and-wait", async () => {
    const tx = await s.contract.set(7);
    const r = await tx.wait(1);
    assertEq(r.status, 1, "set(7) status");
    const ev = r.logs.map((l) => s.contract.interface.parseLog(l)).find((l) => l?.name === "ValueChanged");
    assert(ev, "receipt carries ValueChanged");
    assertEq(`${ev.args.by}/${ev.args.oldValue}/${ev.args.newValue}`, `${wallet.address}/42/7`, "event args");
    assertEq(await s.contract.value(), 7n, "value() after set");
  }],
  ["eth_getLogs", async () => {
    const evs = await s.contract.queryFilter(s.contract.filters.ValueChanged(wallet.address), s.deployBlock, "latest");
    assertEq(evs.map((e) => `${e.args.oldValue}->${e.args.newValue}`).join(","), "0->42,42->7", "ValueChanged history");
    assert(evs.every((e) => e.address === s.address), "log address");
    // Raw form too: topic filter on the indexed oldValue.
    const raw = await provider.getLogs({
      address: s.address, fromBlock: s.deployBlock, toBlock: "latest",
      topics: [iface.getEvent("ValueChanged").topicHash, null, ethers.zeroPadValue("0x2a", 32)],
    });
    assertEq(raw.length, 1, "one log with oldValue 42");
  }],
  ["http-filter-watch", async () => {
    // contract.on over HTTP installs eth_newFilter and polls eth_getFilterChanges.
    const got = new Promise((resolve) => {
      s.contract.on("ValueChanged", (by, oldValue, newValue) => {
        if (newValue === 8n) resolve([by, oldValue]);
      });
    });
    await new Promise((r) => setTimeout(r, 600)); // let the filter be installed before the write
    await (await s.contract.set(8)).wait(1);
    const [by, old] = await withTimeout(got, 30000, "ValueChanged via HTTP filter");
    assertEq(`${by}/${old}`, `${wallet.address}/7`, "filtered event args");
    await s.contract.removeAllListeners();
  }],
  ["ws-subscriptions", async () => {
    const ws = new ethers.WebSocketProvider(WS_URL, undefined, { cacheTimeout: -1 });
    try {
      assertEq((await ws.getNetwork()).chainId, CHAIN_ID, "chain id over WS");
      const wsContract = new ethers.Contract(s.address, store.abi, ws);
      const heads = collector();
      const logs = collector();
      ws.on("block", (n) => heads.push(n)); // eth_subscribe newHeads
      wsContract.on("ValueChanged", (by, o, n, ev) => logs.push(ev)); // eth_subscribe logs
      await new Promise((r) => setTimeout(r, 300));
      const r = await (await s.contract.set(9)).wait(1);
      // ethers hands out block numbers only: the stream must reach the write's block.
      await heads.waitFor((n) => n >= r.blockNumber, 30000, `newHeads reaching block ${r.blockNumber}`);
      const ev = await logs.waitFor((e) => e.log.transactionHash === r.hash, 30000, "the write's log over the logs subscription");
      assertEq(ev.args.newValue, 9n, "subscribed log args");
      assertEq(ev.log.blockHash, r.blockHash, "subscribed log block hash");
    } finally {
      await ws.destroy();
    }
  }],
  ["revert-custom-error", async () => {
    let err;
    try { await s.contract.set.staticCall(2000000); } catch (e) { err = e; }
    expectRevert(err, "TooLarge", [2000000n, 1000000n]);
    err = undefined;
    try { await s.contract.set.estimateGas(2000000); } catch (e) { err = e; }
    expectRevert(err, "TooLarge", [2000000n, 1000000n]);
  }],
  ["revert-error-string", async () => {
    let err;
    try { await s.contract.set.staticCall(13); } catch (e) { err = e; }
    expectRevert(err, "Error", ["unlucky number"]);
    assertEq(err.reason, "unlucky number", "err.reason");
  }],
  ["legacy-tx", async () => {
    const fee = await provider.getFeeData();
    const to = ethers.Wallet.createRandom().address;
    const [sent, r] = await send({ to, value: 1000n, type: 0, gasPrice: fee.gasPrice });
    assertEq(r.type, 0, "receipt type");
    const tx = await provider.getTransaction(sent.hash);
    assertEq(tx.type, 0, "transaction type");
    assertEq(tx.chainId, CHAIN_ID, "EIP-155 chain id in the legacy signature");
    assertEq(await provider.getBalance(to), 1000n, "legacy transfer arrived");
  }],
  ["eip1559-tx", async () => {
    const block = await provider.getBlock("latest");
    assert(block.baseFeePerGas !== null, "latest block has baseFeePerGas (EIP-1559 active)");
    const tip = 1n;
    const to = ethers.Wallet.createRandom().address;
    const [sent, r] = await send({ to, value: 2000n, type: 2, maxPriorityFeePerGas: tip, maxFeePerGas: block.baseFeePerGas * 2n + tip });
    assertEq(r.type, 2, "receipt type");
    const tx = await provider.getTransaction(sent.hash);
    assertEq(tx.type, 2, "transaction type");
    assert(r.gasPrice <= block.baseFeePerGas * 2n + tip, "effective gas price within max fee");
    assertEq(await provider.getBalance(to), 2000n, "1559 transfer arrived");
  }],
  ["burst-20-no-wait", async () => {
    const to = ethers.Wallet.createRandom().address;
    const nonce = await provider.getTransactionCount(wallet.address, "pending");
    const fee = await provider.getFeeData();
    const sent = [];
    for (let i = 0; i < 20; i++) {
      // Explicit consecutive nonces, fired without waiting for any receipt.
      sent.push(wallet.sendTransaction({ to, value: 1n + BigInt(i), nonce: nonce + i, gasLimit: 21000n,
        maxFeePerGas: fee.maxFeePerGas, maxPriorityFeePerGas: fee.maxPriorityFeePerGas }));
    }
    const txs = await Promise.all(sent);
    assertEq(new Set(txs.map((t) => t.hash)).size, 20, "20 distinct hashes");
    const receipts = await Promise.all(txs.map((t) => t.wait(1)));
    assert(receipts.every((r) => r.status === 1), "all 20 succeeded");
    assertEq(await provider.getTransactionCount(wallet.address, "latest"), nonce + 20, "nonce advanced by 20");
    assertEq(await provider.getBalance(to), 210n, "sum of the 20 values arrived");
  }],
]);
