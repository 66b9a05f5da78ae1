.DEFAULT_GOAL := help
PY ?= python3

.PHONY: help install build-dev build-prod format lint test bench fuzz all

help:  ## list the verbs
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install:  ## install with the test extras (release build of the extension)
	$(PY) -m pip install -e '.[test]'

build-dev:  ## debug build of the extension into the environment
	maturin develop

build-prod:  ## release wheel into dist/
	maturin build --release -o dist

format:  ## format Python and Rust
	ruff format python tests bench rust/fuzz
	ruff check --fix python tests bench rust/fuzz
	cargo fmt --all

lint:  ## ruff, mypy, rustfmt, clippy
	ruff check python tests bench rust/fuzz
	ruff format --check python tests bench rust/fuzz
	mypy
	cargo fmt --all -- --check
	cargo clippy --manifest-path rust/Cargo.toml --all-targets -- -D warnings
	cargo clippy --manifest-path rust/Cargo.toml --features python -- -D warnings

test:  ## the whole test suite, Python and Rust
	$(PY) -m pytest
	cargo test --manifest-path rust/Cargo.toml

bench:  ## full-size benchmarks (100 MB inputs)
	RTBFAST_BENCH_FULL=1 $(PY) -m pytest bench -s

FUZZ_SECONDS ?= 600
fuzz:  ## each fuzz target for FUZZ_SECONDS (default 600) under AddressSanitizer
	RTBFAST_FUZZ_SANITIZER=address rust/fuzz/run.sh $(FUZZ_SECONDS)

all: format lint test  ## format, lint and test
