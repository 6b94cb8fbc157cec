// One board model's runs, shared by every view of that model (a second view of the output,
// the view JupyterLab re-creates on a display update): built once per model from everything
// the kernel sends, in arrival order, so a view that opens late draws the whole text at once.
// The wire format is written down in views/protocol.py; tests/board_replay.py mirrors this file.
//
// A model that starts from state it did not see being built (a page reload, a second front-end,
// a run started just before the model was restored) lacks the live runs' text so far: the
// kernel sends each piece of text once, as a tick, and never again while the run streams. The
// store then asks the kernel (`catch_up`); the answer carries the text of every live run as
// sent so far, taken between two ticks, so "the answer replaces, later ticks append" loses and
// doubles nothing. Until it arrives, text for those runs is dropped (the answer holds it).

export const CHANNELS = ["text", "reasoning", "tool_args"];
// Statuses as in live/runs.py: every one but "running" is final (its clock stops).
export const FINAL = new Set(["done", "error", "interrupted", "paused", "handed_off", "stopped"]);
// What a running run shows once its kernel can no longer end it (see watchKernel in board.js).
export const RESTARTED = "kernel restarted";
export const GONE = "kernel gone";

// zlib (the `archive` trait, a catch-up answer's buffer) -> JSON.
export async function inflateJSON(data) {
  if (!data || !data.byteLength) return {};
  const bytes = data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset || 0, data.byteLength);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return JSON.parse(await new Response(stream).text());
}

// A tick's update for one run, in its object form (protocol.py, `WireUpdate`):
// "text"                -> one token, that much more text
// [n, text, reasoning?, tool_args?] -> n tokens, that much more text per channel
// {...}                 -> figures and outcome, `d` channel deltas, `tokens` the total so far
export function expand(upd) {
  if (typeof upd === "string") return { n: 1, d: { text: upd } };
  if (Array.isArray(upd)) {
    const d = {};
    CHANNELS.forEach((c, i) => { if (upd[i + 1]) d[c] = upd[i + 1]; });
    return { n: upd[0] || 0, d };
  }
  return upd || {};
}

function newRun(meta) {
  return {
    ...meta,
    status: meta.status || "running",
    tokens: meta.tokens || 0,
    text: { text: "", reasoning: "", tool_args: "" },
    localStart: performance.now() - 1000 * (meta.elapsed || 0),
  };
}

