# garrison: `make audit` (set up + audit this host) and `make test` (set up + all tests).
# Both work on a fresh Debian 12 machine as root: they install the Debian tools, a venv and the
# Python dependencies, and are cheap to run again (stamps skip what is already done).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Tools garrison drives or audits with; installed without starting their services.
APT_PACKAGES := python3 python3-venv python3-pip openssh-server openssh-client nftables iptables \
	iproute2 lynis aide restic bubblewrap auditd debootstrap git gnupg libcap2-bin util-linux \
	procps psmisc kmod e2fsprogs ca-certificates \
	mosquitto \
	gcc libc6-dev
ARGS ?=

.PHONY: audit test setup setup-dev system-deps lint typecheck unit bench clean help

help:
	@echo "make audit   set up, then audit this host (ARGS='--format json' etc. are passed on)"
	@echo "make test    set up, then ruff, mypy --strict and the whole test suite"
	@echo "make bench   set up, then the side-by-side benchmarks in bench/"

audit: setup
	@$(BIN)/garrison audit $(ARGS); rc=$$?; \
	  if [ $$rc -eq 1 ]; then echo "(exit 1: findings at or above the --fail-on threshold)"; exit 0; fi; exit $$rc

test: setup-dev lint typecheck unit

lint:
	$(BIN)/ruff check src tests $(wildcard bench)

typecheck:
	$(BIN)/mypy --strict src/garrison

unit:
	$(BIN)/pytest -q $(ARGS)

bench: setup-dev
	$(BIN)/python bench/run_all.py $(ARGS)

setup: system-deps $(VENV)/.installed
setup-dev: system-deps $(VENV)/.installed-dev

system-deps: $(VENV)/.system-deps

$(VENV)/.system-deps: Makefile
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "garrison: need root to install: $$missing" >&2; exit 2; fi; \
	  echo "installing Debian packages: $$missing"; \
	  blocker=0; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; blocker=1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/tmp/garrison-apt.log 2>&1; rc=$$?; \
	  [ $$blocker = 1 ] && rm -f /usr/sbin/policy-rc.d; \
	  if [ $$rc -ne 0 ]; then tail -20 /tmp/garrison-apt.log >&2; exit $$rc; fi; \
	fi
	@mkdir -p $(VENV) && touch $@

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
