// Front-end of lc_callbacks_nb's run board (anywidget ESM, no build step).
// Model text is untrusted: it is only ever set through textContent / text nodes.

const FINAL = new Set(["done", "error", "interrupted"]);
const CHANNELS = ["text", "reasoning", "tool_args"];

function h(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function fmtSeconds(s) {
  if (s === undefined || s === null) return "";
  return s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

function firstWords(text, n = 12) {
  const words = (text || "").trim().split(/\s+/).slice(0, n).join(" ");
  return words.length > 80 ? words.slice(0, 80) + "…" : words;
}

function newRun(meta) {
  return {
    ...meta,
    status: meta.status || "running",
    text: { text: "", reasoning: "", tool_args: "" },
    localStart: performance.now() - 1000 * (meta.elapsed || 0),
  };
}

// Merge a durable state row (from the synced `runs` trait) into the local run.
function mergeRow(run, row) {
  for (const [k, v] of Object.entries(row)) {
    if (k === "text") continue;
    run[k] = v;
  }
  // Rows carry text only for running runs (a refresh for views that missed deltas).
  const text = row.text || {};
  for (const c of CHANNELS) {
    const incoming = text[c] || "";
    if (incoming.length > run.text[c].length) run.text[c] = incoming;
  }
}

// The `archive` trait: zlib-compressed JSON {run id: {channel: final text}}.
async function unpackArchive(data) {
  if (!data || !data.byteLength) return {};
  const bytes = new Uint8Array(data.buffer, data.byteOffset || 0, data.byteLength);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return JSON.parse(await new Response(stream).text());
}

// Long tool inputs/outputs: the first CLIP characters, and a button for the rest.
const CLIP = 1500;
function showClipped(pre, text) {
  if (pre.dataset.full === text) return;
  pre.dataset.full = text;
  if (text.length <= CLIP || pre.dataset.expanded === "1") {
    pre.textContent = text;
    return;
  }
  pre.textContent = text.slice(0, CLIP) + "… ";
  const more = h("button", "lcnb-more", `show all ${text.length.toLocaleString()} characters`);
  more.addEventListener("click", (ev) => {
    ev.stopPropagation();
    pre.dataset.expanded = "1";
    pre.textContent = pre.dataset.full;
  });
  pre.append(more);
}

function render({ model, el }) {
  const runs = new Map(); // id -> run
  const nodes = new Map(); // id -> {root, ...element refs}
  const root = h("div", "lcnb-board");
  el.appendChild(root);
  let scheduled = false;
  let structureDirty = true;
  const dirtyRuns = new Set();
  const pendingText = new Map(); // id -> {channel: appended text not yet in the DOM}
  const fullRefresh = new Set(); // ids whose text must be redrawn whole (state load, reset)
  let nodesMode = ""; // what `nodes` holds: "tree" elements or "table" rows
  let timer = null;

  const llmCount = () => [...runs.values()].filter((r) => r.kind === "llm").length;
  const tableMode = () => llmCount() > model.get("max_panels");

  let archived = {}; // final texts, once unpacked

  function applyArchived(id) {
    const text = archived[id];
    const run = runs.get(id);
    if (!text || !run) return;
    for (const c of CHANNELS) run.text[c] = text[c] || "";
    dirtyRuns.add(id);
    fullRefresh.add(id);
    pendingText.delete(id);
  }

  function loadState() {
    for (const row of model.get("runs") || []) {
      if (!runs.has(row.id)) {
        runs.set(row.id, newRun(row));
        structureDirty = true;
      }
      mergeRow(runs.get(row.id), row);
      dirtyRuns.add(row.id);
      fullRefresh.add(row.id);
      pendingText.delete(row.id);
      applyArchived(row.id);
    }
    schedule(true);
  }

  let archiveVersion = 0;
  async function loadArchive() {
    const mine = ++archiveVersion;
    let texts;
    try {
      texts = await unpackArchive(model.get("archive"));
    } catch (err) {
      console.warn("lc_callbacks_nb: could not read the final texts", err);
      return;
    }
    if (mine !== archiveVersion) return; // a newer archive arrived meanwhile
    archived = texts;
    for (const id of Object.keys(archived)) applyArchived(id);
    schedule();
  }

  function onTick(msg) {
    if (!msg || msg.k !== "tick") return;
    for (const meta of msg.started || []) {
      if (!runs.has(meta.id)) {
        runs.set(meta.id, newRun(meta));
        structureDirty = true;
      }
    }
    for (const [id, upd] of Object.entries(msg.updates || {})) {
      const run = runs.get(id);
      if (!run) continue;
      const delta = upd.delta || {};
      for (const c of CHANNELS) {
        if (!delta[c]) continue;
        if (upd.reset && c === "text") {
          run.text[c] = delta[c];
          pendingText.delete(id);
          fullRefresh.add(id);
          continue;
        }
        run.text[c] += delta[c];
        const pend = pendingText.get(id) || {};
        pend[c] = (pend[c] || "") + delta[c];
        pendingText.set(id, pend);
      }
      for (const [k, v] of Object.entries(upd)) {
        if (k !== "delta" && k !== "reset") run[k] = v;
      }
      if (upd.status && FINAL.has(upd.status)) run.localEnd = performance.now();
      dirtyRuns.add(id);
    }
    schedule(false);
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      draw();
    });
  }

  // ---- drawing --------------------------------------------------------------------
  function statusBadge(run) {
    const label = run.status === "running" ? (run.kind === "llm" ? "streaming" : "running") : run.status;
    return h("span", `lcnb-status lcnb-st-${run.status}`, label);
  }

  function metricsText(run) {
    const parts = [];
    if (run.kind === "llm") {
      if (run.ttft !== undefined) parts.push(`first token ${fmtSeconds(run.ttft)}`);
      parts.push(`${run.tokens || 0} tokens`);
      if (run.tps !== undefined) parts.push(`${run.tps} tok/s`);
    }
    // Local clock while running; the kernel's figure once the run (or its stream) ended.
    const frozen = FINAL.has(run.status) || run.streamed;
    const elapsed = frozen ? run.elapsed : (performance.now() - run.localStart) / 1000;
    parts.push(fmtSeconds(frozen ? elapsed || 0 : Math.max(elapsed || 0, run.elapsed || 0)));
    if (run.usage) {
      const u = run.usage;
      const inp = u.input_tokens ?? u.prompt_tokens;
      const out = u.output_tokens ?? u.completion_tokens;
      if (inp !== undefined || out !== undefined) parts.push(`usage: ${inp ?? "?"} prompt + ${out ?? "?"} completion`);
    }
    return parts.join(" · ");
  }

  function buildLLM(run) {
    const box = h("div", "lcnb-panel");
    box.dataset.runId = run.id;
    const head = h("div", "lcnb-head");
    const status = statusBadge(run);
    const name = h("span", "lcnb-name", run.name);
    const model_ = h("span", "lcnb-model", run.model || "");
    const tags = h("span", "lcnb-tags", (run.tags || []).map((t) => `#${t}`).join(" "));
    head.append(status, name, model_, tags);
    // The prompt's first words, so concurrent panels are told apart at a glance.
    const prompt = h("div", "lcnb-prompt", run.inputs ? `› ${firstWords(run.inputs, 16)}` : "");
    const metrics = h("div", "lcnb-metrics");
    const text = h("pre", "lcnb-text");
    text.textContent = run.text.text;
    const reasoning = h("details", "lcnb-reasoning");
    reasoning.append(h("summary", null, "reasoning"));
    const reasoningText = h("pre", "lcnb-text");
    reasoningText.textContent = run.text.reasoning;
    reasoning.append(reasoningText);
    const tools = h("details", "lcnb-toolargs");
    tools.append(h("summary", null, "tool calls"));
    const toolText = h("pre", "lcnb-text");
    toolText.textContent = run.text.tool_args.replace(/^\n/, "");
    tools.append(toolText);
    const error = h("div", "lcnb-error");
    box.append(head, prompt, metrics, text, reasoning, tools, error);
    return { root: box, status, metrics, text, reasoning, reasoningText, tools, toolText, error, head };
  }

  function buildNode(run) {
    // chains, tools, retrievers: a foldable line with children inside
    const box = h("details", `lcnb-node lcnb-kind-${run.kind}`);
    box.dataset.runId = run.id;
    box.open = !FINAL.has(run.status) || run.status === "error"; // a failure stays in view
    const summary = h("summary", "lcnb-head");
    const status = statusBadge(run);
    const kind = h("span", "lcnb-kind", run.kind);
    const name = h("span", "lcnb-name", run.name);
    const metrics = h("span", "lcnb-metrics");
    const error = h("span", "lcnb-error");
    summary.append(status, kind, name, metrics, error);
    const io = h("div", "lcnb-io");
    const inputs = h("pre", "lcnb-text lcnb-inputs");
    const outputs = h("pre", "lcnb-text lcnb-outputs");
    const events = h("div", "lcnb-events");
    io.append(inputs, outputs, events);
    const children = h("div", "lcnb-children");
    box.append(summary, io, children);
    // Only a user's click pins a node open or shut ("toggle" also fires when code opens it).
    summary.addEventListener("click", () => { box.dataset.userToggled = "1"; });
    return { root: box, status, metrics, error, inputs, outputs, events, children };
  }

  function updateNode(run, n) {
    n.status.replaceWith((n.status = statusBadge(run)));
    n.metrics.textContent = metricsText(run);
    n.root.classList.toggle("lcnb-failed", run.status === "error");
    if (run.kind === "llm") {
      const pend = pendingText.get(run.id);
      if (n.fresh || fullRefresh.has(run.id)) {
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
      n.fresh = false;
      n.reasoning.style.display = run.text.reasoning ? "" : "none";
      n.tools.style.display = run.text.tool_args ? "" : "none";
    } else {
      showClipped(n.inputs, run.inputs ? `in: ${run.inputs}` : "");
      showClipped(n.outputs, run.outputs ? `out: ${run.outputs}` : "");
      n.events.textContent = (run.events || []).join("\n");
      if (FINAL.has(run.status) && !n.root.dataset.userToggled && run.status !== "error") n.root.open = false;
    }
    n.error.textContent = run.error ? run.error : run.status === "interrupted" ? "interrupted" : "";
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
      c4.textContent = run.tps !== undefined ? String(run.tps) : "";
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
    // Tick elapsed time locally while anything runs; stop as soon as nothing does.
    const running = [...runs.values()].some((r) => !FINAL.has(r.status) && !r.streamed);
    if (running && !timer) {
      timer = setInterval(() => {
        for (const [id, run] of runs) if (!FINAL.has(run.status) && !run.streamed) dirtyRuns.add(id);
        schedule();
      }, 250);
    } else if (!running && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  model.on("msg:custom", onTick);
  model.on("change:runs", loadState);
  model.on("change:archive", loadArchive);
  model.on("change:dropped", () => schedule());
  loadState();
  loadArchive();
  return () => {
    if (timer) clearInterval(timer);
    model.off("msg:custom", onTick);
    model.off("change:runs", loadState);
    model.off("change:archive", loadArchive);
  };
}

export default { render };
