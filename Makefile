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

test: setup  ## the whole test suite (unit, static, integration on the real embedded stack)
	$(VENV)/python -m pytest

test-unit: setup
	$(VENV)/python -m pytest tests/unit tests/static

test-integration: setup
	$(VENV)/python -m pytest tests/integration

lint: setup
	$(VENV)/ruff check .

up: setup-demo
	$(VENV)/radiolake stack up

down:
	$(VENV)/radiolake stack down

status:
	$(VENV)/radiolake stack status

bench: setup  ## benchmarks, each printing ratios against a reference measured in the same run
	$(VENV)/python -m benchmarks

clean-state: down  ## delete the embedded stack's data (asks no questions)
	rm -rf .radiolake
