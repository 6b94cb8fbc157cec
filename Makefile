# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv and install the project (with its test extra) into it first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: demo test test-fast lint bench clean notebooks js labextension docs dist

# labextension/package.json holds the version (pyproject.toml reads it at build time).
$(STAMP): pyproject.toml labextension/package.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m lc_callbacks_nb.offline.demo notebooks/async_callbacks.ipynb

test: $(STAMP) $(DOCS_STAMP)
	$(PY) -m ruff check lc_callbacks_nb tests benchmarks tools docs
	$(PY) -m mypy
	$(PY) -m pytest tests notebooks --nbval --nbval-current-env -p lc_callbacks_nb.testing.nbval \
		--nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider

# Everything but the browser tests (no Chromium needed).
test-fast: $(STAMP)
	$(PY) -m pytest tests notebooks --nbval --nbval-current-env -p lc_callbacks_nb.testing.nbval \
		--nbval-sanitize-with notebooks/sanitize.cfg -m 'not browser'

# Re-execute the guide notebooks in place (offline, widget state kept), saving what nbval compares.
notebooks: $(STAMP)
	env -u OPENAI_API_KEY $(VENV)/bin/jupyter execute --inplace notebooks/*.ipynb

lint: $(STAMP)
	$(PY) -m ruff check lc_callbacks_nb tests benchmarks tools docs
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# Rebuild the board renderer (lc_callbacks_nb/views/static/board.bundle.js) from its pinned npm
# sources: needs node + npm; nothing else does (the bundle is committed; tests/test_bundle.py
# fails when it disagrees with its sources). Its licence report feeds THIRD_PARTY_NOTICES.md.
js:
	cd lc_callbacks_nb/views/js && npm ci --no-audit --no-fund && node build.mjs
	$(PYTHON) tools/third_party_notices.py

# Rebuild the JupyterLab / Notebook 7 extension (lc_callbacks_nb/labextension/, committed and
# shipped in the wheel as share/jupyter/labextensions/lc-callbacks-nb) from labextension/: needs
# node + npm; nothing else does (tests/test_labextension.py fails when the build disagrees with
# its sources). The last step refreshes the venv's installed copy (an editable install copies it).
labextension: $(STAMP)
	cd labextension && npm ci --no-audit --no-fund --ignore-scripts && \
		PATH="$(abspath $(VENV))/bin:$$PATH" jupyter labextension build .
	$(PY) labextension/stamp.py
	$(PY) tools/third_party_notices.py
	$(PY) -m pip install -q --no-deps -e .

# --- release and docs site (tests/test_installed.py, tests/browser/test_docs_site.py) ---------
# The guide as a static site: README.md + notebooks/*.ipynb rendered from their saved outputs,
# offline (docs/conf.py). Its tools come from the `docs` extra.
$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(VENV)/bin/sphinx-build -q -W --keep-going -c docs . docs/_build/html
	@echo "docs/_build/html/index.html"

# The release archives (sdist, and the wheel built from it), as `python -m build` makes them.
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist .

clean:
	rm -rf $(VENV) .pytest_cache docs/_build dist
