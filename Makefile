# Doorstep: `make run` starts the whole stack, `make test` runs every test. Both set up what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
RASA_VENV := .venv-rasa
APP_READY := $(VENV)/.installed
APP_DEV_READY := $(VENV)/.installed-dev
RASA_READY := $(RASA_VENV)/.installed
UV_VERSION := 0.13.9
UV := var/tools/bin/uv
MODEL := $(shell $(PYTHON) bot/processes/model_files.py)
MODEL_CACHE ?= $(HOME)/.cache/doorstep/models
# pytest-xdist workers for `make test`: the end-to-end tests wait on processes most of the time, so two
# workers share two cores well (tests/conftest.py keeps each file, and the e2e files, on one worker).
TEST_WORKERS ?= 2
WEBCHAT_JS := bot/web/static/vendor/webchat.js
WEBCHAT_VERSION := 1.0.1
LEAFLET_JS := bot/web/static/vendor/leaflet/leaflet.js
LEAFLET_VERSION := 1.9.4
CHROMIUM := /usr/bin/chromium
HAPROXY := /usr/sbin/haproxy

.PHONY: help run test setup model db validate crossval eval-nlu bench bench-notify bench-scale lint clean screenshots eval-eta

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# The installer: uv, pinned, from PyPI into var/tools once. Without it the runtimes are installed with pip (slower).
$(UV):
	@echo "==> uv $(UV_VERSION) (installer)"
	@$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-compile --root-user-action=ignore \
	  --target $(UV:/bin/uv=) uv==$(UV_VERSION) 2>&1 | { grep -v '^WARNING: Location' || true; }; \
	  test -x $@ || echo "warning: could not install uv $(UV_VERSION) from PyPI: installing with pip instead" >&2

# The app runtime: requirements.txt (web, actions, scheduler); requirements-dev.txt adds tests, benchmarks, linters.
$(APP_READY): requirements.txt | $(UV)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: the app runtime needs Python >= 3.11 as $(PYTHON)" >&2; exit 1; }
	@echo "==> app runtime ($(VENV))"
	@scripts/install-venv $(UV) $(VENV) "$$($(PYTHON) -c 'import sys; print(sys.executable)')" requirements.txt
	@touch $@

$(APP_DEV_READY): requirements-dev.txt $(APP_READY) | $(UV)
	@echo "==> test, benchmark and lint tools ($(VENV))"
	@scripts/install-venv $(UV) $(VENV) "$$($(PYTHON) -c 'import sys; print(sys.executable)')" requirements-dev.txt
	@touch $@

$(RASA_READY): requirements-rasa.txt | $(UV)
	@echo "==> Rasa runtime ($(RASA_VENV))"
	@py310=$$(scripts/find-python310) || exit 1; scripts/install-venv --exact $(UV) $(RASA_VENV) $$py310 requirements-rasa.txt
	@touch $@

# The model is named by a hash of config, domain, data and the Rasa pins: it is trained only when one
# of them changed, and kept in $(MODEL_CACHE) so a fresh clone on the same machine reuses it.
$(MODEL): | $(RASA_READY)
	@mkdir -p models
	@if [ -f $(MODEL_CACHE)/$(notdir $(MODEL)) ]; then \
	  echo "==> model from cache"; cp $(MODEL_CACHE)/$(notdir $(MODEL)) $@; \
	else \
	  echo "==> training $(notdir $(MODEL))"; \
	  SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=3 RASA_TELEMETRY_ENABLED=false \
	    $(RASA_VENV)/bin/rasa train --quiet --fixed-model-name $(basename $(basename $(notdir $(MODEL)))) --out models >var-train.log 2>&1 \
	    || { tail -30 var-train.log; rm -f var-train.log; exit 1; }; rm -f var-train.log; \
	  mkdir -p $(MODEL_CACHE) && cp $@ $(MODEL_CACHE)/; \
	fi

