// Streaming Markdown: what is drawn costs what is new, not what has already streamed.
//
// `MarkdownView.update(text)` gets the whole text so far (at most once per frame). The view
// keeps a *committed* part of the DOM, final, and redraws only the *tail* after it. Between
// updates it remembers where the committed part stops (`co`, a line start) and the *path*:
// the containers still open there (blockquote, list, list item) and, maybe, the leaf being
// cut inside (a paragraph between its lines, a fenced code block between its lines, a table
// between its rows). Each update parses only the text from `co` on, behind a one- or two-line
// *skeleton* that reopens the path (e.g. "> - ___" reopens a quote and a list item whose
// content starts at column 2; "```python" reopens a fence), so markdown-it sees the new lines
// in the same context as in the whole text. The new lines' tokens are then rendered into the
// committed containers (the skeleton's own output is dropped), a new cut is chosen as deep as
// the parse proves stable, and what follows it becomes the tail.
//
// Correctness: the result equals a one-shot render of the whole text (renderFragment). The few
// things a later line can change in earlier output are detected and repaired by re-laying out
// the top-level block they belong to (a "rewind", spread over frames like any long text):
// a list that turns loose, a paragraph that turns into a setext heading, an inline construct
// (code span, emphasis, link) that a later line of the same paragraph closes, a reference
// definition used earlier. What the view learned (loose lists, headings, paragraph spans)
// is kept, so a rewind is never repeated for the same cause.
import { hlCount } from "./highlight.js";
import { CodeStream } from "./codestream.js";
import { inlineProbe } from "./probe.js";
import { languageOf, md, renderFragment, sanitize, taskBox } from "./render.js";

export { renderFragment };

/** Characters of Markdown source parsed so far (the streaming tests read it). */
export const parseCount = { chars: 0 };

// A long text arriving at once is laid out BUDGET characters per update (the caller calls
// again on the next frame while `pending`): no long task.
const BUDGET = 8000;
const JUNK = "___"; // a thematic break: closed, and never mistaken for a list marker
const MAX_REWINDS = 4; // per top-level block; then it is laid out whole (flat), still correct

const CONTAINERS = new Set(["root", "blockquote", "list", "item"]);
const KIND_OF = {
  blockquote_open: "blockquote",
  bullet_list_open: "list",
  ordered_list_open: "list",
  list_item_open: "item",
  paragraph_open: "paragraph",
  heading_open: "heading",
  table_open: "table",
};
const key = (line, level) => `${line}:${level}`;

// Block tokens as a tree: containers hold children; paragraphs, headings, tables are leaves.
function buildTree(tokens) {
  const root = { type: "root", kids: [], start: -1, end: tokens.length, level: -1 };
  const stack = [root];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const top = stack[stack.length - 1];
    if (top.closeType) {
      if (t.type === top.closeType && t.level === top.level) {
        top.end = i;
        stack.pop();
      }
      continue;
    }
    if (t.nesting === 1) {
      const type = KIND_OF[t.type] || "other";
      const node = { type, start: i, end: -1, map: t.map, level: t.level, kids: [], tok: t };
      if (!CONTAINERS.has(type)) node.closeType = t.type.replace(/_open$/, "_close");
      top.kids.push(node);
      stack.push(node);
    } else if (t.nesting === -1) {
      top.end = i;
      stack.pop();
    } else if (t.type !== "inline") {
      const type = t.type === "fence" ? "fence" : "leaf";
      top.kids.push({ type, start: i, end: i, map: t.map, level: t.level, kids: [], tok: t });
    }
  }
  return root;
}

// The line after the last line of content of a node (blank lines after it are not content;
// a quote's own ">" lines are).
function contentEnd(node) {
  if (!CONTAINERS.has(node.type) || node.type === "blockquote") return node.map[1];
  return node.kids.length ? contentEnd(node.kids[node.kids.length - 1]) : node.map[0] + 1;
}

function renderOne(tokens, i, env) {
  const t = tokens[i];
  const r = md.renderer;
  if (t.type === "inline") return r.renderInline(t.children, md.options, env);
  const rule = r.rules[t.type];
  return rule ? rule(tokens, i, md.options, env, r) : r.renderToken(tokens, i, md.options);
}

// What a closing token renders after its own "</tag>" (the newline between blocks).
function closeRest(tokens, i, env) {
  const t = tokens[i];
  const out = renderOne(tokens, i, env);
  const tag = `</${t.tag}>`;
  return out.startsWith(tag) ? out.slice(tag.length) : "";
}

// A list item's first line, rebuilt: its marker, then spaces up to the content column W.
function itemOpener({ marker, W }) {
  const spaces = W - marker.length;
  if (spaces < 1) return null;
  if (spaces <= 4) return marker + " ".repeat(spaces);
  const indent = spaces - 4;
  return indent > 3 ? null : " ".repeat(indent) + marker + "    ";
}

const isEmpty = (open) => !open.ticks.size && !open.opens.size && !open.label && !open.paren;

