// The page side of the streaming renderer's tests (tests/browser/test_markdown_stream.py):
// a static page imports the built bundle(s) and this module; Python drives it through
// window.lcnbMd. Counts come from the renderer's own counters (characters parsed and
// highlighted per update); equality compares the view's DOM with a one-shot render.

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

// The view's HTML without the in-progress marker of an unclosed fence (a one-shot render of
// the same text has no notion of "in progress").
function viewHTML(el) {
  const copy = el.cloneNode(true);
  for (const pre of copy.querySelectorAll(".lcnb-code-open")) pre.classList.remove("lcnb-code-open");
  return copy.innerHTML;
}

function firstDiff(a, b) {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return { at: i, view: a.slice(Math.max(0, i - 160), i + 160), want: b.slice(Math.max(0, i - 160), i + 160) };
}

export function install(bundles) {
  const oneShot = (mod, text) => {
    const box = document.createElement("div");
    box.append(mod.renderFragment(text));
    return box.innerHTML;
  };
  // Lay out everything the view still has pending (a long text arriving at once, a repair).
  const drain = (view, text, final) => {
    for (let n = 0; view.layoutPending && n < 100000; n++) view.update(text, final);
  };

  window.lcnbMd = {
    mods: bundles,

    /**
     * Stream `text` in random increments of minStep..maxStep characters into a new view;
     * per update: [length, chars parsed, chars highlighted]. Compares with a one-shot render
     * at `checkAt` lengths (and every `checkEvery` updates), and at the end.
     */
    stream(text, opts = {}) {
      const { bundle = "new", seed = 1, minStep = 1, maxStep = 40, checkEvery = 0, checkAt = [], budget } = opts;
      const mod = bundles[bundle];
      const el = document.createElement("div");
      el.className = "lcnb-md";
      document.body.append(el);
      const view = new mod.MarkdownView(el);
      if (budget) view.budget = budget;
      const next = rng(seed);
      const want = new Set(checkAt);
      const rows = [];
      const checks = [];
      const diffs = [];
      let pos = 0;
      let k = 0;
      // `exact`: the view says its DOM is final for this text (not waiting for the text's end,
      // a repair, or a throttled code block); at checkAt lengths it must be.
      const check = (sub) => {
        const a = viewHTML(el);
        const b = oneShot(mod, sub);
        checks.push([sub.length, view.exact]);
        if (a !== b && diffs.length < 3) diffs.push({ len: sub.length, exact: view.exact, ...firstDiff(a, b) });
      };
      const stops = [...want].filter((p) => p > 0 && p <= text.length);
      while (pos < text.length) {
        let to = Math.min(text.length, pos + minStep + Math.floor(next() * (maxStep - minStep + 1)));
        const stop = stops.find((p) => p > pos && p < to);
        if (stop) to = stop;
        pos = to;
        const sub = text.slice(0, pos);
        view.update(sub, false);
        drain(view, sub, false);
        rows.push([pos, view.stats.lastParsed, view.stats.lastHighlighted]);
        k++;
        if (want.has(pos) || (checkEvery && k % checkEvery === 0 && view.exact)) check(sub);
      }
      view.update(text, true);
      drain(view, text, true);
      check(text);
      const out = { rows, checks, diffs, stats: { ...view.stats }, pending: view.pending, html: el.innerHTML };
      el.remove();
      return out;
    },

    /** A long text arriving at once: updates until nothing is pending; parsed per update. */
    atOnce(text, opts = {}) {
      const mod = bundles[opts.bundle || "new"];
      const el = document.createElement("div");
      document.body.append(el);
      const view = new mod.MarkdownView(el);
      const parsed = [];
      view.update(text, true);
      parsed.push(view.stats.lastParsed);
      while (view.pending && parsed.length < 100000) {
        view.update(text, true);
        parsed.push(view.stats.lastParsed);
      }
      const equal = viewHTML(el) === oneShot(mod, text);
      el.remove();
      return { parsed, equal };
    },

    /** The hostile corpus: rendered, streamed, and what ended up in the DOM. */
    inert(text, opts = {}) {
      const r = this.stream(text, { ...opts, checkEvery: 0 });
      const box = document.createElement("div");
      box.innerHTML = r.html;
      const tags = [...box.querySelectorAll("*")].map((e) => e.tagName.toLowerCase());
      const attrs = [...box.querySelectorAll("*")].flatMap((e) => [...e.attributes].map((a) => a.name));
      const hrefs = [...box.querySelectorAll("a")].map((a) => a.getAttribute("href"));
      const classes = [...box.querySelectorAll("[class]")].flatMap((e) => [...e.classList]);
      return { ...r, tags: [...new Set(tags)], attrs: [...new Set(attrs)], hrefs, classes: [...new Set(classes)], text: box.textContent };
    },

    /**
     * Control for the benchmark, Blink's own cost: the body rows of the table in `text`
     * appended to a plain <table> (kind "table"), or its lines to one plain <p> (kind
     * "paragraph"), over `frames` animation frames: no Markdown, no sanitizing.
     */
    control(kind, text, frames) {
      const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
      const lines = text.split("\n").filter(Boolean);
      const parts =
        kind === "table"
          ? lines.filter((l) => l.startsWith("|")).slice(2)
              .map((l) => `<tr>${l.split("|").slice(1, -1).map((c) => `<td>${esc(c.trim())}</td>`).join("")}</tr>\n`)
          : lines.map((l) => `${esc(l)}\n`);
      const el = document.createElement("div");
      el.className = "lcnb-md";
      el.innerHTML = kind === "table" ? "<table><thead><tr><th>#</th><th>name</th><th>value</th><th>ok</th></tr></thead><tbody></tbody></table>" : "<p></p>";
      document.body.append(el);
      const target = el.querySelector(kind === "table" ? "tbody" : "p");
      const longtasks = [];
      const obs = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) longtasks.push(e.duration);
      });
      obs.observe({ entryTypes: ["longtask"] });
      const per = Math.max(1, Math.ceil(parts.length / frames));
      return new Promise((done) => {
        let i = 0;
        const frame = () => {
          const t = document.createElement("template");
          t.innerHTML = parts.slice(i, i + per).join("");
          target.append(t.content);
          i += per;
          if (i < parts.length) requestAnimationFrame(frame);
          else
            setTimeout(() => {
              obs.disconnect();
              el.remove();
              done({ parts: parts.length, frames: Math.ceil(parts.length / per), longtasks: longtasks.length,
                longest_task_ms: Math.round(Math.max(0, ...longtasks)) });
            }, 200);
        };
        requestAnimationFrame(frame);
      });
    },

    /**
     * Benchmark: feed `cuts` (text lengths) one update per animation frame into a view of
     * `bundle` in a visible panel; per-update render time (the update call) and the long
     * tasks (> 50 ms) the page saw meanwhile.
     */
    bench(text, cuts, opts = {}) {
      const mod = bundles[opts.bundle || "new"];
      const el = document.createElement("div");
      el.className = "lcnb-md";
      el.style.maxHeight = "32em";
      el.style.overflow = "auto";
      if (opts.hidden) el.style.display = "none";
      document.body.append(el);
      const view = new mod.MarkdownView(el);
      const times = [];
      const longtasks = [];
      const obs = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) longtasks.push(e.duration);
      });
      obs.observe({ entryTypes: ["longtask"] });
      return new Promise((done) => {
        let i = 0;
        const frame = () => {
          const sub = text.slice(0, cuts[i]);
          const t0 = performance.now();
          view.update(sub, i === cuts.length - 1);
          times.push([cuts[i], performance.now() - t0]);
          // the new view may wait for the final text (`pending`); layout is what repeats
          if (!("layoutPending" in view ? view.layoutPending : view.pending)) i++;
          if (i < cuts.length) requestAnimationFrame(frame);
          else
            setTimeout(() => {
              obs.disconnect();
              el.remove();
              done({ times, longtasks });
            }, 200);
        };
        requestAnimationFrame(frame);
      });
    },
  };
}
