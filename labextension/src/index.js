// lc-callbacks-nb: a run board whose widget model is gone shows its saved static twin.
//
// Every board output of lc_callbacks_nb carries a widget view (application/vnd.jupyter.widget-
// view+json) and a static twin: text/plain and script-free text/html whose root element has
// class "lcnb-twin". A trusted notebook saved without widget state (JupyterLab's default) and
// reopened has no model for the view; @jupyter-widgets/jupyterlab-manager then writes "Error
// displaying widget: model not found" and never tries the output's other mime types. This
// plugin watches each notebook's outputs and, for that error only and only on an output whose
// data holds our twin, puts the twin in the renderer's place, rendered by JupyterLab's own
// text/html renderer as *untrusted* HTML (so JupyterLab's sanitizer applies).
//
// Never touched: a live or restored panel (no error), other packages' widgets (no twin),
// an output already replaced. No network, no dependency beyond JupyterLab's shared packages.

import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';

const WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json';
const HTML = 'text/html';
const MODEL_NOT_FOUND = 'Error displaying widget: model not found';
const TWIN_CLASS = 'lcnb-twin';
const OUTPUT_CLASS = 'jp-OutputArea-output';
const FALLBACK_CLASS = 'lcnb-twin-fallback';

/** The twin's HTML in an output's data, or null when the output is not one of our boards. */
function twinHtml(data) {
  if (!data || typeof data !== 'object' || !(WIDGET_VIEW in data)) {
    return null;
  }
  let html = data[HTML];
  if (Array.isArray(html)) {
    html = html.join('');
  }
  if (typeof html !== 'string' || !html.includes(TWIN_CLASS)) {
    return null;
  }
  // DOMParser documents are inert: no script runs, nothing is fetched.
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const root = doc.body && doc.body.firstElementChild;
  return root && root.classList.contains(TWIN_CLASS) ? html : null;
}

/** Is this node jupyterlab-manager's "model not found" message (and nothing else)? */
function isModelNotFound(node) {
  return node.childElementCount === 0 && node.textContent.trim() === MODEL_NOT_FOUND;
}

/** The output area, its child panel, the renderer widget and the output's index for a node. */
function locate(notebook, node) {
  for (const cell of notebook.widgets) {
    const area = cell.model && cell.model.type === 'code' ? cell.outputArea : null;
    if (!area || !area.node.contains(node)) {
      continue;
    }
    const children = area.widgets || [];
    for (let index = 0; index < children.length; index++) {
      const child = children[index];
      const inner = child.widgets || [];
      const renderer = inner.find(w => w.node === node);
      if (renderer) {
        return { area, child, renderer, index };
      }
    }
    return null;
  }
  return null;
}

async function fallBack(notebook, node, rendermime, handled) {
  const found = locate(notebook, node);
  if (!found) {
    return;
  }
  const { area, child, renderer, index } = found;
  if (index >= area.model.length) {
    return;
  }
  handled.add(node); // looked at once, ours or not
  const html = twinHtml(area.model.get(index).data);
  if (html === null) {
    return; // not one of our boards: left as it is
  }
  const registry = area.rendermime || rendermime;
  const twin = registry.createRenderer(HTML);
  twin.addClass(OUTPUT_CLASS);
  twin.addClass(FALLBACK_CLASS);
  try {
    await twin.renderModel(
      new MimeModel({ data: { [HTML]: html }, metadata: {}, trusted: false })
    );
  } catch (err) {
    console.error('lc-callbacks-nb: the static twin could not be rendered', err);
    twin.dispose();
    return;
  }
  // Still the same error in the same place? (The output may have been cleared or re-rendered
  // meanwhile; then the new state wins.)
  const at = child.isDisposed ? -1 : child.widgets.indexOf(renderer);
  if (at < 0 || renderer.isDisposed || !isModelNotFound(renderer.node)) {
    twin.dispose();
    handled.delete(node);
    return;
  }
  child.insertWidget(at, twin);
  renderer.dispose();
}

const watched = new WeakSet();

function watch(panel, rendermime) {
  if (watched.has(panel)) {
    return;
  }
  watched.add(panel);
  const notebook = panel.content;
  const handled = new WeakSet();
  let timer = 0;

  const scan = () => {
    timer = 0;
    if (notebook.isDisposed) {
      return;
    }
    for (const node of notebook.node.querySelectorAll(`.${OUTPUT_CLASS}`)) {
      if (!handled.has(node) && isModelNotFound(node)) {
        void fallBack(notebook, node, rendermime, handled);
      }
    }
  };
  const schedule = () => {
    if (!timer) {
      timer = window.setTimeout(scan, 0);
    }
  };
  const observer = new MutationObserver(schedule);
  observer.observe(notebook.node, { childList: true, subtree: true });
  panel.disposed.connect(() => {
    observer.disconnect();
    window.clearTimeout(timer);
  });
  schedule();
}

const plugin = {
  id: 'lc-callbacks-nb:twin-fallback',
  description:
    'Shows the static twin of an lc_callbacks_nb run board when its widget model is gone.',
  autoStart: true,
  requires: [INotebookTracker, IRenderMimeRegistry],
  activate: (app, tracker, rendermime) => {
    tracker.forEach(panel => watch(panel, rendermime));
    tracker.widgetAdded.connect((_, panel) => watch(panel, rendermime));
  }
};

export default plugin;
