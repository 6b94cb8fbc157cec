// Model text as Markdown, safe by construction: the one markdown-it instance and its two walls.
//
// Two walls: markdown-it never emits HTML from the source (html: false: raw HTML in model text
// is escaped, shown as literal text), and its output goes through DOMPurify with an allow-list
// of tags and attributes before it reaches the page. Links keep only http(s) and mailto: URLs
// and open in a new tab without an opener; images are never loaded: an image becomes its alt
// text plus its URL as a link. No style attribute survives (table alignment becomes a class).
// Everything the streaming renderer (markdown.js) puts on the page passes `sanitize` too.
import DOMPurify from "dompurify";
import MarkdownIt from "markdown-it";
import { highlight, hasLanguage } from "./highlight.js";
import { splitRuns } from "./lineruns.js";
import { installProbes } from "./probe.js";

const SAFE_URL = /^(?:https?:|mailto:)/i;

/** The highlight.js language of a fence's info string, or "" (then it is plain escaped text). */
export function languageOf(lang) {
  const name = (lang || "").trim().split(/\s+/)[0].toLowerCase();
  return name && hasLanguage(name) ? name : "";
}

export const md = new MarkdownIt({
  html: false,
  linkify: true,
  typographer: false,
  breaks: false,
  highlight(code, lang) {
    const name = languageOf(lang);
    if (!name) return ""; // markdown-it escapes it as plain code
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

/** Task lists ("- [ ] todo"): a box character instead of the brackets; true when it was one. */
export function taskBox(children) {
  const first = children && children[0];
  if (!first || first.type !== "text") return null;
  const m = /^\[([ xX])\]\s/.exec(first.content);
  if (!m) return null;
  const done = m[1] !== " ";
  first.content = (done ? "☑ " : "☐ ") + first.content.slice(m[0].length);
  return done;
}

// Task lists: a box character and a class, no <input>.
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
    const done = taskBox(t.children);
    if (done !== null) tokens[i - 2].attrJoin("class", done ? "lcnb-task lcnb-task-done" : "lcnb-task");
  }
});

installProbes(md);

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

function addCopyButton(pre) {
  pre.classList.add("lcnb-code");
  const copy = document.createElement("button");
  copy.className = "lcnb-btn lcnb-copy-code";
  copy.type = "button";
  copy.textContent = "copy";
  copy.title = "Copy this code";
  pre.prepend(copy);
}

/**
 * Rendered HTML -> sanitized nodes, parsed inside the elements `wrap` names (so rows parse as
 * rows, items as items); code blocks among them get their copy button.
 */
export function sanitize(html, wrap = []) {
  const open = wrap.map((t) => `<${t}>`).join("");
  const close = wrap.map((t) => `</${t}>`).reverse().join("");
  let box = purifier().sanitize(open + html + close, PURIFY);
  for (let i = 0; i < wrap.length; i++) box = box.firstElementChild;
  const nodes = [...box.childNodes];
  for (const node of nodes) {
    if (node.nodeType !== 1) continue;
    for (const pre of node.nodeName === "PRE" ? [node] : node.querySelectorAll("pre")) {
      addCopyButton(pre);
      const code = pre.querySelector(":scope > code");
      if (code) splitRuns(code);
    }
  }
  return nodes;
}

/** Markdown source -> a sanitized DocumentFragment (code blocks get a copy button). */
export function renderFragment(src) {
  const frag = document.createDocumentFragment();
  frag.append(...sanitize(md.render(src)));
  return frag;
}
