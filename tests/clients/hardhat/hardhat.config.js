// Hardhat 3 project of the Hardhat scenario: compiles ../contracts offline with npm's solcjs
// (soljson.js, pinned in ../package.json) and defines the `stele` network from the environment.
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";

const require = createRequire(import.meta.url);
const soljson = path.join(path.dirname(require.resolve("solc/package.json")), "soljson.js");
const here = path.dirname(fileURLToPath(import.meta.url));
const rpcUrl = process.env.STELE_RPC_URL ?? "https://127.0.0.1:8545";

export default {
  plugins: [hardhatEthers],
  solidity: {
    version: "0.8.37",
    // A local compiler: Hardhat would otherwise download its compiler list and binary.
    path: soljson,
    settings: { evmVersion: "cancun", optimizer: { enabled: true, runs: 200 } },
  },
  paths: {
    // Absolute: Hardhat resolves relative paths from the package.json folder (tests/clients).
    sources: path.join(here, "..", "contracts"),
    cache: process.env.HARDHAT_CACHE_DIR ?? path.join(here, "cache"),
    artifacts: process.env.HARDHAT_ARTIFACTS_DIR ?? path.join(here, "out", "artifacts"),
  },
  networks: {
    stele: {
      type: "http",
      chainType: "l1",
      url: rpcUrl,
      // Hardhat refuses to run when the node's eth_chainId differs (HHE708).
      chainId: Number(process.env.STELE_CHAIN_ID ?? "1337"),
      accounts: {
        mnemonic: process.env.STELE_MNEMONIC ?? "test test test test test test test test test test test junk",
        initialIndex: Number(process.env.STELE_ACCOUNT_INDEX ?? "5"),
        count: 1,
      },
    },
  },
};
