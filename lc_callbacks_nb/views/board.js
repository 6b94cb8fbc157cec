// Front-end of lc_callbacks_nb's run board. The source of static/board.bundle.js (`make js`
// bundles it with board.css and js/src/*); each board's tiny `_esm` (js/loader.js) imports the
// bundle once per page from the kernel session's library model.
// Model text is untrusted. The LLM text and reasoning channels are rendered as Markdown through
// js/src/markdown.js (markdown-it with html: false, then DOMPurify with an allow-list); every
// other text (errors, names, the raw view) only through textContent. Chain, tool and retriever
// inputs/outputs are Value trees drawn by js/src/values.js (textContent, and Markdown through
// the same safe renderer for an ai message's answer text).
import CSS from "./board.css";
import { MarkdownView } from "./js/src/markdown.js";
import { CHANNELS, FINAL, GONE, RESTARTED, createStore } from "./js/src/store.js";
import { MessageTable, showValue } from "./js/src/values.js";

const FOLDED = new Set(["done", "interrupted", "stopped"]); // finished nodes that fold; the rest stay open
// `error` says what for, or where to, or why it stopped: not a failure
const WAITING = new Set(["paused", "handed_off", "stopped"]);
const SYNC_BUSY =
  "the kernel is busy running a sync cell and cannot hear this; use Kernel › Interrupt";
const LABELS = { handed_off: "handed off" };

