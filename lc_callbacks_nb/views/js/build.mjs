// Builds ../static/board.bundle.js: board.js (+ board.css as text, + src/*) and its npm
// dependencies in ONE minified ESM file. Reproducible: same inputs -> same bytes. The first
// line records a sha256 over the sources and package-lock.json (computed the same way in
// tests/test_bundle.py, without node), so a stale bundle fails the tests.
//
// Beside it, third-party-licenses.json lists every npm package the bundle holds (read from
// esbuild's own record of its inputs, so only what was bundled), with its version and licence
// from package-lock.json and its licence files' text, in the shape JupyterLab's builder writes
// for a labextension. THIRD_PARTY_NOTICES.md is rendered from it (`make js` runs
// tools/third_party_notices.py next).
//
//   node build.mjs [--out PATH] [--licenses PATH]     (make js runs `npm ci` first)
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

const LICENSE_FILE = /^(licen[cs]e|copying|notice)/i;

// The npm packages behind the bundle's inputs: "…/node_modules/<name>/…" -> lock key, per package.
export function bundledPackages(metafile) {
  const keys = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const at = input.lastIndexOf("node_modules/");
    if (at < 0) continue;
    const rest = input.slice(at + "node_modules/".length).split("/");
    const name = rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
    keys.add(input.slice(input.indexOf("node_modules/"), at) + `node_modules/${name}`);
  }
  return [...keys].sort();
}

export function licenseReport(metafile, sourcesSha256) {
  const lock = JSON.parse(readFileSync(join(HERE, "package-lock.json"), "utf8")).packages;
  const packages = bundledPackages(metafile).map((key) => {
    const entry = lock[key];
    if (!entry) throw new Error(`${key} is bundled but not in package-lock.json`);
    const dir = join(HERE, key);
    const files = readdirSync(dir).filter((f) => LICENSE_FILE.test(f)).sort();
    if (!files.length) throw new Error(`${key} has no licence file to ship`);
    return {
      name: key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length),
      versionInfo: entry.version,
      licenseId: entry.license,
      extractedText: files.map((f) => readFileSync(join(dir, f), "utf8").trim()).join("\n\n"),
    };
  });
  return JSON.stringify({ sourcesSha256, packages }, null, 2) + "\n";
}

async function main() {
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 ? resolve(args[i + 1]) : fallback;
  };
  const out = option("--out", join(VIEWS, "static", "board.bundle.js"));
  const licenses = option("--licenses", join(HERE, "third-party-licenses.json"));
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
    metafile: true,
    logLevel: "warning",
  });
  const body = result.outputFiles[0].text;
  const hash = sourcesHash();
  const header = `/* lc_callbacks_nb board bundle: sources-sha256=${hash} (make js) */\n`;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, header + body);
  writeFileSync(licenses, licenseReport(result.metafile, hash));
  console.log(`${relative(process.cwd(), out)}: ${(header + body).length} chars`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
