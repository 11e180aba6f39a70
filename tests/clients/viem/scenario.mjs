// viem against a stele node: every step a dApp built on viem performs, each asserted.
// Env: STELE_RPC_URL, STELE_WS_URL, STELE_CHAIN_ID, NODE_EXTRA_CA_CERTS (the node's dev CA).
import {
  createPublicClient, createWalletClient, defineChain, http, webSocket, parseGwei, parseAbiItem,
  BaseError, ContractFunctionRevertedError, encodeAbiParameters, toFunctionSelector,
} from "viem";
import { mnemonicToAccount, generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import { RPC_URL, WS_URL, CHAIN_ID, MNEMONIC, artifact, assert, assertEq, runScenario, withTimeout, collector } from "../lib/common.mjs";

const ACCOUNT = Number(process.env.STELE_ACCOUNT_INDEX ?? 2);
const store = artifact("Store");
const chain = defineChain({
  id: Number(CHAIN_ID), name: "stele", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [RPC_URL], webSocket: [WS_URL] } },
});
const account = mnemonicToAccount(MNEMONIC, { addressIndex: ACCOUNT });
// STELE_TRACE=1 prints every JSON-RPC request and reply (stderr), for debugging the node.
const trace = process.env.STELE_TRACE ? {
  onFetchRequest: async (req) => console.error(`[rpc] >> ${await req.clone().text()}`),
  onFetchResponse: async (res) => console.error(`[rpc] << ${await res.clone().text()}`),
} : {};
const pub = createPublicClient({ chain, transport: http(RPC_URL, trace), pollingInterval: 250 });
const wallet = createWalletClient({ account, chain, transport: http(RPC_URL, trace), pollingInterval: 250 });
const fresh = () => privateKeyToAddress(generatePrivateKey());
const valueChanged = parseAbiItem("event ValueChanged(address indexed by, uint256 indexed oldValue, uint256 newValue)");
const s = {};

async function mined(hash) {
  const r = await pub.waitForTransactionReceipt({ hash, pollingInterval: 250 });
  assertEq(r.status, "success", `receipt status of ${hash}`);
  assertEq(r.transactionHash, hash, "receipt hash");
  return r;
}

function revertOf(err) {
  assert(err instanceof BaseError, `expected a viem error, got ${err}`);
  const rev = err.walk((e) => e instanceof ContractFunctionRevertedError);
  assert(rev, `error chain has ContractFunctionRevertedError: ${err.shortMessage}`);
  return rev;
}