# The web chat widget (rasa-webchat, Apache-2.0): a self-contained bundle from the npm registry,
# fetched at set-up, served by the web app; nothing is downloaded at run time.
$(WEBCHAT_JS):
	@echo "==> web chat widget rasa-webchat@$(WEBCHAT_VERSION)"
	@mkdir -p $(dir $@) var/npm
	@cd var/npm && npm pack --silent rasa-webchat@$(WEBCHAT_VERSION) >/dev/null
	@tar -xzf var/npm/rasa-webchat-$(WEBCHAT_VERSION).tgz -C var/npm package/lib/index.js package/LICENSE
	@cp var/npm/package/lib/index.js $@ && cp var/npm/package/LICENSE $(dir $@)webchat.LICENSE

# The tracking page's map (Leaflet, BSD-2-Clause): from the npm registry at set-up, served by the web app.
$(LEAFLET_JS):
	@echo "==> map library leaflet@$(LEAFLET_VERSION)"
	@mkdir -p $(dir $@) var/npm
	@cd var/npm && npm pack --silent leaflet@$(LEAFLET_VERSION) >/dev/null
	@rm -rf var/npm/leaflet && mkdir -p var/npm/leaflet
	@tar -xzf var/npm/leaflet-$(LEAFLET_VERSION).tgz -C var/npm/leaflet package/dist/leaflet.js package/dist/leaflet.css package/dist/images package/LICENSE
	@cp -r var/npm/leaflet/package/dist/. $(dir $@) && cp var/npm/leaflet/package/LICENSE $(dir $@)LICENSE
	@rm -f $(dir $@)*.map

