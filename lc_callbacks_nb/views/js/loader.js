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

export default {
  async render(ctx) {
    // Live ticks are custom messages, never stored: keep those that arrive while the
    // renderer loads, and hand them to it (it replays them before any later one).
    // A state change is marked in the queue, so ticks older than the state are told apart.
    const early = [];
    const keep = (msg, buffers) => early.push([msg, buffers]);
    const mark = () => early.push(["state"]);
    ctx.model.on("msg:custom", keep);
    ctx.model.on("change:runs", mark);
    let mod;
    try {
      mod = await library(ctx.model);
    } catch (err) {
      console.warn("lc_callbacks_nb: the board renderer did not load", err);
      ctx.el.textContent = `lc_callbacks_nb: the panel renderer did not load (${err}).`;
      return;
    } finally {
      ctx.model.off("msg:custom", keep);
      ctx.model.off("change:runs", mark);
    }
    return mod.default.render({ ...ctx, early });
  },
};