function h(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// The bundle's CSS, installed once per page (every board of every kernel shares it).
function installStyle() {
  if (typeof document === "undefined") return;
  let style = document.getElementById("lcnb-board-style");
  if (!style) {
    style = document.createElement("style");
    style.id = "lcnb-board-style";
    document.head.append(style);
  }
  if (style.textContent !== CSS) style.textContent = CSS;
}
installStyle();

// Copy to the clipboard: the async Clipboard API where allowed, else a hidden textarea.
async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // denied or unavailable: fall back below
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.cssText = "position:fixed;top:0;left:0;width:1px;height:1px;opacity:0;";
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

// A button's label changes in place for 1.5 s (its width is fixed in CSS: nothing shifts).
function flash(button, label) {
  const before = button.dataset.label || button.textContent;
  button.dataset.label = before;
  button.textContent = label;
  button.classList.add("lcnb-flash");
  clearTimeout(button._lcnbFlash);
  button._lcnbFlash = setTimeout(() => {
    button.textContent = before;
    button.classList.remove("lcnb-flash");
  }, 1500);
}

async function copyFrom(button, text) {
  flash(button, (await copyText(text)) ? "copied" : "failed");
}

// Render timing for the browser benchmark: set globalThis.__lcnb_profile = [] to collect.
function timed(fn, chars) {
  const log = globalThis.__lcnb_profile;
  if (!Array.isArray(log)) return fn();
  const t0 = performance.now();
  const out = fn();
  if (out !== false) log.push({ ms: performance.now() - t0, chars });
  return out;
}

function btn(cls, label, title) {
  const b = h("button", `lcnb-btn ${cls}`, label);
  b.type = "button";
  if (title) b.title = title;
  return b;
}

function fmtSeconds(s) {
  if (s === undefined || s === null) return "";
  return s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

function clip(text, n) {
  const s = String(text);
  return s.length > n ? s.slice(0, n) + "…" : s;
}

function firstWords(text, n = 12) {
  const words = (text || "").trim().split(/\s+/).slice(0, n).join(" ");
  return words.length > 80 ? words.slice(0, 80) + "…" : words;
}

// tok/s while a run streams, from the browser's own clock and the token count: the kernel sends
// neither elapsed time nor rate per tick, only its final figures when the stream ends.
function liveTps(run, now) {
  if (run.ttft === undefined || (run.tokens || 0) < 2) return undefined;
  const span = (now - run.localStart) / 1000 - run.ttft;
  return span > 0 ? Math.round((10 * (run.tokens - 1)) / span) / 10 : undefined;
}

// How a board learns that its kernel is gone. Checked in JupyterLab 4.6 and Notebook 7 with
// anywidget 0.11 and @jupyter-widgets/jupyterlab-manager (ipywidgets 8.1):
// - Restart (menu, or a dead kernel the server restarts): the widget manager sets every model's
//   `comm_live` to false, which fires "comm_live_update" on the model (it never fires to say a
//   comm came back: a restarted kernel makes new models); the notebook session's status goes
//   "restarting" (and "autorestarting" for a kernel that died).
// - Shut down, or a change of kernel: no model event at all; the session's status goes
//   "terminating" and its kernel changes (to none, or to another id).
// - The widget closed from Python: "comm:close", then "destroy", then the view is removed.
// So both: the model's events, which every widget manager fires, and the session's signals where
// the manager has one (`widget_manager.context.sessionContext` in JupyterLab and Notebook 7;
// a bare `widget_manager.kernel` elsewhere). Each calls `end(reason)`; the first one wins.
// Returns the function that removes every listener it added.
function watchKernel(model, end) {
  const undo = [];
  const onModel = (name, fn) => {
    model.on(name, fn);
    undo.push(() => model.off(name, fn));
  };
  const onSignal = (signal, fn) => {
    if (!signal || typeof signal.connect !== "function") return;
    signal.connect(fn);
    undo.push(() => signal.disconnect(fn));
  };
  const onStatus = (_, status) => {
    if (status === "restarting" || status === "autorestarting") end(RESTARTED);
    else if (status === "terminating" || status === "dead") end(GONE);
  };
  const restarted = () => end(RESTARTED);
  const gone = () => end(GONE);
  onModel("comm_live_update", restarted);
  onModel("comm:close", gone);
  onModel("destroy", gone);
  const manager = model.widget_manager;
  const session = manager && manager.context && manager.context.sessionContext;
  if (session) {
    const kernel = session.session && session.session.kernel;
    const kernelId = kernel ? kernel.id : null;
    onSignal(session.statusChanged, onStatus);
    // A restart keeps the kernel's id; a shutdown (none) or another kernel does not.
    onSignal(session.kernelChanged, (_, change) => {
      const next = change && change.newValue;
      if (!next || next.id !== kernelId) end(GONE);
    });
  } else if (manager && manager.kernel) {
    onSignal(manager.kernel.statusChanged, onStatus);
  }
  return () => {
    for (const fn of undo.splice(0)) fn();
  };
}

function render({ model, el, store }) {
  const runs = store.runs; // id -> run, shared by every view of this model
  const nodes = new Map(); // id -> {root, ...element refs}
  const messages = new MessageTable(); // messages of inputs/outputs, by number (folds refer to them)
  if (!store.shown) {
    // Tell the kernel, once per model, that a front-end shows this board: it follows the display
    // by its id, so a run that outlived its cell needs no second display (live/boards.py).
    store.shown = true;
    try {
      model.send({ k: "shown" });
    } catch (err) {
      // no live comm (a notebook reopened without its kernel): nobody to tell
    }
  }
  const root = h("div", "lcnb-board");
  // Drawn in another cell than the one its runs started in (a run that outlived its cell).
  if (model.get("title")) el.appendChild(h("div", "lcnb-origin", model.get("title")));
  el.appendChild(root);
  let structureDirty = true;
  const dirtyRuns = new Set();
  const pendingText = new Map(); // id -> {channel: appended text not yet in the DOM}
  const fullRefresh = new Set(); // ids whose text must be redrawn whole (state load, reset)
  const again = new Set(); // ids whose Markdown layout continues on the next frame
  let nodesMode = ""; // what `nodes` holds: "tree" elements or "table" rows
  let timer = null;
  let frame = 0; // the pending requestAnimationFrame, if any
  let disposed = false;

  const llmCount = () => [...runs.values()].filter((r) => r.kind === "llm").length;
  const tableMode = () => llmCount() > model.get("max_panels");

  // A run the kernel can no longer end: it keeps its text, shows why, and its clock stops.
  // A final status that still arrives afterwards (a tick sent just before the restart) wins.
  const isLost = (run) => Boolean(run.lost) && !FINAL.has(run.status);
  const ticking = (run) => !FINAL.has(run.status) && !run.streamed && !run.lost;

  const unwatch = store.watch({
    structure() {
      structureDirty = true;
      schedule();
    },
    dirty(id) {
      dirtyRuns.add(id);
      schedule();
    },
    appended(id, channel, text) {
      if (fullRefresh.has(id)) return; // drawn whole anyway
      const pend = pendingText.get(id) || {};
      pend[channel] = (pend[channel] || "") + text;
      pendingText.set(id, pend);
      dirtyRuns.add(id);
      schedule();
    },
    replaced(id) {
      pendingText.delete(id);
      fullRefresh.add(id);
      dirtyRuns.add(id);
      schedule();
    },
  });

  function schedule() {
    if (frame || disposed) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  }

  // ---- drawing --------------------------------------------------------------------
  function statusBadge(run) {
    if (isLost(run)) {
      const badge = h("span", "lcnb-status lcnb-st-lost", run.lost);
      badge.title = `The ${run.lost === RESTARTED ? "kernel restarted" : "kernel stopped"} before this run ended: the text is what arrived until then.`;
      return badge;
    }
    const label =
      run.status === "running" ? (run.kind === "llm" ? "streaming" : "running") : LABELS[run.status] || run.status;
    return h("span", `lcnb-status lcnb-st-${run.status}`, label);
  }

  function metricsText(run) {
    const parts = [];
    if (run.kind === "llm") {
      if (run.ttft !== undefined) parts.push(`first token ${fmtSeconds(run.ttft)}`);
      parts.push(`${run.tokens || 0} tokens`);
      const tps = ticking(run) ? liveTps(run, performance.now()) : run.tps;
      if (tps !== undefined) parts.push(`${tps} tok/s`);
    }
    // Local clock while running (stopped when the kernel went away); the kernel's figure once
    // the run (or its stream) ended.
    if (FINAL.has(run.status) || run.streamed) parts.push(fmtSeconds(run.elapsed || 0));
    else {
      const until = run.lost ? run.lostAt : performance.now();
      parts.push(fmtSeconds(Math.max((until - run.localStart) / 1000, run.elapsed || 0)));
    }
    if (run.usage) {
      const u = run.usage;
      const inp = u.input_tokens ?? u.prompt_tokens;
      const out = u.output_tokens ?? u.completion_tokens;
      if (inp !== undefined || out !== undefined) {
        const cached = u.cache_read ? ` (${u.cache_read} cached)` : "";
        const reasoning = u.reasoning ? ` (${u.reasoning} reasoning)` : "";
        parts.push(`usage: ${inp ?? "?"} prompt${cached} + ${out ?? "?"} completion${reasoning}`);
      }
    }
    return parts.join(" · ");
  }

  // tool call id -> the LLM run whose final message made that call
  const callOwner = new Map();
  function indexCalls(run) {
    for (const call of run.tool_calls || []) if (call && call.id) callOwner.set(call.id, run.id);
  }

  function highlightNode(target) {
    if (!target) return;
    if (target.tagName === "DETAILS") target.open = true;
    target.scrollIntoView({ block: "nearest", behavior: "smooth" });
    target.classList.remove("lcnb-highlight");
    void target.offsetWidth; // restart the animation
    target.classList.add("lcnb-highlight");
    setTimeout(() => target.classList.remove("lcnb-highlight"), 1600);
  }

  function buildLLM(run) {
    const box = h("div", "lcnb-panel");
    box.dataset.runId = run.id;
    const head = h("div", "lcnb-head");
    const status = statusBadge(run);
    const name = h("span", "lcnb-name", run.name);
    const model_ = h("span", "lcnb-model", run.model || "");
    const tags = h("span", "lcnb-tags", (run.tags || []).map((t) => `#${t}`).join(" "));
    const actions = h("span", "lcnb-actions");
    const stop = btn("lcnb-stop", "stop");
    const raw = btn("lcnb-raw-toggle", "raw", "Show the text as the model wrote it");
    const copy = btn("lcnb-copy", "copy", "Copy the answer (Markdown source)");
    actions.append(stop, raw, copy);
    head.append(status, name, model_, tags, actions);
    // The prompt's first words, so concurrent panels are told apart at a glance.
    // (inputs of a model run: one line, what it was last asked; live/values.prompt_line)
    const prompt = h("div", "lcnb-prompt", typeof run.inputs === "string" && run.inputs ? `› ${firstWords(run.inputs, 16)}` : "");
    const metrics = h("div", "lcnb-metrics");
    // Reasoning: its own lane above the answer, open while it streams, folded once the answer starts.
    const reasoning = h("details", "lcnb-reasoning");
    const reasoningLabel = h("summary", null, "reasoning");
    const reasoningMd = h("div", "lcnb-md lcnb-reasoning-md");
    const reasoningText = h("pre", "lcnb-text lcnb-raw-text");
    reasoningText.textContent = run.text.reasoning;
    reasoning.append(reasoningLabel, reasoningMd, reasoningText);
    reasoningLabel.addEventListener("click", () => { reasoning.dataset.userToggled = "1"; });
    // The answer: rendered Markdown, and the raw text (shown by the toggle; what tests read).
    const md = h("div", "lcnb-md lcnb-answer");
    const text = h("pre", "lcnb-text lcnb-raw-text");
    text.textContent = run.text.text;
    const tools = h("details", "lcnb-toolargs");
    const toolsLabel = h("summary", null, "tool calls");
    tools.append(toolsLabel);
    const toolText = h("pre", "lcnb-text");
    toolText.textContent = run.text.tool_args.replace(/^\n/, "");
    const calls = h("div", "lcnb-calls");
    tools.append(toolText, calls);
    toolsLabel.addEventListener("click", () => { tools.dataset.userToggled = "1"; });
    const error = h("div", "lcnb-error");
    box.append(head, prompt, metrics, reasoning, md, text, tools, error);

    const n = {
      root: box, status, metrics, text, md, reasoning, reasoningLabel, reasoningText, tools,
      toolText, calls, error, stop, raw, copy,
      view: new MarkdownView(md), reasoningView: new MarkdownView(reasoningMd),
    };
    raw.addEventListener("click", () => {
      const on = box.classList.toggle("lcnb-raw");
      raw.textContent = on ? "markdown" : "raw";
      raw.title = on ? "Show the text rendered as Markdown" : "Show the text as the model wrote it";
    });
    copy.addEventListener("click", () => copyFrom(copy, runs.get(run.id)?.text.text ?? ""));
    stop.addEventListener("click", () => {
      const r = runs.get(run.id);
      if (!r || !r.stoppable || r.stopRequested || FINAL.has(r.status)) return;
      r.stopRequested = true;
      model.send({ k: "stop", run: r.id });
      dirtyRuns.add(r.id);
      schedule();
    });
    // Code blocks' copy buttons (rendered Markdown is rebuilt, so delegate from the panel).
    box.addEventListener("click", (ev) => {
      const b = ev.target.closest && ev.target.closest(".lcnb-copy-code");
      if (!b || !box.contains(b)) return;
      const code = b.parentElement && b.parentElement.querySelector("code");
      copyFrom(b, code ? code.textContent : "");
    });
    calls.addEventListener("click", (ev) => {
      const b = ev.target.closest && ev.target.closest(".lcnb-call");
      if (!b) return;
      const target = [...root.querySelectorAll("[data-tool-call-id]")].find(
        (el) => el.dataset.toolCallId === b.dataset.callId,
      );
      highlightNode(target);
    });
    return n;
  }

  function buildNode(run) {
    // chains, tools, retrievers: a foldable line with children inside
    const box = h("details", `lcnb-node lcnb-kind-${run.kind}`);
    box.dataset.runId = run.id;
    box.open = !FOLDED.has(run.status); // a failure, or a run waiting for input, stays in view
    const summary = h("summary", "lcnb-head");
    const status = statusBadge(run);
    const kind = h("span", "lcnb-kind", run.kind);
    const name = h("span", "lcnb-name", run.name);
    const metrics = h("span", "lcnb-metrics");
    const error = h("span", "lcnb-error");
    summary.append(status, kind, name, metrics, error);
    let origin = null;
    if (run.tool_call_id) {
      box.dataset.toolCallId = run.tool_call_id;
      // which tool call of which model turn started this tool (click: show that call)
      origin = btn("lcnb-origin", `call ${run.tool_call_id}`, "Show the model's tool call that started this tool");
      origin.addEventListener("click", (ev) => {
        ev.preventDefault();
        ev.stopPropagation();
        const owner = nodes.get(callOwner.get(run.tool_call_id));
        if (!owner || !owner.tools) return;
        owner.tools.open = true;
        const call = [...owner.calls.querySelectorAll(".lcnb-call")].find(
          (el) => el.dataset.callId === run.tool_call_id,
        );
        highlightNode(call || owner.tools);
      });
    }
    const io = h("div", "lcnb-io");
    // what the run was given and gave: Value trees (js/src/values.js), redrawn when they change
    const inputs = h("div", "lcnb-value lcnb-inputs");
    const outputs = h("div", "lcnb-value lcnb-outputs");
    const events = h("div", "lcnb-events");
    // The link back to the call lives in the body, not the summary: a click on the summary
    // must always fold or unfold the node.
    if (origin) io.append(origin);
    io.append(inputs, outputs, events);
    const children = h("div", "lcnb-children");
    box.append(summary, io, children);
    // Only a user's click pins a node open or shut ("toggle" also fires when code opens it).
    summary.addEventListener("click", () => { box.dataset.userToggled = "1"; });
    return { root: box, status, metrics, error, inputs, outputs, events, children, origin };
  }

  function originLabel(run, n) {
    if (!n || !n.origin) return;
    const owner = runs.get(callOwner.get(run.tool_call_id));
    const call = owner && (owner.tool_calls || []).find((c) => c.id === run.tool_call_id);
    n.origin.textContent = call ? `← ${call.name} call` : `← call ${run.tool_call_id}`;
  }

  function drawCalls(run, n) {
    const list = run.tool_calls || [];
    const key = JSON.stringify(list);
    if (n.calls.dataset.key === key) return;
    n.calls.dataset.key = key;
    n.calls.replaceChildren(
      ...list.map((call) => {
        const b = btn("lcnb-call", "", "Show the tool run this call started");
        b.dataset.callId = call.id || "";
        b.append(h("span", "lcnb-call-name", call.name || "?"), h("span", "lcnb-call-args", ` ${clip(call.args || "", 200)}`));
        return b;
      }),
    );
    for (const other of runs.values()) {
      if (other.tool_call_id && callOwner.get(other.tool_call_id) === run.id) originLabel(other, nodes.get(other.id));
    }
  }

  function updateLLM(run, n) {
    const pend = pendingText.get(run.id);
    const full = n.fresh || fullRefresh.has(run.id);
    if (full) {
      n.text.textContent = run.text.text;
      n.reasoningText.textContent = run.text.reasoning;
      n.toolText.textContent = run.text.tool_args.replace(/^\n/, "");
    } else if (pend) {
      // Streaming: append only the new text as text nodes (never parsed as HTML).
      for (const c of CHANNELS) {
        if (!pend[c]) continue;
        const target = c === "text" ? n.text : c === "reasoning" ? n.reasoningText : n.toolText;
        target.appendChild(document.createTextNode(pend[c]));
      }
    }
    // Markdown: only when the text changed; completed blocks stay, the open tail is redrawn.
    // `final`: the text will not grow, so its last line is complete (see MarkdownView.update)
    const final = FINAL.has(run.status);
    if (full || (pend && pend.text) || n.view.pending)
      timed(() => n.view.update(run.text.text, final), run.text.text.length);
    if (full || (pend && pend.reasoning) || n.reasoningView.pending)
      timed(() => n.reasoningView.update(run.text.reasoning, final), run.text.reasoning.length);
    if (n.view.pending || n.reasoningView.pending) again.add(run.id); // more layout next frame
    n.fresh = false;

    const live = !final && !isLost(run);
    const hasReasoning = Boolean(run.text.reasoning);
    n.reasoning.style.display = hasReasoning ? "" : "none";
    if (hasReasoning) {
      const count = run.usage && run.usage.reasoning ? ` · ${run.usage.reasoning} tokens` : "";
      const thinking = live && !run.text.text ? " …" : "";
      n.reasoningLabel.textContent = `reasoning${count}${thinking}`;
      if (!n.reasoning.dataset.userToggled) n.reasoning.open = !run.text.text;
    }
    const hasTools = Boolean(run.text.tool_args) || Boolean(run.tool_calls && run.tool_calls.length);
    n.tools.style.display = hasTools ? "" : "none";
    // tool-call arguments stay visible while they stream; the finished panel folds them
    if (hasTools && !n.tools.dataset.userToggled) n.tools.open = live && Boolean(run.text.tool_args);
    if (run.tool_calls) {
      indexCalls(run);
      drawCalls(run, n);
    }
    // Once the turn's final calls are known they replace the streamed argument text (the same
    // calls, now each a link to the tool run it started): shown once, not twice.
    n.toolText.style.display = run.tool_calls && run.tool_calls.length ? "none" : "";
    n.copy.style.display = run.text.text ? "" : "none";
    // Stop: for a run the kernel can hear (an async cell); disabled, and why, for the rest.
    n.stop.style.display = live ? "" : "none";
    if (live) {
      if (run.stopRequested) {
        n.stop.disabled = true;
        n.stop.textContent = "stopping…";
        n.stop.title = "Asked the kernel to stop this run";
      } else if (run.stoppable) {
        n.stop.disabled = false;
        n.stop.textContent = "stop";
        n.stop.title = "Stop this run (the text so far stays)";
      } else {
        n.stop.disabled = true;
        n.stop.textContent = "stop";
        n.stop.title = SYNC_BUSY;
      }
    }
  }

  function updateNode(run, n) {
    n.status.replaceWith((n.status = statusBadge(run)));
    n.metrics.textContent = metricsText(run);
    n.root.classList.toggle("lcnb-failed", run.status === "error");
    if (run.kind === "llm") {
      updateLLM(run, n);
    } else {
      showValue(n.inputs, "in", run.inputs, messages);
      showValue(n.outputs, "out", run.outputs, messages);
      n.events.textContent = (run.events || []).join("\n");
      if (FOLDED.has(run.status) && !n.root.dataset.userToggled) n.root.open = false;
      originLabel(run, n);
    }
    n.error.textContent = run.error ? run.error : run.status === "interrupted" ? "interrupted" : "";
    n.error.classList.toggle("lcnb-reason", WAITING.has(run.status));
    pendingText.delete(run.id);
  }

  function drawTree() {
    const ordered = [...runs.values()].sort((a, b) => a.order - b.order);
    if (structureDirty) {
      // Keep the elements we already have (and what the user opened, folded or expanded in
      // them); build only new runs, then put everything back in start order.
      if (nodesMode !== "tree") {
        nodes.clear();
        nodesMode = "tree";
      }
      root.replaceChildren();
      for (const run of ordered) {
        if (nodes.has(run.id)) continue;
        const n = run.kind === "llm" ? buildLLM(run) : buildNode(run);
        n.fresh = true;
        nodes.set(run.id, n);
      }
      for (const run of ordered) {
        const parent = run.parent && nodes.get(run.parent);
        const container = parent && parent.children ? parent.children : root;
        container.appendChild(nodes.get(run.id).root);
      }
      for (const run of ordered) updateNode(run, nodes.get(run.id));
    } else {
      for (const id of dirtyRuns) {
        const run = runs.get(id);
        const n = nodes.get(id);
        if (run && n) updateNode(run, n);
      }
    }
    // A failed step must be visible without opening anything: unfold its ancestors.
    for (const failed of root.querySelectorAll(".lcnb-failed")) {
      let up = failed.parentElement && failed.parentElement.closest("details.lcnb-node");
      while (up) {
        if (!up.dataset.userToggled) up.open = true;
        up = up.parentElement && up.parentElement.closest("details.lcnb-node");
      }
    }
  }

  function drawTable() {
    const llms = [...runs.values()].filter((r) => r.kind === "llm").sort((a, b) => a.order - b.order);
    if (structureDirty || !root.querySelector("table")) {
      root.replaceChildren();
      nodes.clear();
      nodesMode = "table";
      const table = h("table", "lcnb-table");
      const head = h("tr");
      for (const col of ["#", "run", "status", "tokens", "tok/s", "first words"]) head.append(h("th", null, col));
      table.append(head);
      for (const run of llms) {
        const row = h("tr", "lcnb-row");
        row.dataset.runId = run.id;
        const cells = ["#", "name", "status", "tokens", "tps", "words"].map(() => h("td"));
        row.append(...cells);
        const detailRow = h("tr", "lcnb-detail");
        const detailCell = h("td");
        detailCell.colSpan = 6;
        const full = h("pre", "lcnb-text");
        detailCell.append(full);
        detailRow.append(detailCell);
        detailRow.style.display = "none";
        row.addEventListener("click", () => {
          detailRow.style.display = detailRow.style.display === "none" ? "" : "none";
        });
        table.append(row, detailRow);
        nodes.set(run.id, { cells, full });
      }
      root.append(table);
    }
    const ids = structureDirty ? llms.map((r) => r.id) : [...dirtyRuns];
    for (const id of ids) {
      const run = runs.get(id);
      const n = nodes.get(id);
      if (!run || !n) continue;
      const [c0, c1, c2, c3, c4, c5] = n.cells;
      c0.textContent = String(run.order + 1);
      c1.textContent = run.name;
      c2.replaceChildren(statusBadge(run));
      c3.textContent = String(run.tokens || 0);
      const tps = ticking(run) ? liveTps(run, performance.now()) : run.tps;
      c4.textContent = tps !== undefined ? String(tps) : "";
      c5.textContent = run.error ? run.error : firstWords(run.text.text);
      n.full.textContent = run.text.text + (run.error ? `\n${run.error}` : "");
    }
    pendingText.clear();
  }

  function draw() {
    const table = tableMode();
    if (table !== root.classList.contains("lcnb-table-mode")) structureDirty = true;
    root.classList.toggle("lcnb-table-mode", table);
    if (table) drawTable();
    else drawTree();
    const dropped = model.get("dropped") || 0;
    if (dropped) {
      let note = el.querySelector(".lcnb-dropped");
      if (!note) el.append((note = h("div", "lcnb-dropped")));
      note.textContent = `${dropped} earlier finished runs not kept`;
    }
    structureDirty = false;
    dirtyRuns.clear();
    fullRefresh.clear();
    if (again.size) {
      for (const id of again) dirtyRuns.add(id);
      again.clear();
      schedule();
    }
    // Tick elapsed time locally while anything runs; stop as soon as nothing does.
    const running = [...runs.values()].some(ticking);
    if (running && !timer) {
      timer = setInterval(() => {
        for (const [id, run] of runs) if (ticking(run)) dirtyRuns.add(id);
        schedule();
      }, 250);
    } else if (!running && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  schedule();
  return () => {
    disposed = true;
    unwatch();
    if (timer) clearInterval(timer);
    timer = null;
    if (frame) cancelAnimationFrame(frame);
    frame = 0;
  };
}

// The loader (js/loader.js) makes one store per model, fed with what arrived while this bundle
// loaded, and hands it to every view of that model.
function store(model, early) {
  return createStore(model, early, { watchKernel });
}

export default { render, store };
// For the renderer's own browser tests (a static page imports the bundle): not the widget API.
export { MarkdownView, renderFragment, parseCount } from "./js/src/markdown.js";
export { hlCount } from "./js/src/highlight.js";
