// The per-board `_esm` of lc_callbacks_nb: a few hundred bytes that fetch the real renderer
// (static/board.bundle.js) from the kernel session's one library model (trait `lib` holds its
// model id; its `code` is the bundle, zlib-compressed) and import it once per page, from a
// Blob URL, cached on globalThis by the bundle's hash. So the renderer crosses the wire (and
// lands in a saved notebook's widget state) once per kernel session, not once per cell.
const CACHE = "__lcnb_board_bundles__";

async function inflate(data) {
  const bytes = new Uint8Array(data.buffer, data.byteOffset || 0, data.byteLength);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Response(stream).text();
}

async function library(model) {
  const id = model.get("lib");
  if (!id) throw new Error("this board names no renderer library");
  let lib;
  for (let attempt = 0; !lib; attempt++) {
    try {
      lib = await model.widget_manager.get_model(id);
    } catch (err) {
      // a notebook's saved models may be restored in any order: wait a little for it
      if (attempt >= 40) throw err;
      await new Promise((ok) => setTimeout(ok, 250));
    }
  }
  const key = lib.get("hash");
  const cache = (globalThis[CACHE] = globalThis[CACHE] || {});
  if (!cache[key]) {
    cache[key] = (async () => {
      const url = URL.createObjectURL(new Blob([await inflate(lib.get("code"))], { type: "text/javascript" }));
      try {
        return await import(/* webpackIgnore: true */ url);
      } finally {
        URL.revokeObjectURL(url);
      }
    })();
    cache[key].catch(() => delete cache[key]); // a failure is retried by the next view
  }
  return cache[key];
}

// Live ticks are custom messages, never stored, and each carries text sent once. So from the
// model's creation on, everything that arrives is kept, in order (the state it started from,
// then ticks and state changes), until the renderer has loaded; the renderer builds the
// model's one store from it, which every view of the model then draws from.
function start(model) {
  const early = [
    ["state", "runs", model.get("runs")],
    ["state", "archive", model.get("archive")],
  ];
  const keep = (msg, buffers) => early.push(["msg", msg, buffers]);
  const runs = () => early.push(["state", "runs", model.get("runs")]);
  const archive = () => early.push(["state", "archive", model.get("archive")]);
  model.on("msg:custom", keep);
  model.on("change:runs", runs);
  model.on("change:archive", archive);
  const stop = () => {
    model.off("msg:custom", keep);
    model.off("change:runs", runs);
    model.off("change:archive", archive);
  };
  return library(model).then(
    (mod) => {
      stop(); // in the same turn as the store starts listening: nothing falls in between
      return { mod, store: mod.default.store(model, early) };
    },
    (err) => {
      stop();
      throw err;
    },
  );
}

// anywidget calls this once per model: `initialize` once, `render` once per view.
export default () => {
  let ready = null;
  return {
    initialize({ model }) {
      ready = start(model); // not awaited: anywidget holds the model's messages until we return
      ready.catch(() => {});
    },
    async render(ctx) {
      if (!ready) ready = start(ctx.model); // a host that never calls initialize
      let loaded;
      try {
        loaded = await ready;
      } catch (err) {
        console.warn("lc_callbacks_nb: the board renderer did not load", err);
        ctx.el.textContent = `lc_callbacks_nb: the panel renderer did not load (${err}).`;
        return;
      }
      return loaded.mod.default.render({ ...ctx, store: loaded.store });
    },
  };
};
