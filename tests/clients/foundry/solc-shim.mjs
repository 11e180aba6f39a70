#!/usr/bin/env node
// A `solc` executable for forge, backed by npm's solcjs (pinned in ../package.json), so forge
// compiles offline: forge asks `solc --version`, then pipes standard JSON to
// `solc --standard-json [--base-path P] [--include-path P] [--allow-paths P,...]`.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");
const args = process.argv.slice(2);

if (args.includes("--version")) {
  // forge parses the semver out of the second line; report it as a native build so forge
  // does not try to match it against its downloadable-compiler list.
  const v = solc.version().replace(/\.Emscripten\.clang$/, ".Linux.g++");
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${v}\n`);
  process.exit(0);
}
if (!args.includes("--standard-json")) {
  process.stderr.write("solc-shim: only --version and --standard-json are supported\n");
  process.exit(2);
}
const roots = [];
for (const flag of ["--base-path", "--include-path"]) {
  args.forEach((a, i) => { if (a === flag && args[i + 1]) roots.push(args[i + 1]); });
}
if (!roots.length) roots.push(process.cwd());
// Imports resolve against the base and include paths, as native solc does.
function findImports(p) {
  for (const r of [...roots, ""]) {
    const f = path.resolve(r || "/", p);
    if (fs.existsSync(f)) return { contents: fs.readFileSync(f, "utf8") };
  }
  return { error: `File not found: ${p}` };
}
const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
