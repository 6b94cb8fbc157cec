// Inputs and outputs of chains, tools and retrievers: the Value trees that live/values.py reads
// (types in views/protocol.py), drawn with the rules the text view, the static twin and
// %lc_runs follow (views/value_render.py): a transcript of messages with role badges, short
// dicts and lists on one line, longer ones as key/value rows folded with <details>, media as
// type and size, clipped texts with their full length.
//
// Every text goes through textContent. The one exception is an ai message's answer text, which
// is model text and is rendered as Markdown by markdown.js's safe renderer (markdown-it with
// html: false, then DOMPurify), exactly as a model panel's answer is.
import { renderFragment } from "./markdown.js";

const INLINE = 100; // characters of a one-line dict or list (value_render.INLINE)
const BLOCKS = new Set(["msgs", "msg", "map", "list"]);
const LEAVES = new Set(["text", "obj", "cut", "media", "call"]);

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function kindOf(v) {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) return typeof v.t === "string" ? v.t : "map?";
  if (Array.isArray(v)) return "list?";
  return "scalar";
}

function scalar(v) {
  if (v === null || v === undefined) return "null";
  if (v === true) return "true";
  if (v === false) return "false";
  return String(v);
}

const quoted = (v) => (typeof v === "string" ? JSON.stringify(v) : scalar(v));
const plural = (n, word) => `${Number(n).toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
const items = (v) => (Array.isArray(v.items) ? v.items : []);

function size(n) {
  if (typeof n !== "number" || n < 0) return "";
  if (n < 1024) return `${n.toLocaleString("en-US")} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function clipNote(shown, full) {
  if (typeof full !== "number" || full <= shown.length) return "";
  return `… [clipped: ${shown.length.toLocaleString("en-US")} of ${full.toLocaleString("en-US")} characters]`;
}

export function callText(v) {
  const args = scalar(v.args ?? "");
  const note = clipNote(args, v.len);
  return `${scalar(v.name ?? "?")}(${args}${note ? " " + note : ""})${v.invalid ? " [invalid]" : ""}`;
}

function mediaText(v) {
  const parts = [scalar(v.kind || "bytes")];
  if (v.mime) parts.push(scalar(v.mime));
  if (v.name) parts.push(scalar(v.name));
  const s = size(v.size);
  if (s) parts.push(s);
  if (v.url) parts.push(scalar(v.url));
  return `[${parts.join(" · ")}]`;
}

function cutText(v) {
  const cls = scalar(v.cls || "");
  if (v.why === "cycle") return `… (a cycle: this ${cls} again)`;
  if (v.why === "depth") return `… (${cls} nested too deep)`;
  return `… (${cls} left out: size bound)`;
}

// A value's one-line form, if it has a short one (value_render.inline).
export function inline(v) {
  const kind = kindOf(v);
  if (kind === "scalar") {
    const text = scalar(v);
    return text.includes("\n") ? null : text;
  }
  if (kind === "call") return callText(v);
  if (kind === "media") return mediaText(v);
  if ((kind !== "map" && kind !== "list") || v.more || !Array.isArray(v.items)) return null;
  const parts = [];
  for (const item of v.items) {
    if (kind === "map") {
      if (!Array.isArray(item) || item.length !== 2 || kindOf(item[1]) !== "scalar") return null;
      const key = scalar(item[0]);
      parts.push(v.cls ? `${key}=${quoted(item[1])}` : `${quoted(key)}: ${quoted(item[1])}`);
    } else {
      if (kindOf(item) !== "scalar") return null;
      parts.push(quoted(item));
    }
  }
  const body = parts.join(", ");
  const text = v.cls ? `${v.cls}(${body})` : kind === "map" ? `{${body}}` : `[${body}]`;
  return text.length <= INLINE && !text.includes("\n") ? text : null;
}

// A one-item list (no class, nothing left out) stands for its item; a state that is only
// {"messages": [...]} for its transcript (value_render._sole_item).
function soleItem(v) {
  for (;;) {
    const kind = kindOf(v);
    if ((kind !== "list" && kind !== "map") || v.cls || v.more || items(v).length !== 1) return v;
    const [only] = v.items;
    if (kind === "list" && kindOf(only) !== "scalar") v = only;
    else if (kind === "map" && Array.isArray(only) && only[0] === "messages" && kindOf(only[1]) === "msgs") v = only[1];
    else return v;
  }
}

// Keys of a chain of single-entry plain dicts, and the value at its end.
function singlePath(v) {
  const path = [];
  while (kindOf(v) === "map" && !v.cls && !v.more && items(v).length === 1 && inline(v) === null) {
    const [key, next] = v.items[0];
    path.push(scalar(key));
    v = next;
  }
  return [path, v];
}