// `early`: what the loader saw before this store existed, in order: ["state", name, value] and
// ["msg", content, buffers]; it starts with the state the model was created with.
export function createStore(model, early, { watchKernel } = {}) {
  const runs = new Map(); // run id -> run
  const byHandle = new Map(); // a run's handle on the wire (its start order) -> run id
  const views = new Set();
  const behind = new Set(); // live runs whose text so far only a catch-up answer can give
  let archived = {}; // final texts (and nothing else) by run id, once unpacked
  let asked = null; // the id of our catch-up request, until its answer arrives
  let chain = Promise.resolve(); // every change applies in arrival order (some decompress)
  let ended = "";
  let endedAt = 0;

  const notify = (what, ...args) => { for (const v of views) v[what](...args); };

  function markLost(run) {
    if (!ended || run.lost || FINAL.has(run.status)) return false;
    run.lost = ended;
    run.lostAt = endedAt;
    return true;
  }

  function end(reason) {
    if (ended) return; // idempotent: several events report one restart
    ended = reason;
    endedAt = performance.now();
    for (const [id, run] of runs) if (markLost(run)) notify("dirty", id);
  }

  function addRun(meta) {
    const run = newRun(meta);
    runs.set(meta.id, run);
    byHandle.set(String(meta.order), meta.id);
    markLost(run);
    notify("structure");
    return run;
  }

  function setText(id, texts) {
    const run = runs.get(id);
    if (!run || !texts) return;
    behind.delete(id);
    if (CHANNELS.every((c) => run.text[c] === (texts[c] || ""))) return; // already drawn
    for (const c of CHANNELS) run.text[c] = texts[c] || "";
    notify("replaced", id);
  }

  function askKernel() {
    if (asked || ended) return;
    asked = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    try {
      model.send({ k: "catch_up", id: asked });
    } catch (err) {
      asked = null; // no live comm (a notebook reopened without its kernel): nothing to ask
    }
  }

  function onRows(rows) {
    for (const row of rows || []) {
      let run = runs.get(row.id);
      if (!run) {
        run = addRun(row);
        if (archived[row.id]) setText(row.id, archived[row.id]);
        // A live run this model never saw start: its text so far is the kernel's to give.
        else if (!FINAL.has(row.status) && !row.text) behind.add(row.id);
      }
      for (const [k, v] of Object.entries(row)) {
        if (k === "text" || k === "localStart") continue;
        if (k === "elapsed" && !FINAL.has(row.status)) continue; // the local clock runs on
        run[k] = v;
      }
      // Rows of notebooks saved by earlier versions may carry a running run's text.
      if (row.text && !archived[row.id]) {
        for (const c of CHANNELS) {
          if ((row.text[c] || "").length > run.text[c].length) run.text[c] = row.text[c];
        }
        notify("replaced", row.id);
      }
      markLost(run);
      notify("dirty", row.id);
    }
    if (behind.size) askKernel();
  }

  async function onArchive(data) {
    let texts;
    try {
      texts = await inflateJSON(data);
    } catch (err) {
      console.warn("lc_callbacks_nb: could not read the final texts", err);
      return;
    }
    archived = texts;
    for (const id of Object.keys(texts)) setText(id, texts[id]);
  }

  function onTick(msg) {
    // one run's new text alone: [handle, tokens, text, reasoning?, tool_args?]
    if (Array.isArray(msg)) msg = { u: { [String(msg[0])]: msg.slice(1) } };
    for (const meta of msg.s || []) if (!runs.has(meta.id)) addRun(meta);
    for (const [handle, wire] of Object.entries(msg.u || {})) {
      const id = byHandle.get(handle);
      const run = id && runs.get(id);
      if (!run) {
        askKernel(); // it started before this model existed: the answer will bring it
        continue;
      }
      const upd = expand(wire);
      if (!behind.has(id)) {
        const d = upd.d || {};
        for (const c of CHANNELS) {
          if (!d[c]) continue;
          if (upd.reset && c === "text") {
            run.text.text = d.text;
            notify("replaced", id);
          } else {
            run.text[c] += d[c];
            notify("appended", id, c, d[c]);
          }
        }
        if (upd.n) run.tokens = (run.tokens || 0) + upd.n;
      }
      for (const [k, v] of Object.entries(upd)) {
        if (k !== "d" && k !== "n" && k !== "reset") run[k] = v;
      }
      notify("dirty", id);
    }
  }

  async function onCaughtUp(msg, buffers) {
    if (!asked || msg.id !== asked) return; // another front-end's question
    asked = null;
    const texts = await inflateJSON(buffers && buffers[0]);
    for (const row of msg.runs || []) {
      const run = runs.get(row.id) || addRun(row);
      for (const [k, v] of Object.entries(row)) if (k !== "elapsed") run[k] = v;
      run.localStart = performance.now() - 1000 * (row.elapsed || 0);
      setText(row.id, texts[row.id] || {});
      notify("dirty", row.id);
    }
    // Runs that ended before the answer was taken get their final text from `archive`.
  }

  function apply(kind, a, b) {
    if (kind === "state" && a === "runs") return onRows(b);
    if (kind === "state" && a === "archive") return onArchive(b);
    if (kind === "msg" && a && a.k === "caught_up") return onCaughtUp(a, b);
    if (kind === "msg" && a && a.k === "z") return inflateJSON(b && b[0]).then(onTick);
    if (kind === "msg" && a && (Array.isArray(a) || a.k === undefined)) return onTick(a);
  }

  function enqueue(kind, a, b) {
    chain = chain.then(() => apply(kind, a, b)).catch((err) => {
      console.warn("lc_callbacks_nb: a board update failed", err);
    });
  }

  for (const item of early) enqueue(...item);
  model.on("msg:custom", (msg, buffers) => enqueue("msg", msg, buffers));
  model.on("change:runs", () => enqueue("state", "runs", model.get("runs")));
  model.on("change:archive", () => enqueue("state", "archive", model.get("archive")));
  model.on("change:dropped", () => notify("structure"));
  if (watchKernel) watchKernel(model, end);

  return {
    runs,
    get ended() { return ended; },
    isBehind: (id) => behind.has(id),
    // A view: {structure(), dirty(id), appended(id, channel, text), replaced(id)}.
    watch(view) {
      views.add(view);
      return () => views.delete(view);
    },
    settled: () => chain,
  };
}
