// Compiles contracts/*.sol offline with npm's solc (solcjs, version pinned in package.json)
// into contracts/out/<Name>.json ({abi, bytecode}) for the ethers, viem and web3.py scenarios.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const dir = path.dirname(fileURLToPath(import.meta.url));
const sources = {};
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".sol"))) {
  sources[f] = { content: fs.readFileSync(path.join(dir, f), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    // Cancun: the oldest fork a current node runs; stele and anvil both execute it.
    evmVersion: "cancun",
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors ?? []).filter((e) => e.severity === "error");
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
fs.mkdirSync(path.join(dir, "out"), { recursive: true });
for (const [file, contracts] of Object.entries(out.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    const artifact = { contractName: name, source: file, compiler: solc.version(), abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
    fs.writeFileSync(path.join(dir, "out", `${name}.json`), JSON.stringify(artifact, null, 1));
    console.log(`compiled ${name} with solc ${solc.version()}`);
  }
}