# Browser tests drive Debian's chromium with Playwright (no browser download).
$(CHROMIUM):
	@echo "==> chromium (Debian) for the browser tests"
	@if [ "$$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
	  || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; \
	else echo "error: browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi

# Issue 17: Debian's HAProxy in front of the replicas (make run-scaled, tests/scale).
$(HAPROXY):
	@echo "==> haproxy (Debian) for the scaled set"
	@if [ "$$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null \
	  || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >/dev/null; }; \
	else echo "error: the scaled set needs Debian's haproxy: sudo apt-get install haproxy" >&2; exit 1; fi

# Independent steps run side by side (the Rasa runtime and the model are the longest).
setup: ## install both runtimes, train the model, set up the database
	@$(MAKE) --no-print-directory -s -j4 $(APP_READY) $(RASA_READY) $(MODEL) $(WEBCHAT_JS) $(LEAFLET_JS) db

model: $(MODEL) ## train the Rasa model if config, domain or data changed

db: $(APP_READY) ## migrate the database and build the demo world if empty
	@$(VENV)/bin/python -m bot setup

# `make run` waits only for what the web app needs; the Rasa runtime and the model are made by the
# rasa process itself (Procfile), so the pages answer while the model trains on a first run.
run: ## start rasa, actions, web and scheduler (Ctrl-C stops them all)
	@$(MAKE) --no-print-directory -s -j4 $(APP_READY) $(WEBCHAT_JS) $(LEAFLET_JS) db
	@echo ""
	@echo "  Doorstep is starting. Open:"
	@echo "    http://localhost:8000/            start page"
	@echo "    http://localhost:8000/demo/phone  demo phone: text the bot as a customer"
	@echo "    http://localhost:8000/demo/mailbox  the emails customers got"
	@echo "    http://localhost:8000/ops/notifications  every message and its timeline"
	@echo "    http://localhost:8000/agent       agent console (python -m bot agent create --email you@example.com)"
	@echo "    http://localhost:8000/healthz     every component's health"
	@echo ""
	@$(VENV)/bin/honcho start -f Procfile

test: ## run the whole test suite (types, unit, Rasa data, end-to-end)
	@$(MAKE) --no-print-directory -s -j4 $(APP_DEV_READY) $(RASA_READY) $(MODEL) $(WEBCHAT_JS) $(LEAFLET_JS) $(CHROMIUM) $(HAPROXY)
	@$(RASA_VENV)/bin/rasa data validate --fail-on-warnings --quiet >/dev/null 2>var-validate.log || { cat var-validate.log; rm -f var-validate.log; exit 1; }; rm -f var-validate.log
	@$(VENV)/bin/ruff check bot actions addons tests bench
	@$(VENV)/bin/mypy bot actions
	@echo "==> dialogue test stories"
	@SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=3 $(RASA_VENV)/bin/rasa test core --model $(MODEL) \
	  --stories tests/stories --fail-on-prediction-errors --out var/rasa-test --no-plot >var-stories.log 2>&1 \
	  || { grep -v Warning var-stories.log | tail -30; cat var/rasa-test/failed_test_stories.yml; rm -f var-stories.log; exit 1; }
	@grep -o "Correct: .*" var-stories.log | sed 's/^/    stories /'; rm -f var-stories.log
	@$(VENV)/bin/python -m pytest -n $(TEST_WORKERS)

validate: $(RASA_READY) ## rasa data validate, failing on warnings
	@$(RASA_VENV)/bin/rasa data validate --fail-on-warnings

crossval: $(RASA_READY) ## NLU cross-validation report into docs/nlu/crossval
	@$(RASA_VENV)/bin/rasa test nlu --nlu data/nlu --cross-validation --folds 3 --out docs/nlu/crossval --no-plot

eval-nlu: $(MODEL) ## intent accuracy and off-topic rejection per language on the blind sets in tests/nlu/blind
	@SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=3 RASA_TELEMETRY_ENABLED=false \
	  $(RASA_VENV)/bin/python -m bench.eval_nlu --model $(MODEL)

bench: setup $(APP_DEV_READY) ## conversation throughput/latency vs a stock `rasa init` bot, then the notification wave
	@$(VENV)/bin/python -m bench.run
	@$(VENV)/bin/python -m bench.notify_run

bench-notify: $(APP_DEV_READY) ## the notification wave alone: 100,000 SMS through the twilio library -> bench/notify_results.json
	@$(VENV)/bin/python -m bench.notify_run

SCALE_SIZES ?= 10000,100000
bench-scale: $(APP_DEV_READY) ## planning cost per change in flight (SCALE_SIZES=10000,100000,1000000), dispatch by 1, 2 and 4 Celery workers, event -> SMS p95 -> bench/scale_results.json
	@$(VENV)/bin/python -m bench.scale --sizes $(SCALE_SIZES)

# Issue 17: the scaled-out set on this machine's PostgreSQL, Redis and RabbitMQ (bot/processes/scaled.py).
.PHONY: run-scaled
run-scaled: ## HAProxy + 2 rasa, 2 actions, 2 web replicas, the scheduler and 2 Celery workers (Ctrl-C stops them all)
	@$(MAKE) --no-print-directory -s -j4 $(APP_READY) $(RASA_READY) $(MODEL) $(WEBCHAT_JS) $(LEAFLET_JS) $(HAPROXY)
	@$(VENV)/bin/python -m bot.processes.scaled

# Issue 12: long runs, not part of `make test`.
.PHONY: soak chaos
soak: setup $(APP_DEV_READY) ## SOAK_MINUTES (30) of 20 conversations over SMS, web chat, REST + sandbox day + a wave -> bench/soak_results.json
	@$(VENV)/bin/python -m bench.soak

chaos: setup $(APP_DEV_READY) ## SIGKILL rasa, actions, web, scheduler in turn under supervisord, mid-conversation -> bench/chaos_results.json
	@$(VENV)/bin/python -m bench.chaos

screenshots: setup $(APP_DEV_READY) $(CHROMIUM) ## README screenshots of the tracking page and console -> docs/screenshots
	@PYTHONPATH=. $(VENV)/bin/python scripts/screenshots.py

# Issue 6: the ETA engine measured on real courier data (LaDe-D Jilin, ../shared/data/lade-d-jilin/).
eval-eta: $(APP_DEV_READY) ## ETA engine vs naive and gradient boosting on LaDe-D -> bench/eta_report.json
	@$(VENV)/bin/python -m bench.eta_eval

lint: $(APP_DEV_READY) ## ruff, and mypy on bot/ and actions/
	@$(VENV)/bin/ruff check bot actions addons tests bench
	@$(VENV)/bin/mypy bot actions

clean: ## remove trained models and local data (keeps the venvs)
	rm -rf models var
