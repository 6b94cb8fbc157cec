// Builds ../static/board.bundle.js: board.js (+ board.css as text, + src/*) and its npm
// dependencies in ONE minified ESM file. Reproducible: same inputs -> same bytes. The first
// line records a sha256 over the sources and package-lock.json (computed the same way in
// tests/test_bundle.py, without node), so a stale bundle fails the tests.
//
//   node build.mjs [--out PATH]     (make js runs `npm ci` first)
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const HERE = dirname(fileURLToPath(import.meta.url));
const VIEWS = resolve(HERE, "..");

// The inputs, as paths relative to lc_callbacks_nb/views (posix), sorted.
export function inputs() {
  const src = readdirSync(join(HERE, "src"))
    .filter((f) => f.endsWith(".js"))
    .map((f) => `js/src/${f}`);
  return ["board.js", "board.css", "js/build.mjs", "js/package.json", "js/package-lock.json", ...src].sort();
}

export function sourcesHash() {
  const h = createHash("sha256");
  for (const rel of inputs()) {
    h.update(rel + "\0");
    h.update(readFileSync(join(VIEWS, rel)));
    h.update("\0");
  }
  return h.digest("hex");
}

async function main() {
  const args = process.argv.slice(2);
  const i = args.indexOf("--out");
  const out = i >= 0 ? resolve(args[i + 1]) : join(VIEWS, "static", "board.bundle.js");
  const result = await esbuild.build({
    entryPoints: [join(VIEWS, "board.js")],
    absWorkingDir: VIEWS,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2020"],
    minify: true,
    legalComments: "eof",
    charset: "utf8",
    loader: { ".css": "text" },
    nodePaths: [join(HERE, "node_modules")],
    write: false,
    logLevel: "warning",
  });
  const body = result.outputFiles[0].text;
  const header = `/* lc_callbacks_nb board bundle: sources-sha256=${sourcesHash()} (make js) */\n`;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, header + body);
  console.log(`${relative(process.cwd(), out)}: ${(header + body).length} chars`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