/** Messages a board has received, by their number on the board (what a fold refers to). */
export class MessageTable {
  constructor() {
    this.messages = new Map();
  }
  register(value) {
    const stack = [value];
    while (stack.length) {
      const v = stack.pop();
      if (v === null || typeof v !== "object") continue;
      if (Array.isArray(v)) {
        stack.push(...v);
        continue;
      }
      if (v.t === "msg" && Number.isInteger(v.i) && !this.messages.has(v.i)) this.messages.set(v.i, v);
      if (Array.isArray(v.items)) stack.push(...v.items);
      if (Array.isArray(v.parts)) stack.push(...v.parts);
    }
  }
  resolve(ranges) {
    const found = [];
    for (const range of Array.isArray(ranges) ? ranges : []) {
      const [a, b] = range;
      for (let i = a; i <= b && found.length < 10000; i++) {
        const msg = this.messages.get(i);
        if (msg) found.push(msg);
      }
    }
    return found;
  }
}

function roleClass(role) {
  return `lcnb-role-${scalar(role).toLowerCase().replace(/[^a-z0-9_-]/g, "") || "other"}`;
}

function messageRow(item, ctx) {
  const kind = kindOf(item);
  if (kind === "fold") return foldRow(item, ctx);
  if (kind === "gap") return el("div", "lcnb-val-note", `… ${plural(item.n || 0, "message")} not shown`);
  if (kind !== "msg") return renderValue(item, ctx);
  const row = el("div", `lcnb-msg ${roleClass(item.role)}`);
  const body = el("div", "lcnb-msg-body");
  row.append(el("span", "lcnb-role", scalar(item.role ?? "?")), body);
  if (item.name || item.status || item.reasoning) {
    const head = el("div", "lcnb-msg-head");
    if (item.name) head.append(el("span", "lcnb-msg-name", scalar(item.name)));
    if (item.status) head.append(el("span", "lcnb-msg-status", `[${scalar(item.status)}]`));
    if (item.reasoning) head.append(el("span", "lcnb-val-note", `[reasoning: ${plural(item.reasoning, "character")}]`));
    body.append(head);
  }
  const text = typeof item.text === "string" ? item.text : "";
  if (text) {
    if (item.role === "ai") {
      // model text: Markdown, through the same sanitizing renderer as the panels' answers
      const md = el("div", "lcnb-md lcnb-msg-md");
      md.append(renderFragment(text));
      body.append(md);
    } else {
      body.append(el("div", "lcnb-msg-text", text));
    }
    const note = clipNote(text, item.len);
    if (note) body.append(el("div", "lcnb-val-note", note));
  }
  for (const call of Array.isArray(item.calls) ? item.calls : []) {
    if (call && typeof call === "object") body.append(el("div", "lcnb-val-call", `→ ${callText(call)}`));
  }
  for (const part of Array.isArray(item.parts) ? item.parts : []) body.append(renderValue(part, ctx));
  return row;
}

// Messages shown earlier on this board: one click shows them again, from what the browser
// already has (nothing is asked of the kernel).
function foldRow(item, ctx) {
  const box = el("div", "lcnb-fold-box");
  const n = Number(item.n) || 0;
  const label = `… ${plural(n, "earlier message")}`;
  const button = el("button", "lcnb-btn lcnb-fold", label);
  button.type = "button";
  button.title = "Show the messages this one repeats from earlier runs on this board";
  box.append(button);
  let shown = null;
  button.addEventListener("click", (ev) => {
    ev.preventDefault();
    ev.stopPropagation();
    if (shown) {
      shown.remove();
      shown = null;
      button.textContent = label;
      return;
    }
    const found = ctx.table ? ctx.table.resolve(item.at) : [];
    shown = el("div", "lcnb-msgs-earlier");
    for (const msg of found) shown.append(messageRow(msg, ctx));
    if (found.length < n) shown.append(el("div", "lcnb-val-note", `${plural(n - found.length, "message")} no longer on this board`));
    box.append(shown);
    button.textContent = `hide ${plural(n, "earlier message")}`;
  });
  return box;
}

