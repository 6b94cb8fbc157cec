// What the streaming renderer needs to know from markdown-it's own parse, recorded while it
// parses (only when the parse's env asks for it: the one-shot render is untouched):
//
// block (env.__lcnb): per list item its content column and tightness (the list's tightness is
//   decided from these, as markdown-it's list rule does), per fence its indent and whether it
//   closed, per table its header and delimiter lines, the reference labels it defined (those
//   on lines that may still change are withheld from the parse);
// inline (env.__lcnbInline): what is still open at the end of a piece of a paragraph, so a
//   later line could change it (an unmatched backtick run, an emphasis opener, a link whose
//   label or destination ran into the end), and which closers found no opener.

function wrapRule(ruler, name, wrap) {
  const rule = ruler.__rules__.find((r) => r.name === name);
  ruler.at(name, wrap(rule.fn), { alt: rule.alt });
}

const key = (line, level) => `${line}:${level}`;
const isWs = (code) => code === 0x20 || code === 0x09 || code === 0x0a;

function installBlockProbes(md) {
  const block = md.block;
  const tokenize = block.tokenize;
  block.tokenize = function (state, startLine, endLine) {
    const probe = state.env.__lcnb;
    const level = state.level;
    tokenize.call(this, state, startLine, endLine);
    if (probe && state.parentType === "list") {
      probe.items.set(key(startLine, level), {
        W: state.blkIndent - state.listIndent,
        tight: state.tight,
        end: state.line,
        emptyEnd: state.isEmpty(state.line - 1),
      });
    }
  };

  wrapRule(block.ruler, "fence", (fence) => (state, startLine, endLine, silent) => {
    const probe = state.env.__lcnb;
    if (!probe || silent) return fence(state, startLine, endLine, silent);
    const indent = state.sCount[startLine] - state.blkIndent;
    const ok = fence(state, startLine, endLine, silent);
    if (ok) {
      const tok = state.tokens[state.tokens.length - 1];
      const last = state.line - 1;
      let closed = false;
      if (last > startLine && state.sCount[last] - state.blkIndent < 4) {
        const text = state.src.slice(state.bMarks[last] + state.tShift[last], state.eMarks[last]);
        const m = /^(`+|~+)[ \t]*$/.exec(text);
        closed = Boolean(m && m[1][0] === tok.markup[0] && m[1].length >= tok.markup.length);
      }
      probe.fences.set(key(startLine, state.level), { indent, closed });
    }
    return ok;
  });

  wrapRule(block.ruler, "table", (table) => (state, startLine, endLine, silent) => {
    const probe = state.env.__lcnb;
    if (!probe || silent || startLine + 1 >= endLine) return table(state, startLine, endLine, silent);
    const line = (l) => state.src.slice(state.bMarks[l] + state.tShift[l], state.eMarks[l]);
    const rec = {
      header: line(startLine),
      delim: line(startLine + 1),
      hIndent: state.sCount[startLine] - state.blkIndent,
      dIndent: state.sCount[startLine + 1] - state.blkIndent,
    };
    const ok = table(state, startLine, endLine, silent);
    if (ok) probe.tables.set(key(startLine, state.level), rec);
    return ok;
  });

  wrapRule(block.ruler, "reference", (reference) => (state, startLine, endLine, silent) => {
    const probe = state.env.__lcnb;
    if (!probe || silent) return reference(state, startLine, endLine, silent);
    const before = state.env.references ? Object.keys(state.env.references).length : 0;
    const ok = reference(state, startLine, endLine, silent);
    if (ok && state.env.references) {
      const labels = Object.keys(state.env.references);
      if (labels.length > before) {
        const label = labels[labels.length - 1];
        // defined up to a line that may still grow (or get a title below): not yet
        if (state.line >= probe.stableLines) {
          delete state.env.references[label];
          probe.unstable = true;
        } else probe.newRefs.push(label);
      }
    }
    return ok;
  });
}

// parseLinkLabel, also saying whether it failed by running into the end of the input.
function labelEnd(state, start, disableNested) {
  const max = state.posMax;
  const oldPos = state.pos;
  state.pos = start + 1;
  let level = 1;
  let end = -1;
  let reached = true;
  while (state.pos < max) {
    const marker = state.src.charCodeAt(state.pos);
    if (marker === 0x5d && --level === 0) {
      end = state.pos;
      reached = false;
      break;
    }
    const prev = state.pos;
    state.md.inline.skipToken(state);
    if (marker === 0x5b) {
      if (prev === state.pos - 1) level++;
      else if (disableNested) {
        reached = false;
        break;
      }
    }
  }
  state.pos = oldPos;
  return { end, reached };
}

// Did a failed link or image at `start` fail only because the input ended? (link.ts / image.ts)
function linkCouldGrow(state, start, isImage) {
  const src = state.src;
  const max = state.posMax;
  const { md } = state;
  const label = labelEnd(state, start + (isImage ? 1 : 0), !isImage);
  if (label.end < 0) return label.reached ? "label" : null;
  let pos = label.end + 1;
  if (pos < max && src.charCodeAt(pos) === 0x28) {
    pos++;
    while (pos < max && isWs(src.charCodeAt(pos))) pos++;
    if (pos >= max) return "paren";
    const dest = md.helpers.parseLinkDestination(src, pos, max);
    if (dest.ok) {
      if (md.validateLink(md.normalizeLink(dest.str))) pos = dest.pos;
      const start2 = pos;
      while (pos < max && isWs(src.charCodeAt(pos))) pos++;
      if (pos >= max) return "paren";
      const title = md.helpers.parseLinkTitle(src, pos, max);
      if (start2 !== pos && title.can_continue) return "paren";
      if (start2 !== pos && title.ok) {
        pos = title.pos;
        while (pos < max && isWs(src.charCodeAt(pos))) pos++;
        if (pos >= max) return "paren";
      }
    } else if (src.charCodeAt(pos) === 0x3c && src.indexOf(">", pos) < 0 && src.indexOf("\n", pos) < 0) {
      return "paren";
    }
    if (src.charCodeAt(pos) === 0x29) return null;
    pos++;
  }
  if (pos < max && src.charCodeAt(pos) === 0x5b) {
    const ref = labelEnd(state, pos, false);
    if (ref.end < 0 && ref.reached) return "label";
  }
  return null;
}

function installInlineProbes(md) {
  const inline = md.inline;
  wrapRule(inline.ruler, "backticks", (backticks) => (state, silent) => {
    const probe = state.env.__lcnbInline;
    if (!probe || silent) return backticks(state, silent);
    const start = state.pos;
    const n = state.tokens.length;
    const ok = backticks(state, silent);
    if (ok && state.tokens.length === n) probe.ticks.add(state.pos - start); // no code span: literal
    return ok;
  });
  for (const [name, isImage] of [["link", false], ["image", true]]) {
    wrapRule(inline.ruler, name, (rule) => (state, silent) => {
      const probe = state.env.__lcnbInline;
      const start = state.pos;
      const ok = rule(state, silent);
      if (!ok && !silent && probe && state.linkLevel === 0) {
        const grow = linkCouldGrow(state, start, isImage);
        if (grow) probe[grow] = true;
      }
      return ok;
    });
  }
  // Before delimiters are paired (balance_pairs clears `close` on a matched opener): which
  // could close. After: openers left open, and would-be closers that closed nothing (in the
  // whole paragraph such a closer looks back past this piece's start).
  inline.ruler2.before("balance_pairs", "lcnb_probe_closers", (state) => {
    const probe = state.env.__lcnbInline;
    if (probe) probe.canClose = state.delimiters.map((d) => d.close);
  });
  inline.ruler2.push("lcnb_probe", (state) => {
    const probe = state.env.__lcnbInline;
    if (!probe) return;
    const ds = state.delimiters;
    const matched = new Set();
    for (const d of ds) if (d.end >= 0) matched.add(d.end);
    ds.forEach((d, i) => {
      const m = String.fromCharCode(d.marker);
      if (d.open && d.end < 0) probe.opens.add(m);
      if (probe.canClose[i] && !matched.has(i)) probe.closes.add(m);
    });
  });
}

export function installProbes(md) {
  installBlockProbes(md);
  installInlineProbes(md);
}

/** A fresh inline probe (see above). */
export function inlineProbe() {
  return { ticks: new Set(), opens: new Set(), closes: new Set(), label: false, paren: false };
}
