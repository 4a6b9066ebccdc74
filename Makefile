# Two commands: `make run` serves the Loire flow, `make test` checks everything.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint typecheck pytest rules promtool chromium clean bench bench-report image-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	@if [ -n "$$TWILIO_AUTH_TOKEN" ]; then $(BIN)/ivr serve; else $(BIN)/ivr serve --dev; fi

promtool:
	@sh tools/ensure-promtool.sh

chromium:
	@sh tools/ensure-chromium.sh

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check ivr tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy --strict ivr tests bench

rules: promtool
	promtool check rules metrics/prometheus/rules.yml
	promtool test rules metrics/prometheus/rules_test.yml

pytest: $(VENV)/.installed-dev promtool chromium
	$(BIN)/pytest -q
	@echo "browser screenshots: $(CURDIR)/var/screenshots"

test: lint typecheck rules pytest

bench-report: $(VENV)/.installed
	$(BIN)/python bench/report_year.py

# make bench: ivr serve against the bare stack (table + var/bench/bench.json, about 6 min);
# QUICK=1 for the CI's short run (< 1 min), SOAK=600 adds a ten-minute soak (RSS before/after).
# It fails only when a call is lost or miscounted, never on a speed figure.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.run $(if $(QUICK),--quick) $(if $(SOAK),--soak $(SOAK))

# make image-test: the image built, run with compose's PostgreSQL and Prometheus, one signed
# call, a clean SIGTERM stop (needs a Docker engine; see README, "Running in containers").
image-test:
	sh tools/image-test.sh

clean:
	rm -rf $(VENV) build *.egg-info
