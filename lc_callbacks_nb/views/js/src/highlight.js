// highlight.js core with a fixed set of common languages, registered explicitly (small bundle).
//
// A streamed code block is highlighted in chunks (codestream.js): highlighting `a + b` gives the
// same HTML as highlighting `a` then `b` when `a` ends with a newline and highlight.js's lexer
// is back at the language's top level there (`_top` is the language itself). One exception in
// these languages: JavaScript/TypeScript decide whether `<tag>` opens JSX by searching the rest
// of the input for `</tag` (and peek past the tag for `=` or `extends`); a chunk that ends
// before that answer is known is reported as a `hazard`, so it is not taken as a checkpoint.
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import diff from "highlight.js/lib/languages/diff";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import shell from "highlight.js/lib/languages/shell";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

const LANGUAGES = {
  bash, c, cpp, diff, go, java, javascript, json, markdown, python, rust, shell, sql,
  typescript, xml, yaml,
};

/** Characters handed to highlight.js so far (the streaming tests read it). */
export const hlCount = { chars: 0 };

let hazard = false;
const NON_SPACE = /\S/g;

// Wrap every mode callback that reads `match.input` (it looks beyond its match): flag a hazard
// when the answer it looks for is not in the input yet.
function guardLookahead(mode, seen = new Set()) {
  if (!mode || typeof mode !== "object" || seen.has(mode)) return mode;
  seen.add(mode);
  for (const key of ["on:begin", "on:end"]) {
    const fn = mode[key];
    if (typeof fn === "function" && String(fn).includes(".input")) {
      mode[key] = (match, response) => {
        const input = match.input;
        const after = match.index + match[0].length;
        if (input[after] === ">" && input.indexOf(`</${match[0].slice(1)}`, after) < 0) hazard = true;
        NON_SPACE.lastIndex = after;
        const next = NON_SPACE.exec(input);
        if (!next || input.length - next.index < 16) hazard = true;
        return fn(match, response);
      };
    }
  }
  for (const key of ["contains", "variants"]) {
    if (Array.isArray(mode[key])) for (const m of mode[key]) guardLookahead(m, seen);
  }
  guardLookahead(mode.starts, seen);
  return mode;
}

for (const [name, def] of Object.entries(LANGUAGES)) {
  hljs.registerLanguage(name, (h) => guardLookahead(def(h)));
}

export function hasLanguage(name) {
  return Boolean(hljs.getLanguage(name));
}

/** Highlighted HTML (escaped text in <span class="hljs-…">) for `code` in language `name`. */
export function highlight(code, name) {
  hlCount.chars += code.length;
  return hljs.highlight(code, { language: name, ignoreIllegals: true }).value;
}

/**
 * Highlight one chunk of a streamed block. `atRoot`: the lexer ended at the language's top
 * level; `hazard`: some decision inside depended on input not seen yet.
 */
export function highlightChunk(code, name) {
  hlCount.chars += code.length;
  hazard = false;
  try {
    const res = hljs.highlight(code, { language: name, ignoreIllegals: true });
    const atRoot = res._top === hljs.getLanguage(name) && !res.errorRaised && !res.illegal;
    return { html: res.value, atRoot, hazard };
  } catch {
    return { html: null, atRoot: false, hazard: true }; // the caller escapes it, like markdown-it
  } finally {
    hazard = false;
  }
}
