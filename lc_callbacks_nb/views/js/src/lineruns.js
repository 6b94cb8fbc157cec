// A long code block as runs of lines: <code> holds <span class="lcnb-lines"> blocks of about
// LINES lines each (CSS: display: block). Why: Blink lays out the text of one block element as
// a whole; appending a line to a 7,500-line <pre> cost 150-300 ms per frame (measured), while
// in runs only the last run is laid out again. The runs change neither the text (copy,
// selection) nor the height. The rule depends only on the code's content, so a one-shot render
// and a streamed one split at the same places: a run ends after the first newline outside
// any highlight span once it holds LINES newlines; a block with fewer lines has no runs.
export const LINES = 64;

function countNewlines(text) {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

export class LineRuns {
  constructor(code) {
    this.code = code;
    this.runs = false; // split into runs yet?
    this.cur = null; // the run being filled (null: start one with the next node)
    this.count = 0; // newlines in the current run (or so far, before the first run)
    this.marks = []; // open marks, innermost last (see mark())
  }

  /** Append top-level nodes (text and highlight spans) in order. */
  append(nodes) {
    for (const node of nodes) {
      if (node.nodeType !== 3) {
        this.put(node);
        this.count += countNewlines(node.textContent);
        continue;
      }
      let text = node;
      for (;;) {
        const data = text.data;
        let at = -1;
        let n = this.count;
        for (let i = data.indexOf("\n"); i >= 0; i = data.indexOf("\n", i + 1)) {
          if (++n >= LINES) {
            at = i + 1;
            break;
          }
        }
        if (at < 0) {
          this.put(text);
          this.count = n;
          break;
        }
        const rest = at < data.length ? text.splitText(at) : null;
        this.put(text);
        this.endRun();
        if (!rest) break;
        text = rest;
      }
    }
  }

  put(node) {
    const mark = this.marks[this.marks.length - 1];
    if (this.runs && !this.cur) {
      this.cur = document.createElement("span");
      this.cur.className = "lcnb-lines";
      this.code.append(this.cur);
      if (mark) mark.created.push(this.cur);
    }
    (this.cur || this.code).append(node);
    if (mark) mark.nodes.push(node);
  }

  endRun() {
    if (!this.runs) {
      // the first run: everything so far
      const first = document.createElement("span");
      first.className = "lcnb-lines";
      first.append(...this.code.childNodes);
      this.code.append(first);
      this.runs = true;
      const mark = this.marks[this.marks.length - 1];
      if (mark) mark.wrapped = first;
    }
    this.cur = null;
    this.count = 0;
  }

  /** What is appended from now on can be taken back with `rollback(mark)`. */
  mark() {
    const m = { runs: this.runs, cur: this.cur, count: this.count, nodes: [], created: [], wrapped: null };
    this.marks.push(m);
    return m;
  }

  /** Remove what was appended since `mark` (and since any later mark) and restore the runs. */
  rollback(mark) {
    while (this.marks.length) {
      const m = this.marks.pop();
      for (const node of m.nodes) node.remove();
      for (const run of m.created) run.remove();
      if (m.wrapped) m.wrapped.replaceWith(...m.wrapped.childNodes);
      this.runs = m.runs;
      this.cur = m.cur;
      this.count = m.count;
      if (m === mark) return;
    }
  }
}

/** Split a rendered code block's <code> into runs (the one-shot side of the rule). */
export function splitRuns(code) {
  if (countNewlines(code.textContent) < LINES) return;
  const nodes = [...code.childNodes];
  code.replaceChildren();
  new LineRuns(code).append(nodes);
}
