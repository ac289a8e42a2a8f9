# tagpilot: two commands matter on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Debian packages the tests and the demo run for real: the CNCF registry, skopeo (benchmark baseline),
# htpasswd (registry auth), git (remotes), gnupg/openssh-client (commit signing).
APT_PACKAGES := docker-registry skopeo apache2-utils git gnupg openssh-client chromium

.PHONY: install system-deps test demo bench lint clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/python -m tagpilot.precompile  # bytecode and dataclass methods, as pip does for a wheel
	touch $@

install: $(BIN)/.installed

# Installs the Debian packages when running as root and something is missing (CI, fresh machines).
system-deps:
	@missing=""; \
	for cmd in docker-registry skopeo htpasswd git gpg ssh-keygen chromium; do \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$cmd"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages (missing:$$missing)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	  else \
	    echo "warning: missing$$missing; install: apt-get install $(APT_PACKAGES)"; \
	  fi; \
	fi

test: system-deps install
	$(BIN)/pytest -q -p no:cacheprovider

demo: system-deps install
	$(BIN)/python examples/demo/run_demo.py

bench: system-deps install
	$(BIN)/python bench/scan.py
	$(BIN)/python bench/policy.py
	$(BIN)/python bench/update.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/argo.py
	$(BIN)/python bench/retention.py
	$(BIN)/python bench/image_copy.py

lint: install
	$(BIN)/ruff check src tests bench examples

clean:
	rm -rf $(VENV) .tagpilot .pytest_cache demo-work
