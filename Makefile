# One entry point for every job. `make deps` is idempotent and is run by the
# targets that need it, so `make demo` and `make test` work on a fresh machine.

VENV      ?= .venv
PY        := $(VENV)/bin/python
PIP       := $(VENV)/bin/pip
TARGET    ?= p4sim
BUILD     := build
APT_PKGS  := cpp gcc iproute2 ethtool tcpdump nftables hping3 curl procps mininet iputils-ping
STAMP     := $(VENV)/.deps-stamp
# The P4Runtime release whose protos the stubs are generated from (tools/p4runtime_stubs.py).
P4RUNTIME := 1.6.0
# p4runtime-shell, an outside client in the tests, pins protobuf 3.20 (pure Python on
# 3.11): it gets a virtualenv of its own, which also runs the old-protobuf benchmark.
SHELL_VENV := .venv-shell
SHELL_PKGS := p4runtime-shell==0.0.6 p4runtime==1.4.1 protobuf==3.20.3 grpcio==1.85.1 \
              googleapis-common-protos==1.73.0

P4_PROGRAMS := forwarding synproxy
# The program's constants for Python, generated from the P4 source (tools/p4consts.py).
CONSTS    := controller/p4consts.py
CONSTS_IN := tools/p4consts.py p4src/v1model/target.p4 $(wildcard p4src/common/*.p4)

.PHONY: all deps build test unit ptf e2e demo mininet bench lint clean

all: build

$(STAMP): pyproject.toml Makefile tools/p4runtime_stubs.py
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip==24.3.1
	$(PIP) uninstall -q -y p4runtime p4runtime-shell 2>/dev/null || true  # old protobuf's modules
	$(PIP) install -q -e '.[test,bench,dev]'
	$(PY) tools/p4runtime_stubs.py --version $(P4RUNTIME)
	test -x $(SHELL_VENV)/bin/python || python3 -m venv $(SHELL_VENV)
	$(SHELL_VENV)/bin/pip install -q $(SHELL_PKGS)
	touch $(STAMP)

$(CONSTS): $(CONSTS_IN) | $(STAMP)
	$(PY) tools/p4consts.py --out $@
	touch $@

deps: $(STAMP) $(CONSTS)

# Compile every program in p4src/ for the software target (P4Info + device config), when
# it changed: topo/targets.py, the one place that knows how to compile and rebuild.
build: deps
	$(PY) -m topo.targets build --target p4sim $(P4_PROGRAMS)

# The README's test command: unit tests, then the PTF suite on the chosen target.
test: deps build
	$(PY) -m pytest -q -p no:cacheprovider tests
	$(MAKE) --no-print-directory ptf

unit: deps
	$(PY) -m pytest -q -p no:cacheprovider tests/p4sim tests/controller

ptf: deps build
	TARGET=$(TARGET) $(PY) ptf-tests/run.py
	if [ "$(TARGET)" = p4sim ]; then $(PY) ptf-tests/run_tna.py; fi  # the TNA program

e2e: deps build
	$(PY) -m pytest -q -p no:cacheprovider tests/e2e

demo: deps build
	$(PY) -m topo.demo --target $(TARGET)

# The default topology in Mininet (P4SimSwitch, or Bmv2Switch with TARGET=bmv2), the
# synproxy program and its controller, then the Mininet CLI.
mininet: deps build
	$(PY) -m topo.mininet_topo --target $(TARGET) --cli

bench: deps build
	TARGET=$(TARGET) $(PY) -m bench

lint: deps
	$(VENV)/bin/ruff check p4sim controller topo bench tests ptf-tests tools
	$(VENV)/bin/mypy  # every package: [tool.mypy] files in pyproject.toml

clean:
	rm -rf $(BUILD)