function union(into, probe) {
  for (const n of probe.ticks) into.ticks.add(n);
  for (const m of probe.opens) into.opens.add(m);
  into.label = into.label || probe.label;
  into.paren = into.paren || probe.paren;
  return into;
}

// Could `rest` (later lines of the same paragraph) close something left open before it?
function closesOpen(open, rest, restProbe) {
  if (open.ticks.size) {
    const runs = /`+/g;
    for (let m = runs.exec(rest); m; m = runs.exec(rest)) if (open.ticks.has(m[0].length)) return true;
  }
  for (const m of restProbe.closes) if (open.opens.has(m)) return true;
  return (open.label && rest.includes("]")) || (open.paren && rest.includes(")"));
}

// The offset after the first n lines of `content`.
function afterLines(content, n) {
  let pos = 0;
  for (let k = 0; k < n; k++) {
    const nl = content.indexOf("\n", pos);
    if (nl < 0) return content.length;
    pos = nl + 1;
  }
  return pos;
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export class MarkdownView {
  constructor(el) {
    this.el = el;
    this.budget = BUDGET; // characters laid out per update at most, when more is waiting
    this.stats = {
      updates: 0, parsed: 0, highlighted: 0, lastParsed: 0, lastHighlighted: 0,
      rewinds: 0, contextFailures: 0,
    };
    this.reset();
  }

  reset() {
    this.el.replaceChildren();
    this.raw = "";
    this.text = "";
    this.sawCR = false;
    this.final = false;
    this.co = 0; // text[0:co] is committed (a line start)
    this.path = []; // open frames at co, outermost first
    this.tailNodes = [];
    this.streams = new Set(); // code streams with a tail drawn
    this.marks = new WeakMap(); // top-level element -> text offset of its block
    this.openPre = null;
    this.layoutPending = false;
    this.unstableRefs = false;
    this.unsettled = false;
    this.refs = {}; // reference definitions on settled lines
    this.loose = new Set(); // lists (by text offset) known to be loose
    this.setext = new Map(); // paragraphs (by offset) known to be setext headings -> tag
    this.holds = new Map(); // paragraph offset -> no cut inside before this offset
    this.flat = new Set(); // top-level blocks laid out whole
    this.rewound = new Map();
  }

  /** The DOM is what a one-shot render of the text would give (tests compare only then). */
  get exact() {
    return !this.pending && !this.unsettled && !this.unstableRefs
      && this.path.every((f) => f.kind !== "fence" || f.stream.exact);
  }

  /** More to lay out on the next frame (a long text arriving at once, a repair). */
  get pending() {
    return this.layoutPending || ((this.unstableRefs || this.unsettled) && !this.final);
  }

  /** The whole text so far; `final`: the text will not grow (its last line is complete). */
  update(text, final = false) {
    if (text === this.raw && final === this.final && !this.layoutPending) return false;
    const parsed0 = parseCount.chars;
    const hl0 = hlCount.chars;
    if (!text.startsWith(this.raw)) this.reset();
    this.appendRaw(text);
    this.final = final;
    this.dropTail();
    let lim = this.budget;
    for (let round = 0; round < 64; round++) {
      const outcome = this.step(lim);
      if (outcome === "rewound") continue;
      if (outcome === "grow") {
        lim *= 2;
        continue;
      }
      break;
    }
    const s = this.stats;
    s.updates++;
    s.lastParsed = parseCount.chars - parsed0;
    s.lastHighlighted = hlCount.chars - hl0;
    s.parsed += s.lastParsed;
    s.highlighted += s.lastHighlighted;
    return true;
  }

  // markdown-it reads "\r\n" and "\r" as "\n"; so do our line cuts.
  appendRaw(text) {
    const add = text.slice(this.raw.length);
    if (!this.sawCR && !add.includes("\r")) {
      this.text = text;
    } else {
      let norm = this.raw.endsWith("\r") && add.startsWith("\n") ? add.slice(1) : add;
      norm = norm.replace(/\r\n?/g, "\n");
      this.text = (this.sawCR ? this.text : this.raw) + norm;
      this.sawCR = true;
    }
    this.raw = text;
  }

  dropTail() {
    for (const n of this.tailNodes) n.remove();
    this.tailNodes = [];
    for (const stream of this.streams) stream.settle();
    this.streams.clear();
  }

  // ---- one parse of the window ---------------------------------------------------------
  step(lim) {
    const text = this.text;
    const co = this.co;
    let end = text.length;
    if (end - co > lim) {
      const nl = text.lastIndexOf("\n", co + lim - 1);
      end = nl >= co ? nl + 1 : text.indexOf("\n", co + lim) + 1 || text.length;
    }
    const truncated = end < text.length;
    const sk = this.skeleton();
    if (!sk) return this.contextFailure();
    const win = text.slice(co, end);
    const starts = [0];
    for (let i = win.indexOf("\n"); i >= 0; i = win.indexOf("\n", i + 1)) starts.push(i + 1);
    const s = sk.lines;
    const K = s + starts.length - 1; // lines before K are complete
    const finalAll = this.final && !truncated;
    const probe = {
      items: new Map(), fences: new Map(), tables: new Map(), newRefs: [], unstable: false,
      stableLines: finalAll ? Infinity : K,
    };
    const env = { references: { ...this.refs }, __lcnb: probe };
    const src = sk.text + win;
    parseCount.chars += src.length;
    const tokens = md.parse(src, env);
    const ctx = {
      tokens, env, probe, s, K, finalAll, truncated, tree: buildTree(tokens),
      abs: (line) => co + starts[Math.min(line - s, starts.length - 1)],
      lineText: (line) => (line < s ? "" : win.slice(starts[line - s], starts[line - s + 1] ?? win.length)),
      junk: new Map(), junkNodes: new Set(), openAt: new Map(), closeAt: new Map(), frameOf: new Map(),
      segs: new Map(),
    };
    if (!this.matchPath(ctx)) return this.contextFailure();

    let rewindAt = Infinity;
    for (const label of probe.newRefs) {
      this.refs[label] = env.references[label];
      rewindAt = Math.min(rewindAt, this.usedAt(label));
    }
    this.unstableRefs = probe.unstable;
    if (rewindAt < Infinity) return this.rewindTo(rewindAt);
    if (this.triggers(ctx)) return "rewound";
    this.overrides(ctx, ctx.tree);

    const cut = this.chooseCut(ctx);
    if (cut) this.commit(ctx, cut);
    if (truncated) {
      if (!cut) return "grow";
      this.layoutPending = true;
      return "more";
    }
    this.layoutPending = false;
    this.drawTail(ctx, cut);
    return "done";
  }

  // The lines that reopen the path (see the top of this file). Openers nest on one line
  // ("> - ```py"), except an indented one right after a list marker: spaces there would
  // widen the item's content column, so it goes on the next line, behind a junk child
  // (`skip`).
  skeleton() {
    if (!this.path.length) return { text: "", lines: 0 };
    const lines = [];
    let cur = "";
    let cont = "";
    const last = this.path.length - 1;
    for (let i = 0; i <= last; i++) {
      const f = this.path[i];
      let open = "";
      if (f.kind === "bq") open = "> ";
      else if (f.kind === "list") open = i === last ? f.prev && itemOpener(f.prev) : "";
      else if (f.kind === "item") open = itemOpener(f.params);
      else if (f.kind === "para") open = "x";
      else if (f.kind === "fence") open = " ".repeat(f.opener.indent) + f.opener.markup + f.opener.info;
      else if (f.kind === "table") open = " ".repeat(f.head.hIndent) + f.head.header;
      if (open === null || open === undefined) return null;
      f.skip = open.startsWith(" ") && i > 0 && this.path[i - 1].kind === "item";
      if (f.skip) {
        lines.push(cur + JUNK);
        cur = cont;
      }
      cur += open;
      if (f.kind === "bq") cont += "> ";
      if (f.kind === "item") cont += " ".repeat(f.params.W);
      if (f.kind === "table") {
        lines.push(cur);
        cur = cont + " ".repeat(f.head.dIndent) + f.head.delim;
      }
      if (i === last && (f.kind === "bq" || f.kind === "item" || f.kind === "list")) cur += JUNK;
    }
    lines.push(cur);
    return { text: `${lines.join("\n")}\n`, lines: lines.length };
  }

  // The skeleton's nodes are the first child at each depth; bind them to the path's frames.
  matchPath(ctx) {
    const { tokens } = ctx;
    let node = ctx.tree;
    for (const f of this.path) {
      if (f.skip) {
        const junk = node.kids[0];
        if (!junk || junk.tok.type !== "hr") return false;
        ctx.junk.set(junk.start, junk.end);
        ctx.junkNodes.add(junk);
      }
      const kid = node.kids[f.skip ? 1 : 0];
      if (!kid || !this.fits(f, kid)) return false;
      f.node = kid;
      ctx.frameOf.set(kid, f);
      ctx.openAt.set(kid.start, f);
      if (f.kind === "bq" || f.kind === "list" || f.kind === "item") ctx.closeAt.set(kid.end, f);
      if (f.kind === "table") this.bindTable(ctx, f, kid, true);
      node = kid;
    }
    const last = this.path[this.path.length - 1];
    if (last && (last.kind === "bq" || last.kind === "item" || last.kind === "list")) {
      const junk = last.node.kids[0];
      const want = last.kind === "list" ? "item" : "leaf";
      if (!junk || junk.type !== want) return false;
      ctx.junk.set(junk.start, junk.end);
      ctx.junkNodes.add(junk);
      // After a tight list's paragraph (a hidden paragraph_close), markdown-it starts the next
      // block on a new line: the junk, never rendered, stands in for that token.
      if (last.kind === "item" && last.lastHidden) {
        const hr = tokens[junk.end];
        tokens[junk.end] = Object.assign(Object.create(Object.getPrototypeOf(hr)), hr, {
          type: "paragraph_close", tag: "p", nesting: -1, hidden: true,
        });
      }
    }
    return true;
  }

  fits(f, node) {
    switch (f.kind) {
      case "bq": return node.type === "blockquote";
      case "list": return node.type === "list" && node.tok.tag === f.tag && node.tok.markup === f.markup;
      case "item": return node.type === "item";
      case "para": return node.type === "paragraph" || node.type === "heading";
      case "fence": return node.type === "fence" && node.tok.markup === f.opener.markup;
      case "table": return node.type === "table";
      default: return false;
    }
  }

  // A table frame's node: its head is the skeleton's (dropped), its body rows are ours.
  bindTable(ctx, f, node, isPath) {
    const { tokens } = ctx;
    ctx.closeAt.set(node.end, f);
    for (let i = node.start + 1; i < node.end; i++) {
      const t = tokens[i];
      if (t.level !== node.level + 1) continue;
      if (isPath && t.type === "thead_open") {
        let j = i + 1;
        while (tokens[j].type !== "thead_close") j++;
        ctx.junk.set(i, j);
        i = j;
      } else if (t.type === "tbody_open" && f.tbody) {
        ctx.openAt.set(i, f.body);
      } else if (t.type === "tbody_close" && f.tbody) {
        ctx.closeAt.set(i, f.body);
      }
    }
  }

  kidsOf(node, ctx) {
    return ctx.junkNodes.size ? node.kids.filter((k) => !ctx.junkNodes.has(k)) : node.kids;
  }

  startOf(node, ctx) {
    const f = ctx.frameOf.get(node);
    return f ? f.start : ctx.abs(node.map[0]);
  }

  itemParams(node, ctx) {
    const rec = ctx.probe.items.get(key(node.map[0], node.level + 1));
    if (!rec) return null;
    return { W: rec.W, marker: (node.tok.info || "") + node.tok.markup };
  }

  // Is this list loose? (markdown-it's rule, from the items' records.) `stable`: only from
  // lines whose place in the structure cannot change any more: an item still open at the end
  // is judged from its settled children only (a later line can move the last ones elsewhere).
  listLoose(node, ctx, stable) {
    let prevEmptyEnd = false;
    let loose = false;
    const kids = node.kids;
    for (let k = 0; k < kids.length; k++) {
      const it = kids[k];
      const settle = stable && !ctx.finalAll;
      if (settle && it.map[0] >= ctx.K) break;
      const rec = ctx.probe.items.get(key(it.map[0], it.level + 1));
      const closed = !settle || (k + 1 < kids.length && kids[k + 1].map[0] < ctx.K);
      const tight = closed ? !rec || rec.tight : !this.itemLooseSettled(it, ctx);
      if (!tight || prevEmptyEnd) loose = true;
      prevEmptyEnd = rec ? rec.end - it.map[0] > 1 && rec.emptyEnd : it.map[1] - it.map[0] > 1;
    }
    return loose;
  }

  // A blank line between two children of an item, the later one on a settled line.
  itemLooseSettled(item, ctx) {
    const kids = item.kids;
    for (let i = 0; i + 1 < kids.length; i++) {
      const next = kids[i + 1];
      if (next.map[0] > ctx.K - 2) break;
      const end = contentEnd(kids[i]);
      if (next.map[0] <= end) continue;
      let blank = true;
      for (let l = end; l < next.map[0] && blank; l++) blank = /^[\s>]*$/.test(ctx.lineText(l));
      if (blank) return true;
    }
    return false;
  }

  paraSegs(ctx, X) {
    let segs = ctx.segs.get(X);
    if (!segs) {
      segs = ctx.tokens[X.start + 1].content.split("\n");
      ctx.segs.set(X, segs);
    }
    return segs;
  }

  // Lines [from, to) of paragraph X as inline source (line l is segment l - X.map[0]).
  paraText(ctx, X, from, to = Infinity) {
    const segs = this.paraSegs(ctx, X);
    return segs.slice(from - X.map[0], to === Infinity ? undefined : to - X.map[0]).join("\n");
  }

  // Inline HTML of a piece of a paragraph. After its first line a piece is parsed behind a
  // junk line "x", so its own first line is read as a continuation line.
  renderPiece(ctx, text, continued, task) {
    const probe = inlineProbe();
    const env = { references: ctx.env.references, __lcnbInline: probe };
    const src = continued ? `x\n${text}` : text;
    parseCount.chars += src.length;
    const [inline] = md.parseInline(src, env);
    const children = continued ? inline.children.slice(2) : inline.children;
    if (task) taskBox(children);
    return { html: md.renderer.renderInline(children, md.options, env), probe };
  }

  // ---- repairs ----------------------------------------------------------------------------
  // Something a later line changed in committed output: rewind (true). A change that rests on
  // the last, unfinished line only waits (`unsettled`): it is applied once the text is final.
  triggers(ctx) {
    this.unsettled = false;
    const settled = ctx.finalAll ? Infinity : ctx.K;
    for (const f of this.path) {
      if (f.kind === "list" && !this.loose.has(f.start)) {
        if (this.listLoose(f.node, ctx, true)) {
          this.loose.add(f.start);
          return this.rewindTo(f.start) === "rewound";
        }
        if (this.listLoose(f.node, ctx, false)) this.unsettled = true;
      }
      if (f.kind !== "para") continue;
      const X = f.node;
      if (X.type === "heading" && X.tok.tag !== f.tag) {
        if (X.map[1] - 1 < settled) {
          this.setext.set(f.start, X.tok.tag);
          return this.rewindTo(f.start) === "rewound";
        }
        this.unsettled = true;
      }
      if (isEmpty(f.open)) continue;
      const to = Math.min(X.map[1], settled);
      const rest = this.paraText(ctx, X, X.map[0] + 1, to);
      if (rest && closesOpen(f.open, rest, this.renderPiece(ctx, rest, true).probe)) {
        this.holds.set(f.start, ctx.abs(to));
        return this.rewindTo(f.start) === "rewound";
      }
      if (to < X.map[1]) {
        const all = this.paraText(ctx, X, X.map[0] + 1);
        if (closesOpen(f.open, all, this.renderPiece(ctx, all, true).probe)) this.unsettled = true;
      }
    }
    return false;
  }

  // What the view knows beyond this parse: loose lists, setext headings.
  overrides(ctx, node) {
    for (const kid of node.kids) {
      if (kid.type === "list" && this.loose.has(this.startOf(kid, ctx))) {
        const { tokens } = ctx;
        for (let i = kid.start; i < kid.end; i++) {
          const t = tokens[i];
          if (t.level === kid.level + 2 && (t.type === "paragraph_open" || t.type === "paragraph_close")) t.hidden = false;
        }
      }
      if (kid.type === "paragraph" && this.setext.size) {
        const tag = this.setext.get(this.startOf(kid, ctx));
        if (tag) {
          for (const i of [kid.start, kid.end]) {
            ctx.tokens[i].tag = tag;
            ctx.tokens[i].hidden = false;
          }
        }
      }
      if (CONTAINERS.has(kid.type)) this.overrides(ctx, kid);
    }
  }

  usedAt(label) {
    const words = label.split(/\s+/).filter(Boolean).map(escapeRe);
    if (!words.length) return Infinity;
    const re = new RegExp(`\\[\\s*${words.join("\\s+")}\\s*\\]`, "iu");
    const m = re.exec(this.text.slice(0, this.co));
    return m ? m.index : Infinity;
  }

  // Lay out again from the top-level block that holds text offset `at`.
  rewindTo(at) {
    this.dropTail();
    const kids = this.el.children;
    let target = null;
    for (let i = kids.length - 1; i >= 0; i--) {
      const mark = this.marks.get(kids[i]);
      if (mark !== undefined && mark <= at) {
        target = kids[i];
        break;
      }
    }
    const from = target ? this.marks.get(target) : 0;
    const times = (this.rewound.get(from) || 0) + 1;
    this.rewound.set(from, times);
    if (times > MAX_REWINDS) this.flat.add(from);
    if (target) {
      while (target.nextSibling) target.nextSibling.remove();
      target.remove();
    } else this.el.replaceChildren();
    this.co = from;
    this.path = [];
    this.openPre = null;
    this.stats.rewinds++;
    return "rewound";
  }

  contextFailure() {
    this.stats.contextFailures++;
    const at = this.path.length ? this.path[0].start : this.co;
    this.flat.add(at);
    return this.rewindTo(at);
  }

  // ---- where to cut -------------------------------------------------------------------------
  chooseCut(ctx) {
    const { tree, K, s } = ctx;
    const chain = [];
    for (let node = tree; CONTAINERS.has(node.type); ) {
      const kids = this.kidsOf(node, ctx);
      if (!kids.length) break;
      node = kids[kids.length - 1];
      chain.push(node);
    }
    ctx.chain = chain;
    if (!chain.length) return null;
    const flat = this.flat.has(this.startOf(chain[0], ctx));
    // inside a list whose looseness rests on unsettled lines, nothing is final yet
    let depthOk = chain.length;
    for (let i = 0; i < chain.length; i++) {
      const n = chain[i];
      if (n.type === "list" && !this.loose.has(this.startOf(n, ctx)) && this.listLoose(n, ctx, false) !== this.listLoose(n, ctx, true)) {
        depthOk = i;
        break;
      }
    }
    const X = chain[chain.length - 1];
    if (!flat && depthOk === chain.length && !CONTAINERS.has(X.type)) {
      const c = this.leafCut(ctx, X);
      if (c) return c;
    }
    const levels = [tree, ...chain.slice(0, flat ? 0 : depthOk).filter((n) => CONTAINERS.has(n.type))];
    for (let i = levels.length - 1; i >= 0; i--) {
      const Q = levels[i];
      const kids = this.kidsOf(Q, ctx);
      for (let j = kids.length - 1; j >= 1; j--) {
        const B = kids[j];
        const A = kids[j - 1];
        // B's first line must be complete (a table's delimiter line too): then A is closed
        if (B.map[0] + (B.type === "table" ? 2 : 1) > K && !ctx.finalAll) continue;
        const L = contentEnd(A);
        if (L < s) continue;
        const prev = Q.type === "list" ? this.itemParams(A, ctx) : null;
        if (Q.type === "list" && !prev) continue;
        return { kind: "sibling", target: Q, cutIdx: B.start, L, prev };
      }
    }
    return null;
  }

  leafCut(ctx, X) {
    const { K, s, tokens } = ctx;
    const f = ctx.frameOf.get(X);
    if (X.type === "paragraph") {
      const a = f ? s : X.map[0];
      // Lines before L are committed, each with the line break after it: L must stay in the
      // paragraph, and whether it does depends on the line after it (a table's delimiter
      // line turns L into a header), so that line must be complete too.
      const L = ctx.finalAll ? X.map[1] - 1 : Math.min(K - 2, X.map[1] - 1);
      if (L <= a) return null;
      const start = this.startOf(X, ctx);
      const hold = this.holds.get(start);
      if (hold !== undefined && ctx.abs(L) < hold) return null;
      const task = !f && tokens[X.start - 1] && tokens[X.start - 1].type === "list_item_open";
      const piece = this.renderPiece(ctx, `${this.paraText(ctx, X, a, L)}\n`, Boolean(f), task);
      const open = union(union(inlineProbe(), f ? f.open : inlineProbe()), piece.probe);
      const rest = this.paraText(ctx, X, L);
      const tail = this.renderPiece(ctx, rest, true);
      if (closesOpen(open, rest, tail.probe)) return null;
      return { kind: "para", target: X, cutIdx: X.start, L, piece, open, tail };
    }
    if (X.type === "fence") {
      const rec = ctx.probe.fences.get(key(X.map[0], X.level));
      if (!rec) return null;
      const end = X.map[1] - (rec.closed ? 1 : 0);
      let L = ctx.finalAll ? end : Math.min(K, end);
      const a = X.map[0] + 1;
      // blank lines at the end stay in the window: an enclosing list item that ends with
      // one is what makes its list loose
      while (L > Math.max(a, s) && /^[\s>]*$/.test(ctx.lineText(L - 1))) L--;
      if (f ? L <= s : L < a) return null;
      return { kind: "fence", target: X, cutIdx: X.start, L };
    }
    if (X.type === "table") {
      const L = ctx.finalAll ? X.map[1] : Math.min(K, X.map[1]);
      if (f ? L <= s : L < X.map[0] + 2) return null;
      let cutIdx = X.end;
      for (let i = X.start + 1; i < X.end; i++) {
        const t = tokens[i];
        if ((t.type === "tr_open" && t.map[0] >= L && t.level === X.level + 2) || t.type === "tbody_close") {
          cutIdx = i;
          break;
        }
      }
      if (tokens[cutIdx - 1].type === "tbody_open") cutIdx--; // no empty body committed
      return { kind: "table", target: X, cutIdx, L };
    }
    return null;
  }

  // ---- rendering into the DOM ----------------------------------------------------------------
  sinkOf(f) {
    return { frame: f, el: f.el, wrap: f.wrap, html: "", opens: [], last: -1 };
  }

  rootSink() {
    return { frame: null, el: this.el, wrap: [], html: "", opens: [], last: -1, root: true, marks: [] };
  }

  emit(ctx, sink, i) {
    const t = ctx.tokens[i];
    sink.html += renderOne(ctx.tokens, i, ctx.env);
    if (!t.hidden) {
      if (t.nesting === 1) sink.opens.push(t.tag);
      else if (t.nesting === -1) sink.opens.pop();
    }
    if (sink.root && t.block && t.level === 0 && t.nesting !== -1 && t.map) sink.marks.push(ctx.abs(t.map[0]));
    sink.last = i;
  }

  // Walk tokens [from, to): each goes to the innermost open frame's sink (or is the skeleton's).
  walk(ctx, from, to, stack, phase, cut, touched) {
    const { tokens } = ctx;
    for (let i = from; i < to; i++) {
      const j = ctx.junk.get(i);
      if (j !== undefined) {
        i = j;
        continue;
      }
      const f = ctx.openAt.get(i);
      if (f && (f.kind === "para" || f.kind === "fence")) {
        i = this.leaf(ctx, f, stack, phase, cut, touched);
        continue;
      }
      if (f) {
        const sink = this.sinkOf(f);
        stack.push(sink);
        touched.push(sink);
        continue;
      }
      const g = ctx.closeAt.get(i);
      if (g && stack.length > 1 && stack[stack.length - 1].frame === g) {
        // a table body in the DOM but not in this window: its closing newline
        if (g.kind === "table" && g.tbody && !ctx.bodyClosed) stack[stack.length - 1].html += "\n";
        if (g.kind === "tbody") ctx.bodyClosed = true;
        stack.pop();
        const parent = stack[stack.length - 1];
        parent.html += closeRest(tokens, i, ctx.env);
        parent.last = i;
        if (phase === "commit") g.closed = true;
        continue;
      }
      if (phase === "tail" && ctx.chainFence && i === ctx.chainFence.start) ctx.openSink = stack[stack.length - 1];
      this.emit(ctx, stack[stack.length - 1], i);
    }
  }

  // A paragraph or fence that is a frame: its lines in this window (from the cut, in a split).
  leaf(ctx, f, stack, phase, cut, touched) {
    const X = f.node;
    const parent = stack[stack.length - 1];
    const split = cut && cut.target === X;
    const from = phase === "tail" && split ? cut.L : X.map[0] + 1;
    if (f.kind === "para") {
      // a tight list's paragraph has no element: it writes into its item, in order
      let sink = parent;
      if (f.el !== parent.el) {
        sink = this.sinkOf(f);
        touched.push(sink);
      }
      if (phase === "commit" && split) {
        sink.html += cut.piece.html;
        f.open = cut.open;
        return ctx.tokens.length; // the cut: nothing after it is committed
      }
      const piece = phase === "tail" && split ? cut.tail : this.renderPiece(ctx, this.paraText(ctx, X, from), true);
      sink.html += piece.html;
    } else {
      const content = this.fenceLines(ctx, X, from, phase === "commit" && split ? cut.L : Infinity);
      if (phase === "commit" && split) {
        f.stream.commitLines(content);
        return ctx.tokens.length;
      }
      if (phase === "commit") f.stream.finish(content);
      else {
        const rec = ctx.probe.fences.get(key(X.map[0], X.level));
        f.stream.tail(content, ctx.finalAll || (rec && rec.closed));
        this.streams.add(f.stream);
        if (ctx.chainFence === X && !ctx.probe.fences.get(key(X.map[0], X.level)).closed) ctx.openPre = f.pre;
      }
    }
    parent.html += f.kind === "para" ? closeRest(ctx.tokens, X.end, ctx.env) : "\n";
    parent.last = X.end;
    if (phase === "commit") f.closed = true;
    return X.end;
  }

  // Code lines [from, to) of fence X (line l is content line l - X.map[0] - 1).
  fenceLines(ctx, X, from, to) {
    const content = ctx.tokens[X.start].content;
    const a = afterLines(content, from - X.map[0] - 1);
    const b = to === Infinity ? content.length : afterLines(content, to - X.map[0] - 1);
    return content.slice(a, b);
  }

  flush(sinks, phase) {
    const seen = new Set();
    for (const sink of sinks) {
      if (seen.has(sink) || (!sink.html && !sink.opens.length)) continue;
      seen.add(sink);
      const close = sink.opens.map((t) => `</${t}>`).reverse().join("");
      const nodes = sanitize(sink.html + close, sink.wrap);
      sink.el.append(...nodes);
      sink.nodes = nodes;
      if (phase === "tail") this.tailNodes.push(...nodes);
      else if (sink.root) {
        const els = nodes.filter((n) => n.nodeType === 1);
        els.forEach((el, i) => {
          if (i < sink.marks.length) this.marks.set(el, sink.marks[i]);
        });
      }
      sink.html = "";
    }
  }

  commit(ctx, cut) {
    const { tokens } = ctx;
    const root = this.rootSink();
    const stack = [root];
    const touched = [root];
    this.walk(ctx, 0, cut.cutIdx, stack, "commit", cut, touched);
    const top = stack[stack.length - 1];
    const X = cut.target;
    const xFrame = ctx.frameOf.get(X);
    if (cut.kind === "para" || cut.kind === "fence") {
      if (xFrame) this.leaf(ctx, xFrame, stack, "commit", cut, touched);
      else if (cut.kind === "para") {
        this.emit(ctx, top, X.start); // <p> (or nothing, in a tight list)
        top.html += cut.piece.html;
      } else {
        const t = tokens[X.start];
        const shell = Object.assign(Object.create(Object.getPrototypeOf(t)), t, { content: "" });
        top.html += md.renderer.rules.fence([shell], 0, md.options, ctx.env, md.renderer).replace(/\n$/, "");
        if (top.root) top.marks.push(ctx.abs(X.map[0]));
      }
    }
    this.flush(touched, "commit");

    // frames: those still open, then the new containers down to the cut
    const kept = this.path.filter((f) => !f.closed);
    for (const sink of touched) {
      const f = sink.frame;
      if (f && f.kind === "item" && sink.last >= 0) {
        const t = tokens[sink.last];
        f.lastHidden = t.type === "paragraph_close" && t.hidden;
      }
      if (f && f.kind === "table" && !f.tbody) {
        this.findBody(f);
        if (f.tbody) this.bindTable(ctx, f, f.node, true);
      }
    }
    const chain = ctx.chain;
    const upto = X.type === "root" ? 0 : chain.indexOf(X) + 1;
    const fresh = chain.slice(0, upto).filter((n) => !ctx.frameOf.has(n));
    let parent = kept.length ? kept[kept.length - 1] : null;
    const frames = [...kept];
    for (let i = 0; i < fresh.length; i++) {
      const n = fresh[i];
      const next = fresh[i + 1];
      const f = this.newFrame(ctx, n, parent, next ? next.start : cut.cutIdx, cut);
      if (!f) break; // cannot happen; stay correct: cut above it next time
      frames.push(f);
      parent = f;
    }
    if (cut.kind === "sibling" && X.type === "list") ctx.frameOf.get(X).prev = cut.prev;
    this.path = frames;
    this.co = ctx.abs(cut.L);
  }

  findBody(f) {
    const last = f.el.lastElementChild;
    if (last && last.tagName === "TBODY") {
      f.tbody = last;
      f.body = { kind: "tbody", el: last, wrap: [...f.wrap, "tbody"] };
    }
  }

  newFrame(ctx, n, parent, nextStart, cut) {
    const { tokens } = ctx;
    const host = parent ? (parent.kind === "table" && parent.tbody ? parent.tbody : parent.el) : this.el;
    const wrap = parent ? parent.wrap : [];
    const start = ctx.abs(n.map[0]);
    let f;
    const el = host.lastElementChild;
    if (n.type === "blockquote" || n.type === "list" || n.type === "item") {
      if (!el || el.tagName.toLowerCase() !== n.tok.tag) return null;
      if (n.type === "blockquote") f = { kind: "bq", el, wrap: [...wrap, "blockquote"] };
      else if (n.type === "list") {
        f = { kind: "list", el, wrap: [...wrap, n.tok.tag], tag: n.tok.tag, markup: n.tok.markup };
        if (this.listLoose(n, ctx, true)) this.loose.add(start);
      } else {
        const prev = tokens[nextStart - 1];
        f = {
          kind: "item", el, wrap: [...wrap, "li"], params: this.itemParams(n, ctx),
          lastHidden: prev.type === "paragraph_close" && prev.hidden,
        };
        if (!f.params) return null;
      }
    } else if (n.type === "paragraph") {
      const t = tokens[n.start];
      const pel = t.hidden ? host : el;
      f = { kind: "para", el: pel, wrap: t.hidden ? wrap : [...wrap, t.tag], tag: t.tag, open: cut.open };
    } else if (n.type === "fence") {
      const rec = ctx.probe.fences.get(key(n.map[0], n.level));
      const code = el && el.lastElementChild;
      if (!code || !rec) return null;
      const t = tokens[n.start];
      f = {
        kind: "fence", pre: el, el: code, wrap: [...wrap, "pre", "code"],
        opener: { indent: rec.indent, markup: t.markup, info: t.info },
        stream: new CodeStream(code, languageOf(md.utils.unescapeAll(t.info))),
      };
      ctx.openAt.set(n.start, f);
    } else if (n.type === "table") {
      const rec = ctx.probe.tables.get(key(n.map[0], n.level));
      if (!el || el.tagName !== "TABLE" || !rec) return null;
      f = { kind: "table", el, wrap: [...wrap, "table"], head: rec, tbody: null };
      this.findBody(f);
    } else return null;
    f.node = n;
    f.start = start;
    ctx.frameOf.set(n, f);
    if (f.kind === "para" || f.kind === "fence") ctx.openAt.set(n.start, f);
    else if (f.kind === "table") this.bindTable(ctx, f, n, false);
    else ctx.closeAt.set(n.end, f);
    if (f.kind === "fence") f.stream.commitLines(this.fenceLines(ctx, n, n.map[0] + 1, cut.L));
    return f;
  }

  drawTail(ctx, cut) {
    const stack = [this.rootSink()];
    if (cut) {
      for (const f of this.path) {
        if (f.kind === "para" || f.kind === "fence") continue;
        stack.push(this.sinkOf(f));
        if (f.kind === "table" && f.tbody) stack.push(this.sinkOf(f.body));
      }
    }
    const touched = [...stack];
    const chain = ctx.chain || [];
    const last = chain[chain.length - 1];
    const rec = last && last.type === "fence" && ctx.probe.fences.get(key(last.map[0], last.level));
    ctx.chainFence = rec && !rec.closed ? last : null;
    ctx.openPre = null;
    ctx.openSink = null;
    this.walk(ctx, cut ? cut.cutIdx : 0, ctx.tokens.length, stack, "tail", cut, touched);
    this.flush(touched, "tail");
    let pre = ctx.openPre;
    if (!pre && ctx.openSink && ctx.openSink.nodes) {
      const els = ctx.openSink.nodes.filter((n) => n.nodeType === 1);
      const lastEl = els[els.length - 1];
      if (lastEl) pre = lastEl.tagName === "PRE" ? lastEl : [...lastEl.querySelectorAll("pre")].pop();
    }
    if (this.openPre && this.openPre !== pre) this.openPre.classList.remove("lcnb-code-open");
    if (pre) pre.classList.add("lcnb-code-open");
    this.openPre = pre || null;
  }
}
