# The two commands of the README:
#   make demo   set everything up and run the main job on the embedded default
#   make test   set everything up and run the whole test suite
.PHONY: setup setup-dev demo test lint bench

setup:
	scripts/setup.sh

setup-dev:
	scripts/setup.sh --dev

demo: setup
	.venv/bin/python -m backend demo

test: setup-dev
	scripts/services.sh
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/python -m pytest

lint: setup-dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

bench: setup-dev
	.venv/bin/python -m bench.bench_llm_server
