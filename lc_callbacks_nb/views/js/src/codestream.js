// The code of one fenced block, highlighted as it streams into its <code> element.
//
// Complete lines arrive once (`commitLines`) and wait in `pending` until part of them can be
// *checkpointed*: highlighted once and appended for good. A checkpoint is a line start where
// highlight.js's lexer is back at the language's top level and where highlighting the code
// before and after it separately gives the same HTML as highlighting both at once (checked
// against at least two later lines with text: a rule may match across a line end, e.g. JS's
// `>\s*` "value" mode or Markdown's setext headings). So each update highlights only the
// lines since the last checkpoint, plus the open tail. Checkpoints can be far apart (a long
// string or comment, JSX awaiting its closing tag): past LIMIT characters the pending lines
// are re-highlighted only each time they have grown by half (newer lines show as plain text
// meanwhile), which keeps the total work linear.
import { highlightChunk } from "./highlight.js";
import { LineRuns } from "./lineruns.js";
import { sanitize } from "./render.js";

const LIMIT = 4000;
const WRAP = ["pre", "code"];

// The last line start in `code` that leaves two later lines, one of them with text.
function checkpoint(code) {
  let at = code.length;
  let lines = 0;
  let text = false;
  while (at > 0) {
    const nl = code.lastIndexOf("\n", at - 2);
    const start = nl + 1;
    if (/\S/.test(code.slice(start, at))) text = true;
    lines++;
    at = start;
    if (lines >= 2 && text) return at;
    if (nl < 0) return -1;
  }
  return -1;
}

export class CodeStream {
  constructor(code, lang) {
    this.runs = new LineRuns(code);
    this.lang = lang; // "" for plain text
    this.pending = "";
    this.tried = 0;
    this.shown = null; // mark of the nodes showing a throttled `pending`
    this.drawn = null; // mark of the open tail drawn by `tail`
  }

  /** The code is shown as it will end up (false while throttled). */
  get exact() {
    return !this.shown;
  }

  put(html, text) {
    this.runs.append(html === null ? [document.createTextNode(text)] : sanitize(html, WRAP));
  }

  highlight(text) {
    return highlightChunk(text, this.lang);
  }

  /** Take back the tail drawn by the last update. */
  settle() {
    if (this.drawn) this.runs.rollback(this.drawn);
    this.drawn = null;
  }

  dropShown() {
    this.settle();
    if (this.shown) this.runs.rollback(this.shown);
    this.shown = null;
  }

  /** Complete lines (each ends with "\n") that belong to the block for good. */
  commitLines(text) {
    this.settle();
    if (!text) return;
    if (!this.lang) {
      this.put(null, text);
      return;
    }
    this.pending += text;
    if (this.shown && this.pending.length < this.tried * 1.5) {
      this.put(null, text); // plain until the next try (inside the `shown` mark)
      return;
    }
    this.tried = this.pending.length;
    let whole = this.highlight(this.pending);
    const at = checkpoint(this.pending);
    if (at > 0 && !whole.hazard) {
      const head = this.highlight(this.pending.slice(0, at));
      const rest = this.pending.slice(at);
      const tail = this.highlight(rest);
      if (head.atRoot && !head.hazard && head.html + tail.html === whole.html) {
        this.dropShown();
        this.put(head.html, this.pending.slice(0, at));
        this.pending = rest;
        this.tried = 0;
        whole = tail;
      }
    }
    this.dropShown();
    if (this.pending.length > LIMIT) {
      this.shown = this.runs.mark();
      this.put(whole.html, this.pending);
    }
  }

  /** The block closed: the rest of its code, highlighted with what is pending. */
  finish(text) {
    this.settle();
    if (!this.lang) {
      if (text) this.put(null, text);
      return;
    }
    const all = this.pending + text;
    this.dropShown();
    this.pending = "";
    this.tried = 0;
    if (all) this.put(this.highlight(all).html, all);
  }

  /**
   * The open end of the block, drawn until the next update (`settle` takes it back).
   * `complete`: no code will follow (the block closed, or the text is final): drawn exactly.
   */
  tail(text, complete = false) {
    this.settle();
    if (complete && this.shown) {
      this.runs.rollback(this.shown);
      this.shown = null;
      this.tried = 0;
    }
    this.drawn = this.runs.mark();
    if (!this.lang || this.shown) {
      if (text) this.put(null, text);
      return;
    }
    const all = this.pending + text;
    if (all) this.put(this.highlight(all).html, all);
  }
}
