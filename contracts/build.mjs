// Build the project's Solidity sources into reproducible JSON artifacts.
//
// Compiles every contracts/src/**/*.sol with the pinned npm solc (standard JSON input,
// optimizer on with 200 runs, evmVersion cancun, no metadata hash and no CBOR trailer) and
// writes contracts/out/<ContractName>.json for every contract with creation code.
//
// Usage:
//   node contracts/build.mjs                 compile and write contracts/out, drop stale files
//   node contracts/build.mjs --check         compile in memory, exit 1 if contracts/out differs
//   options: --root DIR          repo-like directory holding contracts/src and contracts/out
//            --node-modules DIR  where @uniswap/... and @openzeppelin/... imports are found

import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const STARTED = process.hrtime.bigint();
const require = createRequire(import.meta.url);
const solc = require("solc");

const SCRIPT_DIR = path.dirname(fileURLToPath(import.meta.url));
const SETTINGS = Object.freeze({
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
});
const PACKAGE_PREFIXES = ["@uniswap/", "@openzeppelin/"];

function fail(message) {
  process.stderr.write(`build.mjs: error: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const args = { check: false, root: path.resolve(SCRIPT_DIR, ".."), nodeModules: null };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--check") {
      args.check = true;
    } else if (arg === "--root" || arg === "--node-modules") {
      const value = argv[i + 1];
      if (value === undefined) fail(`${arg} needs a directory`);
      i += 1;
      if (arg === "--root") args.root = path.resolve(value);
      else args.nodeModules = path.resolve(value);
    } else if (arg === "-h" || arg === "--help") {
      process.stdout.write(
        "usage: node contracts/build.mjs [--check] [--root DIR] [--node-modules DIR]\n",
      );
      process.exit(0);
    } else {
      fail(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  return args;
}

function findNodeModules(startDirs) {
  for (const start of startDirs) {
    let dir = start;
    for (;;) {
      const candidate = path.join(dir, "node_modules");
      if (fs.existsSync(path.join(candidate, "solc"))) return candidate;
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return null;
}

function toPosix(p) {
  return p.split(path.sep).join("/");
}

function listSolidityFiles(dir) {
  const found = [];
  const walk = (current) => {
    const entries = fs.readdirSync(current, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith(".sol")) found.push(full);
    }
  };
  walk(dir);
  return found;
}

function compile(root, nodeModules) {
  const srcDir = path.join(root, "contracts", "src");
  if (!fs.existsSync(srcDir)) fail(`no source directory at ${srcDir}`);
  const files = listSolidityFiles(srcDir);
  if (files.length === 0) fail(`no .sol files under ${srcDir}`);

  const sources = {};
  const seen = new Map();
  for (const file of files) {
    const unit = toPosix(path.relative(root, file));
    const content = fs.readFileSync(file, "utf8");
    sources[unit] = { content };
    seen.set(unit, content);
  }

  const findImports = (unit) => {
    let resolved = null;
    if (PACKAGE_PREFIXES.some((prefix) => unit.startsWith(prefix))) {
      if (nodeModules === null) {
        return { error: `cannot resolve ${unit}: no node_modules found (run npm ci)` };
      }
      resolved = path.join(nodeModules, ...unit.split("/"));
    } else if (!path.isAbsolute(unit) && !unit.split("/").includes("..")) {
      resolved = path.join(root, ...unit.split("/"));
    }
    if (resolved === null || !fs.existsSync(resolved)) {
      return { error: `file not found: ${unit}` };
    }
    const content = fs.readFileSync(resolved, "utf8");
    seen.set(unit, content);
    return { contents: content };
  };

  const input = {
    language: "Solidity",
    sources,
    settings: {
      optimizer: SETTINGS.optimizer,
      evmVersion: SETTINGS.evmVersion,
      metadata: { bytecodeHash: "none", appendCBOR: false },
      outputSelection: {
        "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));

  const diagnostics = output.errors ?? [];
  const errors = diagnostics.filter((d) => d.severity === "error");
  for (const d of diagnostics) {
    if (d.severity !== "error") process.stderr.write(`${(d.formattedMessage ?? d.message).trimEnd()}\n`);
  }
  if (errors.length > 0) {
    for (const d of errors) process.stderr.write(`${(d.formattedMessage ?? d.message).trimEnd()}\n`);
    fail(`compilation failed with ${errors.length} error(s)`);
  }

  const digest = createHash("sha256");
  for (const unit of [...seen.keys()].sort()) {
    const content = seen.get(unit);
    digest.update(`${unit}\0${Buffer.byteLength(content, "utf8")}\0`);
    digest.update(content, "utf8");
  }
  const sourceSha256 = digest.digest("hex");

  const artifacts = new Map();
  for (const unit of Object.keys(sources).sort()) {
    const contracts = output.contracts?.[unit] ?? {};
    for (const name of Object.keys(contracts).sort()) {
      const contract = contracts[name];
      const bytecode = contract.evm?.bytecode?.object ?? "";
      if (bytecode === "") continue;
      if (artifacts.has(name)) {
        fail(`contract ${name} is defined in both ${artifacts.get(name).sourcePath} and ${unit}`);
      }
      artifacts.set(name, {
        contractName: name,
        sourcePath: unit,
        compiler: solc.version(),
        settings: SETTINGS,
        abi: contract.abi,
        bytecode: `0x${bytecode}`,
        deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
        sourceSha256,
      });
    }
  }
  return artifacts;
}

function render(artifact) {
  return `${JSON.stringify(artifact, null, 2)}\n`;
}

function existingOutFiles(outDir) {
  if (!fs.existsSync(outDir)) return [];
  return fs
    .readdirSync(outDir)
    .filter((f) => f.endsWith(".json"))
    .sort();
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const nodeModules = args.nodeModules ?? findNodeModules([SCRIPT_DIR, args.root]);
  const artifacts = compile(args.root, nodeModules);
  const outDir = path.join(args.root, "contracts", "out");
  const expected = new Map(
    [...artifacts.values()].map((a) => [`${a.contractName}.json`, render(a)]),
  );
  const extra = existingOutFiles(outDir).filter((f) => !expected.has(f));
  const rel = (f) => toPosix(path.relative(args.root, path.join(outDir, f)));

  if (args.check) {
    const problems = [];
    for (const [file, text] of [...expected.entries()].sort()) {
      const full = path.join(outDir, file);
      if (!fs.existsSync(full)) problems.push(`missing: ${rel(file)}`);
      else if (fs.readFileSync(full, "utf8") !== text) problems.push(`stale:   ${rel(file)}`);
    }
    for (const file of extra) problems.push(`extra:   ${rel(file)}`);
    if (problems.length > 0) {
      process.stderr.write(`contracts/out is not up to date with contracts/src:\n`);
      for (const p of problems) process.stderr.write(`  ${p}\n`);
      process.stderr.write("run `node contracts/build.mjs` (or `make contracts`) to rebuild\n");
      process.exit(1);
    }
    process.stdout.write(`contracts/out is up to date (${expected.size} artifacts)\n`);
    return;
  }

  fs.mkdirSync(outDir, { recursive: true });
  for (const [file, text] of expected) {
    const full = path.join(outDir, file);
    if (!fs.existsSync(full) || fs.readFileSync(full, "utf8") !== text) {
      fs.writeFileSync(full, text);
      process.stdout.write(`wrote   ${rel(file)}\n`);
    }
  }
  for (const file of extra) {
    fs.unlinkSync(path.join(outDir, file));
    process.stdout.write(`removed ${rel(file)}\n`);
  }
  const elapsedMs = Number(process.hrtime.bigint() - STARTED) / 1e6;
  process.stdout.write(
    `built ${expected.size} artifacts with solc ${solc.version()} in ${elapsedMs.toFixed(0)} ms\n`,
  );
}

main();
