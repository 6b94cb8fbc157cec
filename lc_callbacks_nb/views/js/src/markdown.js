// Model text as Markdown, safe by construction, rendered incrementally while it streams.
//
// Two walls: markdown-it never emits HTML from the source (html: false: raw HTML in model text
// is escaped, shown as literal text), and its output goes through DOMPurify with an allow-list
// of tags and attributes before it reaches the page. Links keep only http(s) and mailto: URLs
// and open in a new tab without an opener; images are never loaded: an image becomes its alt
// text plus its URL as a link. No style attribute survives (table alignment becomes a class).
import DOMPurify from "dompurify";
import MarkdownIt from "markdown-it";
import { highlight, hasLanguage } from "./highlight.js";

const SAFE_URL = /^(?:https?:|mailto:)/i;

const md = new MarkdownIt({
  html: false,
  linkify: true,
  typographer: false,
  breaks: false,
  highlight(code, lang) {
    const name = (lang || "").trim().split(/\s+/)[0].toLowerCase();
    if (!name || !hasLanguage(name)) return ""; // markdown-it escapes it as plain code
    try {
      return highlight(code, name);
    } catch {
      return "";
    }
  },
});
md.enable(["table", "strikethrough"]);
md.linkify.set({ fuzzyLink: false, fuzzyEmail: false, fuzzyIP: false });
md.validateLink = (url) => SAFE_URL.test(String(url).trim());

// Images: "[image: alt] url" with the URL as an ordinary (safe) link; nothing is fetched.
md.renderer.rules.image = (tokens, idx, options, env, self) => {
  const token = tokens[idx];
  const src = token.attrGet("src") || "";
  const alt = self.renderInlineAsText(token.children || [], options, env);
  const esc = md.utils.escapeHtml;
  const label = `<span class="lcnb-img-alt">[image${alt ? `: ${esc(alt)}` : ""}]</span>`;
  const link = SAFE_URL.test(src) ? ` <a href="${esc(src)}">${esc(src)}</a>` : "";
  return `<span class="lcnb-img">${label}${link}</span>`;
};

// Task lists ("- [ ] todo", "- [x] done"): a box character and a class, no <input>.
// Table alignment: markdown-it writes style="text-align:…"; we write a class instead.
md.core.ruler.push("lcnb_tasks_align", (state) => {
  const tokens = state.tokens;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.type === "th_open" || t.type === "td_open") {
      const style = t.attrGet("style") || "";
      const m = /text-align:\s*(left|right|center)/.exec(style);
      t.attrs = (t.attrs || []).filter(([name]) => name !== "style");
      if (m) t.attrJoin("class", `lcnb-al-${m[1]}`);
      continue;
    }
    if (t.type !== "inline" || i < 2) continue;
    if (tokens[i - 1].type !== "paragraph_open" || tokens[i - 2].type !== "list_item_open") continue;
    const first = t.children && t.children[0];
    if (!first || first.type !== "text") continue;
    const m = /^\[([ xX])\]\s/.exec(first.content);
    if (!m) continue;
    const done = m[1] !== " ";
    first.content = (done ? "☑ " : "☐ ") + first.content.slice(m[0].length);
    tokens[i - 2].attrJoin("class", done ? "lcnb-task lcnb-task-done" : "lcnb-task");
  }
});

const PURIFY = {
  ALLOWED_TAGS: [
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "span",
  ],
  ALLOWED_ATTR: ["href", "class", "start", "title"],
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  ALLOWED_URI_REGEXP: /^(?:https?|mailto):/i,
  RETURN_DOM_FRAGMENT: true,
};