await runScenario("viem", [
  ["chain-id", async () => {
    assertEq(await pub.getChainId(), Number(CHAIN_ID), "getChainId()");
  }],
  ["balance", async () => {
    s.start = await pub.getBalance({ address: account.address });
    assert(s.start > 10n * 10n ** 18n, `dev account ${account.address} is funded (${s.start})`);
  }],
  ["send-eth-and-wait", async () => {
    const to = fresh();
    const value = parseGwei("1234567");
    const hash = await wallet.sendTransaction({ to, value });
    const r = await mined(hash);
    assertEq(await pub.getBalance({ address: to }), value, "recipient balance");
    const block = await pub.getBlock({ blockNumber: r.blockNumber });
    assert(block.transactions.includes(hash), "block lists the transaction");
  }],
  ["deploy", async () => {
    const hash = await wallet.deployContract({ abi: store.abi, bytecode: store.bytecode, args: [42n] });
    const r = await mined(hash);
    assert(r.contractAddress, "receipt contractAddress");
    s.address = r.contractAddress;
    s.deployBlock = r.blockNumber;
    const code = await pub.getCode({ address: s.address });
    assert(code && code.length > 2, "code at the address");
  }],
  ["read", async () => {
    const c = { address: s.address, abi: store.abi };
    assertEq(await pub.readContract({ ...c, functionName: "value" }), 42n, "value()");
    assertEq(await pub.readContract({ ...c, functionName: "owner" }), account.address, "owner()");
    assertEq(await pub.readContract({ ...c, functionName: "LIMIT" }), 1000000n, "LIMIT()");
  }],
  ["write-and-wait", async () => {
    const { request } = await pub.simulateContract({ account, address: s.address, abi: store.abi, functionName: "set", args: [7n] });
    const r = await mined(await wallet.writeContract(request));
    assertEq(r.logs.length, 1, "one log");
    assertEq(await pub.readContract({ address: s.address, abi: store.abi, functionName: "value" }), 7n, "value() after set");
  }],
  ["eth_getLogs", async () => {
    const evs = await pub.getContractEvents({ address: s.address, abi: store.abi, eventName: "ValueChanged",
      args: { by: account.address }, fromBlock: s.deployBlock, toBlock: "latest" });
    assertEq(evs.map((e) => `${e.args.oldValue}->${e.args.newValue}`).join(","), "0->42,42->7", "ValueChanged history");
    const raw = await pub.getLogs({ address: s.address, event: valueChanged, args: { oldValue: 42n }, fromBlock: s.deployBlock });
    assertEq(raw.length, 1, "one log with oldValue 42");
    assertEq(raw[0].args.newValue, 7n, "decoded newValue");
  }],
  ["http-filter-watch", async () => {
    // Over HTTP, watchContractEvent creates eth_newFilter and polls eth_getFilterChanges.
    let unwatch;
    const got = new Promise((resolve, reject) => {
      unwatch = pub.watchContractEvent({ address: s.address, abi: store.abi, eventName: "ValueChanged", poll: true,
        pollingInterval: 250, onLogs: (logs) => { const l = logs.find((x) => x.args.newValue === 8n); if (l) resolve(l); },
        onError: reject });
    });
    await new Promise((r) => setTimeout(r, 600));
    const r = await mined(await wallet.writeContract({ address: s.address, abi: store.abi, functionName: "set", args: [8n] }));
    const l = await withTimeout(got, 30000, "ValueChanged via HTTP filter").finally(() => unwatch());
    assertEq(l.transactionHash, r.transactionHash, "filtered log belongs to the write");
    assertEq(l.args.oldValue, 7n, "filtered event args");
  }],
  ["ws-subscriptions", async () => {
    const transport = webSocket(WS_URL);
    const wsc = createPublicClient({ chain, transport });
    const unwatch = [];
    try {
      assertEq(await wsc.getChainId(), Number(CHAIN_ID), "chain id over WS");
      const heads = collector();
      const logs = collector();
      let wsError;
      unwatch.push(wsc.watchBlocks({ onBlock: (b) => heads.push(b), onError: (e) => { wsError = e; } })); // newHeads
      unwatch.push(wsc.watchContractEvent({ address: s.address, abi: store.abi, eventName: "ValueChanged",
        onLogs: (ls) => ls.forEach((l) => logs.push(l)), onError: (e) => { wsError = e; } })); // logs
      await new Promise((r) => setTimeout(r, 300));
      const r = await mined(await wallet.writeContract({ address: s.address, abi: store.abi, functionName: "set", args: [9n] }));
      // The write's own block must come through newHeads, with the receipt's hash.
      const b = await heads.waitFor((x) => x.hash === r.blockHash, 30000, `newHeads delivering block ${r.blockNumber}`)
        .catch((e) => { throw wsError ?? e; });
      assertEq(b.number, r.blockNumber, "newHeads block number");
      const l = await logs.waitFor((x) => x.transactionHash === r.transactionHash, 30000, "the write's log over the logs subscription")
        .catch((e) => { throw wsError ?? e; });
      assertEq(l.args.newValue, 9n, "subscribed log args");
    } finally {
      unwatch.forEach((u) => u()); // sends eth_unsubscribe; the socket closes when the scenario exits
    }
  }],
  ["revert-custom-error", async () => {
    let err;
    try { await pub.simulateContract({ account, address: s.address, abi: store.abi, functionName: "set", args: [2000000n] }); } catch (e) { err = e; }
    const rev = revertOf(err);
    assertEq(rev.data?.errorName, "TooLarge", "decoded error name");
    assertEq(rev.data.args.join(","), "2000000,1000000", "decoded error args");
    const expected = toFunctionSelector("TooLarge(uint256,uint256)") + encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }], [2000000n, 1000000n]).slice(2);
    assertEq(rev.raw, expected, "raw revert data = selector + args");
    err = undefined;
    try { await pub.estimateContractGas({ account, address: s.address, abi: store.abi, functionName: "set", args: [2000000n] }); } catch (e) { err = e; }
    assertEq(revertOf(err).data?.errorName, "TooLarge", "estimateGas decodes the custom error");
  }],
  ["revert-error-string", async () => {
    let err;
    try { await pub.simulateContract({ account, address: s.address, abi: store.abi, functionName: "set", args: [13n] }); } catch (e) { err = e; }
    const rev = revertOf(err);
    assertEq(rev.reason, "unlucky number", "revert reason");
    const expected = "0x08c379a0" + encodeAbiParameters([{ type: "string" }], ["unlucky number"]).slice(2);
    assertEq(rev.raw, expected, "raw Error(string) data");
  }],
  ["legacy-tx", async () => {
    const to = fresh();
    const gasPrice = await pub.getGasPrice();
    const hash = await wallet.sendTransaction({ to, value: 1000n, type: "legacy", gasPrice });
    const r = await mined(hash);
    assertEq(r.type, "legacy", "receipt type");
    const tx = await pub.getTransaction({ hash });
    assertEq(tx.type, "legacy", "transaction type");
    assertEq(tx.chainId, Number(CHAIN_ID), "EIP-155 chain id in the legacy signature");
    assertEq(await pub.getBalance({ address: to }), 1000n, "legacy transfer arrived");
  }],
  ["eip1559-tx", async () => {
    const block = await pub.getBlock();
    assert(block.baseFeePerGas !== null, "latest block has baseFeePerGas");
    const to = fresh();
    const hash = await wallet.sendTransaction({ to, value: 2000n, type: "eip1559",
      maxPriorityFeePerGas: 1n, maxFeePerGas: block.baseFeePerGas * 2n + 1n });
    const r = await mined(hash);
    assertEq(r.type, "eip1559", "receipt type");
    assertEq((await pub.getTransaction({ hash })).type, "eip1559", "transaction type");
    assertEq(await pub.getBalance({ address: to }), 2000n, "1559 transfer arrived");
  }],
  ["burst-20-no-wait", async () => {
    const to = fresh();
    const nonce = await pub.getTransactionCount({ address: account.address, blockTag: "pending" });
    const fees = await pub.estimateFeesPerGas();
    const hashes = await Promise.all(Array.from({ length: 20 }, (_, i) => wallet.sendTransaction({
      to, value: 1n + BigInt(i), nonce: nonce + i, gas: 21000n, ...fees })));
    assertEq(new Set(hashes).size, 20, "20 distinct hashes");
    const receipts = await Promise.all(hashes.map((hash) => mined(hash)));
    assertEq(receipts.length, 20, "20 receipts");
    assertEq(await pub.getTransactionCount({ address: account.address }), nonce + 20, "nonce advanced by 20");
    assertEq(await pub.getBalance({ address: to }), 210n, "sum of the 20 values arrived");
  }],
]);
