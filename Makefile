# Quickstart: `make demo` and `make test`. Both install what they need:
# Debian/Ubuntu packages through apt when missing, then a virtual environment.
PYTHON ?= python3
VENV ?= .venv
SYSTEM_PACKAGES = user-mode-linux kmod iproute2 tcpdump gcc libc6-dev iperf3 lksctp-tools
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all demo test system clean
all: test

system:
	@command -v dpkg-query >/dev/null || { echo "make: not a Debian/Ubuntu system; install the equivalents of: $(SYSTEM_PACKAGES)"; exit 0; }; \
	missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; done; \
	$(PYTHON) -c 'import ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then echo "make: installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi

$(VENV)/.installed: pyproject.toml | system
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/sctplab demo

test: $(VENV)/.installed
	$(VENV)/bin/tox

clean:
	rm -rf $(VENV) .tox artifacts build *.egg-info
