# Radio Star Lakehouse — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv/bin

.PHONY: setup setup-demo demo test test-unit test-integration lint up down status bench clean-state

setup:  ## install everything, test tools included (idempotent)
	@scripts/setup.sh --for test

setup-demo:  ## install what the demo needs, nothing only the tests need (idempotent)
	@scripts/setup.sh --for demo

# The Spark start-up archive is only an optimisation: trained in the background once the demo has run.
demo: setup-demo  ## bring the embedded stack up and run the pipeline through Airflow
	$(VENV)/radiolake demo
	@scripts/setup.sh --spark-cds-in-background

# Two xdist workers (the machine has 2 cores): the tests on the shared stack go to one of them as one group
# (tests/conftest.py), everything else to the other. Each run writes .test-reports/durations.txt and junit.xml.
PARALLEL := -n 2 --dist loadgroup

test: setup  ## the whole test suite (unit, static, integration on the real embedded stack)
	$(VENV)/python -m pytest $(PARALLEL)

test-unit: setup
	$(VENV)/python -m pytest $(PARALLEL) tests/unit tests/static

test-integration: setup
	$(VENV)/python -m pytest $(PARALLEL) tests/integration

lint: setup
	$(VENV)/ruff check .

up: setup-demo
	$(VENV)/radiolake stack up

down:
	$(VENV)/radiolake stack down

status:
	$(VENV)/radiolake stack status

# The LSDB peer runs in its own venv (.venv-bench, pins in benchmarks/envs/lsdb): never a product dependency.
bench: setup  ## benchmarks, each printing ratios against a reference measured in the same run
	$(VENV)/python -c "from benchmarks.crossmatch.lsdb_peer import ensure_venv; print(ensure_venv())"
	$(VENV)/python -m benchmarks

clean-state: down  ## delete the embedded stack's data (asks no questions)
	rm -rf .radiolake
