# One entry point for every job. `make deps` is idempotent and is run by the
# targets that need it, so `make demo` and `make test` work on a fresh machine.

VENV      ?= .venv
PY        := $(VENV)/bin/python
PIP       := $(VENV)/bin/pip
TARGET    ?= p4sim
BUILD     := build
APT_PKGS  := cpp gcc iproute2 ethtool tcpdump nftables hping3 curl procps mininet
STAMP     := $(VENV)/.deps-stamp

P4_PROGRAMS := forwarding synproxy

.PHONY: all deps build test unit ptf e2e demo mininet bench lint clean

all: build

$(STAMP): pyproject.toml Makefile
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip==24.3.1
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

deps: $(STAMP)

# Compile every program in p4src/ for the software target (P4Info + device config).
build: deps
	@mkdir -p $(BUILD)
	@for p in $(P4_PROGRAMS); do \
	  if [ -f p4src/v1model/$$p.p4 ]; then \
	    $(VENV)/bin/p4sim-compile p4src/v1model/$$p.p4 -o $(BUILD)/p4sim/$$p || exit 1; \
	  fi; \
	done

# The README's test command: unit tests, then the PTF suite on the chosen target.
test: deps build
	$(PY) -m pytest -q -p no:cacheprovider tests
	$(MAKE) --no-print-directory ptf

unit: deps
	$(PY) -m pytest -q -p no:cacheprovider tests/p4sim tests/controller

ptf: deps build
	TARGET=$(TARGET) $(PY) ptf-tests/run.py

e2e: deps build
	$(PY) -m pytest -q -p no:cacheprovider tests/e2e

demo: deps build
	$(PY) -m topo.demo --target $(TARGET)

# The default topology in Mininet (P4SimSwitch, or Bmv2Switch with TARGET=bmv2), the
# synproxy program and its controller, then the Mininet CLI.
mininet: deps build
	$(PY) -m topo.mininet_topo --target $(TARGET) --cli

bench: deps build
	$(PY) -m bench

lint: deps
	$(VENV)/bin/ruff check p4sim controller topo bench tests ptf-tests
	$(VENV)/bin/mypy p4sim controller

clean:
	rm -rf $(BUILD)
