# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint docs bench bench-quality bench-speed bench-semantic bench-scale bench-rerank bench-ranker bench-ranker-latency bench-load bench-live bench-milvus bench-spelling bench-events-load bench-interleaving bench-events-learning bench-query-understanding clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-install whenever the package metadata or the pins change.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/shopmatch demo

# Both cores: modules spread over workers (tests/conftest.py groups them; the demo index is built once).
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

# The documentation site (docs/ + mkdocs.yml) into site/; --strict fails on any broken link or anchor.
docs: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[docs]"
	$(BIN)/mkdocs build --strict --site-dir site

# Canonical benchmarks (protocols: ../shared/docs/benchmarks.md): each prints markdown tables and writes
# bench/results/NAME.json (+ NAME.md). One-off studies live in bench/experiments/ (see its README).
RESULTS := bench/results
SHOP    := demo-index/shop
ESCI_INDEX ?= $(SHOP)

$(SHOP): $(STAMP)
	$(BIN)/shopmatch demo --no-serve --index-dir demo-index

bench: bench-quality bench-speed bench-semantic bench-load bench-live

bench-quality: $(STAMP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/quality.py --json $(RESULTS)/quality.json | tee $(RESULTS)/quality.md

bench-speed: $(STAMP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/speed.py --json $(RESULTS)/speed.json | tee $(RESULTS)/speed.md

bench-semantic: $(STAMP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/semantic.py --json $(RESULTS)/semantic.json | tee $(RESULTS)/semantic.md

# A million generated products: the catalog, the vectors (hours, resumable), then the tables.
bench-scale: $(STAMP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/make_scale_catalog.py
	$(BIN)/python bench/dense_scale.py encode
	$(BIN)/python bench/dense_scale.py run --json $(RESULTS)/scale.json | tee $(RESULTS)/scale.md

# Cross-encoder re-rankers, 5-fold CV on esci-us-150 (hours on a CPU), then the table.
bench-rerank: $(STAMP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/rerank.py cv --variant full
	$(BIN)/python bench/rerank.py table --json $(RESULTS)/rerank.json | tee $(RESULTS)/rerank.md

# The learned ranker held out: esci-us-150 5 folds (nested) and Home Depot train → dev; prebuilt indexes.
bench-ranker: $(STAMP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/ranker.py --json $(RESULTS)/ranker.json | tee $(RESULTS)/ranker.md

# The learned-ranker stage alone (features of the top 100 + predict), against the per-record reference; prebuilt indexes.
bench-ranker-latency: $(STAMP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/ranker_latency.py --json $(RESULTS)/ranker_latency.json | tee $(RESULTS)/ranker_latency.md

bench-load: $(SHOP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/load.py $(SHOP) --json $(RESULTS)/load.json | tee $(RESULTS)/load.md

bench-live: $(SHOP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/live_updates.py $(SHOP) --json $(RESULTS)/live_updates.json | tee $(RESULTS)/live_updates.md

# POST /events: 32 clients × 60 s, bad input, then SIGKILL and every acknowledged event checked in the log.
bench-events-load: $(SHOP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/events_load.py $(SHOP) --json $(RESULTS)/events_load.json | tee $(RESULTS)/events_load.md

# How often team-draft interleaving picks the ranker with the higher true NDCG@10 (simulated shoppers).
bench-interleaving: $(SHOP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/interleaving_power.py --index $(ESCI_INDEX) --json $(RESULTS)/interleaving_power.json \
		| tee $(RESULTS)/interleaving_power.md

# Synonyms (mined, accepted by a fixed rule) and category intent: esci-us-150 5 folds, Home Depot dev.
bench-query-understanding: $(STAMP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/query_understanding.py --json $(RESULTS)/query_understanding.json \
		| tee $(RESULTS)/query_understanding.md

# The Milvus backend against in-process: parity, latency and ingest at 10k and 100k, 1 vs 2 workers.
bench-milvus: $(STAMP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/milvus.py --only parity --json $(RESULTS)/milvus-parity.json | tee $(RESULTS)/milvus-parity.md
	$(BIN)/python bench/milvus.py --only scale --sizes 10000 100000 --json $(RESULTS)/milvus-scale.json \
		| tee $(RESULTS)/milvus-scale.md
	$(BIN)/python bench/milvus.py --only load --json $(RESULTS)/milvus-load.json | tee $(RESULTS)/milvus-load.md

clean:
	rm -rf $(VENV) demo-index

# Spelling correction: typo'd and real queries on esci-us-150 and Home Depot dev, latency on and off.
bench-spelling: $(STAMP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/spelling.py --latency --json $(RESULTS)/spelling.json | tee $(RESULTS)/spelling.md

# Rankers learned from simulated shopper events (HD train sample, esci 5 folds) against the ceiling.
bench-events-learning: $(STAMP)
	@mkdir -p $(RESULTS)
	$(BIN)/python bench/events_learning.py --json $(RESULTS)/events_learning.json --md $(RESULTS)/events_learning.md
