.PHONY: demo test lint format

# Run Vigil with demo data (see README).
demo:
	bin/demo

# Run the whole test suite (see README).
test:
	bin/test

lint:
	bin/venv && .venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports

format:
	bin/venv && .venv/bin/ruff check --fix . && .venv/bin/ruff format .