function mapNode(v, ctx, depth) {
  const box = el("div", "lcnb-val-map");
  // an object's class heads its entries, or with one entry only starts its label (Command › update)
  const cls = v.cls ? scalar(v.cls) : "";
  const alone = Boolean(cls) && items(v).length === 1 && !v.more;
  if (cls && !alone) box.append(el("div", "lcnb-val-cls", cls));
  const rows = cls && !alone ? el("div", "lcnb-val-nested") : box;
  for (const item of items(v)) {
    if (!Array.isArray(item) || item.length !== 2) continue;
    const [path, value] = singlePath(soleItem(item[1]));
    const label = (alone ? [cls, scalar(item[0]), ...path] : [scalar(item[0]), ...path]).join(" › ");
    const inner = soleItem(value);
    if (inline(inner) !== null || LEAVES.has(kindOf(inner))) {
      const row = el("div", "lcnb-val-row");
      row.append(el("span", "lcnb-val-key", `${label}: `), renderValue(inner, ctx, depth + 1));
      rows.append(row);
    } else {
      const entry = el("details", "lcnb-val-entry");
      entry.open = depth < 2 || kindOf(inner) === "msgs" || kindOf(inner) === "msg";
      const summary = el("summary");
      summary.append(el("span", "lcnb-val-key", label));
      const nested = el("div", "lcnb-val-nested");
      nested.append(renderValue(inner, ctx, depth + 1));
      entry.append(summary, nested);
      rows.append(entry);
    }
  }
  if (v.more) rows.append(el("div", "lcnb-val-note", `… ${Number(v.more).toLocaleString("en-US")} more`));
  if (rows !== box) box.append(rows);
  return box;
}

/** A Value as DOM. `ctx.table` (a MessageTable) resolves folded earlier messages. */
export function renderValue(value, ctx = {}, depth = 0) {
  const v = soleItem(value);
  const one = inline(v);
  const kind = kindOf(v);
  if (one !== null) return el("span", kind === "map" || kind === "list" || kind === "call" ? "lcnb-val-code" : kind === "media" ? "lcnb-val-media" : "lcnb-val-str", one);
  if (kind === "text" || kind === "obj") {
    const span = el("span", kind === "obj" ? "lcnb-val-str lcnb-val-obj" : "lcnb-val-str", scalar(v.text ?? ""));
    const note = clipNote(scalar(v.text ?? ""), v.len);
    if (!note) return span;
    const box = el("span");
    box.append(span, el("span", "lcnb-val-note", ` ${note}`));
    return box;
  }
  if (kind === "cut") return el("span", "lcnb-val-note", cutText(v));
  if (kind === "doc") {
    // "document title · source:" and its first lines under it (one short line beside it)
    const box = el("div", "lcnb-val-doc");
    const label = ["title", "source"].filter((k) => v[k]).map((k) => scalar(v[k])).join(" · ");
    const head = el("span", "lcnb-val-key", label ? `document ${label}: ` : "document: ");
    const text = scalar(v.text ?? "");
    const cut = typeof v.len === "number" && v.len > text.length;
    const beside = !cut && !text.includes("\n") && head.textContent.length + text.length < INLINE;
    box.append(head, el(beside ? "span" : "div", beside ? "lcnb-val-str" : "lcnb-val-nested lcnb-val-str", text));
    if (cut) box.append(el("div", "lcnb-val-nested lcnb-val-note", `… [${v.len.toLocaleString("en-US")} characters]`));
    return box;
  }
  if (kind === "msgs" || kind === "msg") {
    const box = el("div", "lcnb-msgs");
    if (v.cls) box.append(el("div", "lcnb-val-cls", scalar(v.cls)));
    for (const item of kind === "msgs" ? items(v) : [v]) box.append(messageRow(item, ctx));
    return box;
  }
  if (kind === "map") return mapNode(v, ctx, depth);
  if (kind === "list") {
    const box = el("div", "lcnb-val-list");
    if (v.cls) box.append(el("div", "lcnb-val-cls", scalar(v.cls)));
    for (const item of items(v)) {
      const row = el("div", "lcnb-val-item");
      row.append(el("span", "lcnb-val-note", "- "), renderValue(item, ctx, depth + 1));
      box.append(row);
    }
    if (v.more) box.append(el("div", "lcnb-val-note", `… ${plural(v.more, "more item")}`));
    return box;
  }
  return el("span", "lcnb-val-str", typeof v === "object" ? JSON.stringify(v) : scalar(v));
}

/**
 * Show `value` (a run's inputs or outputs) in `box`, labelled ("in: …"), and register its
 * messages in `table`; redrawn only when the value changed. An absent value empties the box.
 */
export function showValue(box, label, value, table) {
  if (box._lcnbValue === value && box._lcnbSet) return;
  const key = value === undefined ? "" : JSON.stringify(value);
  box._lcnbValue = value;
  box._lcnbSet = true;
  if (box._lcnbKey === key) return;
  box._lcnbKey = key;
  if (value === undefined || value === "") {
    box.replaceChildren();
    return;
  }
  if (table) table.register(value);
  const body = el("div", "lcnb-value-body");
  body.append(renderValue(value, { table }));
  box.replaceChildren(el("span", "lcnb-io-label", `${label}: `), body);
}