let hooked = false;
function purifier() {
  if (!hooked) {
    hooked = true;
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.nodeName === "A") {
        const href = node.getAttribute("href") || "";
        if (!SAFE_URL.test(href.trim())) node.removeAttribute("href");
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
      if (node.hasAttribute && node.hasAttribute("class")) {
        // classes only from our renderer's vocabulary (language-*, hljs-*, lcnb-*)
        const keep = node
          .getAttribute("class")
          .split(/\s+/)
          .filter((c) => /^(?:language-[\w+#.-]+|hljs(?:-[\w-]+)?|lcnb-[\w-]+)$/.test(c));
        if (keep.length) node.setAttribute("class", keep.join(" "));
        else node.removeAttribute("class");
      }
    });
  }
  return DOMPurify;
}

/** Markdown source -> a sanitized DocumentFragment (code blocks get a copy button). */
export function renderFragment(src) {
  const html = md.render(src);
  const frag = purifier().sanitize(html, PURIFY);
  for (const pre of frag.querySelectorAll("pre")) {
    pre.classList.add("lcnb-code");
    const copy = document.createElement("button");
    copy.className = "lcnb-btn lcnb-copy-code";
    copy.type = "button";
    copy.textContent = "copy";
    copy.title = "Copy this code";
    pre.prepend(copy);
  }
  return frag;
}

// ---- where a stream may be cut -------------------------------------------------------
// A "safe block boundary" is the end of a blank line outside a fenced code block, followed by
// a line that starts at column 0 (so an indented list continuation is not cut off its item).
// Everything before it is a finished block sequence: rendered once, never again.
const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;

class Scanner {
  constructor() {
    this.reset();
  }
  reset() {
    this.pos = 0; // text before pos is scanned (pos is at a line start)
    this.fence = null; // {ch, len} while inside a fenced block
    this.blankAt = -1; // end of the last blank line outside a fence, not yet confirmed
    this.cuts = []; // confirmed safe boundaries, ascending (consumed from the front)
  }
  // Scan complete lines of `text` from pos (new safe boundaries go to this.cuts).
  advance(text) {
    let pos = this.pos;
    for (;;) {
      const nl = text.indexOf("\n", pos);
      if (nl < 0) break;
      const line = text.slice(pos, nl);
      if (this.fence) {
        const m = FENCE.exec(line);
        if (m && m[1][0] === this.fence.ch && m[1].length >= this.fence.len && !m[2].trim())
          this.fence = null;
      } else if (!line.trim()) {
        this.blankAt = nl + 1;
      } else {
        if (this.blankAt >= 0 && !/^\s/.test(line)) this.cuts.push(this.blankAt);
        this.blankAt = -1;
        const m = FENCE.exec(line);
        if (m && !(m[1][0] === "`" && m[2].includes("`"))) this.fence = { ch: m[1][0], len: m[1].length };
      }
      pos = nl + 1;
    }
    this.pos = pos;
  }
  // The furthest boundary after `from` within `budget` characters (or the first one after
  // `from`, however far); -1 when there is none. Boundaries up to it are consumed.
  take(from, budget) {
    let best = -1;
    let i = 0;
    while (i < this.cuts.length && this.cuts[i] <= from) i++;
    while (i < this.cuts.length && (best < 0 || this.cuts[i] - from <= budget)) best = this.cuts[i++];
    this.cuts.splice(0, i);
    return best;
  }
  // Is a fence open at the end of `text` (including a last line without its newline)?
  openAtEnd(text) {
    let fence = this.fence;
    const rest = text.slice(this.pos);
    if (rest) {
      const m = FENCE.exec(rest);
      if (fence) {
        if (m && m[1][0] === fence.ch && m[1].length >= fence.len && !m[2].trim()) fence = null;
      } else if (m && !(m[1][0] === "`" && m[2].includes("`"))) fence = { ch: m[1][0], len: m[1].length };
    }
    return Boolean(fence);
  }
}

/**
 * One streaming Markdown document in one element. `update(text)` is called with the whole
 * text so far (at most once per animation frame); completed blocks are parsed and laid out
 * once, only the open trailing block is re-rendered. A text that is not an extension of the
 * previous one (a reset) is rendered from scratch. A long text arriving at once (a view opened
 * on a finished 100,000-token answer) is laid out BUDGET characters per call: `pending` says
 * more is to come, and the caller calls `update` again on the next frame (no long task).
 */
const BUDGET = 8000;

export class MarkdownView {
  constructor(el) {
    this.el = el;
    this.done = document.createElement("div");
    this.done.className = "lcnb-md-done";
    this.tail = document.createElement("div");
    this.tail.className = "lcnb-md-tail";
    el.replaceChildren(this.done, this.tail);
    this.scanner = new Scanner();
    this.text = "";
    this.committed = 0; // text[0:committed] is rendered in this.done
    this.pending = false;
  }

  update(text) {
    if (text === this.text && !this.pending) return false;
    if (!text.startsWith(this.text)) {
      this.scanner.reset();
      this.committed = 0;
      this.done.replaceChildren();
    }
    this.text = text;
    this.scanner.advance(text);
    const cut = this.scanner.take(this.committed, BUDGET);
    if (cut > this.committed) {
      const block = document.createElement("div");
      block.className = "lcnb-md-block";
      block.append(renderFragment(text.slice(this.committed, cut)));
      this.done.append(block);
      this.committed = cut;
    }
    // Caught up when no further boundary waits: then the open tail is drawn.
    this.pending = this.scanner.cuts.length > 0;
    if (this.pending) {
      this.tail.replaceChildren();
      return true;
    }
    const tail = text.slice(this.committed);
    const frag = tail.trim() ? renderFragment(tail) : document.createDocumentFragment();
    if (this.scanner.openAtEnd(text)) {
      const pres = frag.querySelectorAll("pre");
      const last = pres[pres.length - 1];
      if (last) last.classList.add("lcnb-code-open");
    }
    this.tail.replaceChildren(frag);
    return true;
  }
}
