# humekit: three commands. `make demo` measures datasets/recordings.csv end to end against the embedded emulator
# (`humekit run ... --emulator`, outputs in out/demo/); `make test` lints (ruff: the layers' import rules), type-checks humekit (mypy,
# [tool.mypy] in pyproject.toml), then runs every test and every notebook (nbval);
# `make lab` starts JupyterLab on 127.0.0.1 on notebooks/ (humekit[lab]: jupyterlab, ipywidgets).
# All create .venv (if needed) and install humekit with its test extras into it.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; \
	done)
VENV := .venv
STAMP := $(VENV)/.installed-stamp
LAB_STAMP := $(VENV)/.lab-stamp
BROWSER_STAMP := $(VENV)/.browser-stamp
LAB_ROOT ?= notebooks
LAB_ARGS ?=

.PHONY: demo demo-v1 test install clean bench bench-v1 reliability lab browser-check

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "humekit needs Python 3.11 or newer on PATH (python3.11, python3.12, ...)"; exit 1; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test,plot,dask]'
	@touch $(STAMP)

$(LAB_STAMP): $(STAMP)
	$(VENV)/bin/python -m pip install --quiet -e '.[test,plot,dask,lab]'
	@touch $(LAB_STAMP)

# JupyterLab on loopback, on the notebooks (LAB_ROOT: another folder; LAB_ARGS: more options, e.g. --no-browser).
lab: $(LAB_STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=$(LAB_ROOT) \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

$(BROWSER_STAMP): $(LAB_STAMP)
	$(VENV)/bin/python -m pip install --quiet -e '.[test,plot,dask,lab,browser]'
	@touch $(BROWSER_STAMP)

# 01-quickstart.ipynb run in JupyterLab in headless Chromium (Debian's); screenshots in out/browser-check/.
browser-check: $(BROWSER_STAMP)
	$(VENV)/bin/python .ci/browser_check.py

demo: $(STAMP)
	$(VENV)/bin/humekit run datasets/recordings.csv --api v0 --id-col id --source-col path \
		--models prosody face language --out out/demo --emulator

# The same through Hume's live v1 API, on its embedded emulator: audio in windows, the text row invalid
# (v1 has no language model) and reported; exit status 1 (a row is not ok) is what the demo shows.
demo-v1: $(STAMP)
	$(VENV)/bin/humekit run datasets/recordings-v1.csv --api v1 --id-col id --source-col path \
		--models audio face --out out/demo-v1 --emulator; status=$$?; test $$status -le 1

test: $(STAMP)
	$(VENV)/bin/python -m ruff check humekit tests benchmarks
	$(VENV)/bin/python -m mypy
	$(VENV)/bin/python -m pytest tests notebooks --nbval-lax --nbval-current-env \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg

reliability: $(STAMP)
	$(VENV)/bin/python -m tests.reliability.report

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/flatten.py

# v1, in one run: audio seconds converted per CPU second against PyAV's bare decode, extra peak RSS converting a
# 2-hour file, and requests/s at the default concurrency on the v1 emulator against the official v1 SDK in a plain
# loop (emulator latency 0.3 s and 0). A few minutes on 2 cores; quicker: benchmarks/v1.py --minutes 10 --requests 20
bench-v1: $(STAMP)
	$(VENV)/bin/python benchmarks/v1.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
