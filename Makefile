PYTHON ?= python3

.PHONY: setup run test bench

setup:
	PYTHON=$(PYTHON) bash scripts/setup.sh
# EK-FAC influence (extra `influence`): --no-deps, as kronfluence declares torchvision, which would replace the pinned torch
	$(PYTHON) -m pip install --quiet --no-deps "kronfluence==1.0.1" "einops>=0.8" "opt-einsum>=3.3" "einconv>=0.1"

run: setup
	$(PYTHON) -m unlearnlab run

test: setup
	$(PYTHON) -m pip install --quiet -e ".[test,ray]" && $(PYTHON) -m pytest -n auto --dist loadfile

bench: setup
	$(PYTHON) benchmarks/wall_time.py
