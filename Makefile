# tapaudit: `make demo` and `make test` do all their own set-up on a fresh Debian machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DB ?= data
DEMO_PORT ?= 8501
REAL_CAPTURES := $(wildcard pcaps/real/*.pcap pcaps/real/*.pcapng)

.PHONY: demo test lint typecheck debs demo-debs bench clean lab

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

# The lab with its bench file (its LAN prefixes), the real captures with the default LAN.
demo: $(STAMP) demo-debs
	$(BIN)/tapaudit replay --db $(DEMO_DB) -q $(REAL_CAPTURES)
	$(BIN)/tapaudit replay --db $(DEMO_DB) --bench pcaps/lab/lab.bench.yaml --phases pcaps/lab/lab.phases.csv pcaps/lab/lab.pcapng
	$(BIN)/tapaudit captures --db $(DEMO_DB)
	$(BIN)/tapaudit destinations --db $(DEMO_DB)
	$(BIN)/tapaudit measures --db $(DEMO_DB)
	$(BIN)/tapaudit periods --db $(DEMO_DB)
	$(BIN)/tapaudit uploads --db $(DEMO_DB)
	$(BIN)/tapaudit assess --db $(DEMO_DB) --declaration pcaps/lab/declarations
	$(BIN)/tapaudit findings --db $(DEMO_DB)
	$(BIN)/tapaudit report --db $(DEMO_DB) --device e0:06:30:5a:11:21 -o $(DEMO_DB)/report-smartwatch.html
	@echo "dashboard on http://127.0.0.1:$(DEMO_PORT) (Ctrl-C stops it)"
	$(BIN)/tapaudit dashboard --db $(DEMO_DB) --port $(DEMO_PORT)

debs:
	./scripts/ensure-debs.sh

# the report's CJK font and WeasyPrint's libraries (the demo writes a report)
demo-debs:
	./scripts/ensure-debs.sh demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) debs lint typecheck
	$(BIN)/pytest -n 2 --dist loadgroup -q

lab: $(STAMP)
	$(PY) -m pcaps.synth.generate_lab --out-dir pcaps/lab
	$(PY) -m pcaps.synth.firmware --out-dir pcaps/lab

bench: $(STAMP) debs
	$(PY) bench/replay.py --packets 1000000 --rounds 3 --write
	$(PY) bench/replay.py --memory-packets 10000000 --write

clean:
	rm -rf $(VENV) $(DEMO_DB) .pytest_cache .mypy_cache .ruff_cache
