# humekit: two commands. `make demo` measures datasets/recordings.csv end to end against the embedded emulator
# (`humekit run ... --emulator`, outputs in out/demo/); `make test` runs every test and every notebook (nbval).
# Both create .venv (if needed) and install humekit with its test extras into it.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; \
	done)
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test install clean bench reliability

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "humekit needs Python 3.11 or newer on PATH (python3.11, python3.12, ...)"; exit 1; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test,plot,dask]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/humekit run datasets/recordings.csv --id-col id --source-col path \
		--models prosody face language --out out/demo --emulator

test: $(STAMP)
	$(VENV)/bin/python -m pytest tests notebooks --nbval-lax --nbval-current-env \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg

reliability: $(STAMP)
	$(VENV)/bin/python -m tests.reliability.report

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/flatten.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
