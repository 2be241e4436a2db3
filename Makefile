PYTHON ?= python3

.PHONY: setup run test bench

setup:
	PYTHON=$(PYTHON) bash scripts/setup.sh

run: setup
	$(PYTHON) -m unlearnlab run

test: setup
	$(PYTHON) -m pytest

bench: setup
	$(PYTHON) benchmarks/wall_time.py
