# Two commands do everything on a fresh machine: `make lab` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup lab test bench fuzz against-skynet clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# Compiled bytecode for our own modules even where the environment says not to write
# it on import (PYTHONDONTWRITEBYTECODE): otherwise every kernel start compiles them.
# The pack format's C is built here for each Lua version (cached; without a C compiler
# services use the Lua one): a node would build it on first use, this says so up front.
setup: $(STAMP)
	$(BIN)/python -m compileall -q skykernel
	$(BIN)/python -m skykernel.node.native

# Debian's chromium for the browser tests (never a downloaded browser build).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$(command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo); \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

# New notebooks default to the Skynet kernel (the server's default kernel name); the
# browser tests start their server with these too.
LAB_ARGS := --MappingKernelManager.default_kernel_name=skynet

lab: setup
	$(BIN)/python -m skykernel install --sys-prefix
	cd notebooks && ../$(BIN)/jupyter lab --ip 127.0.0.1 $(LAB_ARGS) \
		$$([ "$$(id -u)" = 0 ] && echo --allow-root)

# The suite runs twice: on Lua 5.4, then on Lua 5.5 (SKYKERNEL_LUA=5.5: every node, kernel
# and bare state a test builds without naming a version). The second pass leaves out the
# files whose subject cannot differ between versions: remote/test_remote_parse.py parses
# console text in pure Python, and node/test_bytecode.py and node/test_lua_versions.py pick
# both versions themselves, so they have run whole in the first pass.
ONCE := remote/test_remote_parse.py node/test_bytecode.py node/test_lua_versions.py

test: setup chromium
	$(BIN)/ruff check skykernel tests bench
	$(BIN)/python -m pytest -q -p no:cacheprovider tests
	SKYKERNEL_LUA=5.5 $(BIN)/python -m pytest -q -p no:cacheprovider tests \
		$(foreach f,$(ONCE),--ignore=tests/$(f))

bench: setup
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

# The property tests of `make test` with many more, random examples (minutes, not seconds).
fuzz: setup
	$(BIN)/python bench/fuzz.py

# Every Lua program the tests run with tree.run(), run again on real skynet master; where
# the two logs differ goes to against-skynet.txt (tests/against_skynet.py). A report to
# read, not a test: its tests pass or fail as in `make test`.
against-skynet: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider -p against_skynet \
		tests/runtime tests/node tests/net
	@echo "report: against-skynet.txt"

clean:
	rm -rf $(VENV) build dist tests/artifacts
