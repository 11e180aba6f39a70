// Compiles the load generator's contracts (tests/bench/contracts/*.sol) with npm's solc
// (solcjs, pinned in tests/clients/package.json) into <Name>.bin: the hex init code that
// `stele bench` deploys (node/src/bench/contracts.rs includes it). Run once after editing a
// .sol file and commit the .bin next to it:
//   NODE_PATH=tests/clients/node_modules node tests/bench/contracts/build.mjs
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require(require.resolve("solc", { paths: [process.env.NODE_PATH ?? ""] }));
const dir = path.dirname(fileURLToPath(import.meta.url));
const sources = {};
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".sol"))) {
  sources[f] = { content: fs.readFileSync(path.join(dir, f), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    // Cancun: both stele and anvil execute it.
    evmVersion: "cancun",
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["evm.bytecode.object"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors ?? []).filter((e) => e.severity === "error");
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
for (const contracts of Object.values(out.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    fs.writeFileSync(path.join(dir, `${name}.bin`), c.evm.bytecode.object + "\n");
    console.log(`compiled ${name} with solc ${solc.version()}`);
  }
}
