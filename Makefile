# rasd: the two commands of the quick start are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rasd-installed
TEST_STAMP := $(VENV)/.rasd-test-installed
SAMPLE := rasd/data/sample
OUT ?= out

.PHONY: demo test test-unit test-eval lint bench clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

# The tests also need the test tools and pyspark (the Spark engine's equivalence test).
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,spark]'
	touch $(TEST_STAMP)

install: $(STAMP)

demo: $(STAMP)
	mkdir -p $(OUT)
	rm -f $(OUT)/sample.db $(OUT)/sample.db-wal $(OUT)/sample.db-shm
	$(BIN)/rasd analyze $(SAMPLE)/articles $(SAMPLE)/pages $(SAMPLE)/feeds $(SAMPLE)/jsonl \
		--meta $(SAMPLE)/manifest.csv --db $(OUT)/sample.db --report $(OUT)/report.json
	@echo
	@echo "Results: store $(OUT)/sample.db, JSON report $(OUT)/report.json"
	@echo "Explore: $(BIN)/rasd stories --db $(OUT)/sample.db"
	@echo "Open the app: $(BIN)/rasd serve --db $(OUT)/sample.db  then http://127.0.0.1:8000/"

# Unit tests, then the eval tests (skipped, and said so, when ../shared/data is absent).
# pytest exits 5 when a selection holds no test; that is not a failure here.
test: $(TEST_STAMP)
	$(BIN)/python -m pytest -m "not eval" -q || [ $$? -eq 5 ]
	$(BIN)/python -m pytest -m eval -q -s || [ $$? -eq 5 ]

test-unit: $(TEST_STAMP)
	$(BIN)/python -m pytest -m "not eval" -q || [ $$? -eq 5 ]

test-eval: $(TEST_STAMP)
	$(BIN)/python -m pytest -m eval -q -s || [ $$? -eq 5 ]

lint: $(TEST_STAMP)
	$(BIN)/ruff check rasd tests bench scripts

bench: $(STAMP)
	$(BIN)/python bench/ingest_bench.py

clean:
	rm -rf $(OUT) build dist *.egg-info .pytest_cache .ruff_cache
