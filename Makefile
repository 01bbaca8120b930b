# s3-dr: `make demo` and `make test` work on a fresh clone; every tool is installed here.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 4566
VENV := .venv
PYTHON := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
NODE_TOOLS_STAMP := tools/node_modules/.package-lock.json
CDK_STAMP := cdk/node_modules/.package-lock.json
CARGO ?= cargo
# The Lambda as deployed: arm64, cross-built by cargo-lambda with zig (pinned in
# local/release-requirements.txt, installed into .venv), one zip the CDK app uploads as is.
RELEASE_TOOLS_STAMP := $(VENV)/.release-tools
LAMBDA_DIR := target/lambda/arm64
LAMBDA_ZIP := $(LAMBDA_DIR)/s3-dr-lambda/bootstrap.zip
CDK := cd cdk && CDK_DISABLE_CLI_TELEMETRY=true S3DR_CLI_BIN=$(abspath target/debug/s3-dr) npx cdk

.PHONY: help tools build shipped local demo test cdk-test lambda-release synth bootstrap deploy bench clean strict-tools test-strict

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV_STAMP): local/requirements.txt local/constraints.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r local/requirements.txt -c local/constraints.txt
	touch $@

$(NODE_TOOLS_STAMP): tools/package.json tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund

$(CDK_STAMP): cdk/package.json cdk/package-lock.json
	npm ci --prefix cdk --no-audit --no-fund

$(RELEASE_TOOLS_STAMP): $(VENV_STAMP) local/release-requirements.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r local/release-requirements.txt
	rustup target add aarch64-unknown-linux-gnu
	touch $@

tools: $(VENV_STAMP) $(NODE_TOOLS_STAMP) $(CDK_STAMP) ## install moto, cfn-lint, awscli (pinned, .venv), asl-validator and the CDK app (npm ci)

build: ## build the Lambda and the CLI (debug)
	$(CARGO) build --bins

local: tools build ## run the local stack in the foreground on 127.0.0.1:$(PORT) (Ctrl-C stops it)
	$(PYTHON) local/stack.py --port $(PORT) --lambda-bin target/debug/s3-dr-lambda

demo: tools build ## start the local stack, protect a tagged bucket, print what happened, stop
	PORT=$(PORT) local/demo.sh

# The tests run the binaries exactly as shipped: built in their own cargo invocation, because
# a test build unifies dev-dependency features (aws-smithy-mocks' test-util) into them.
SHIPPED := target/shipped

shipped: build
	mkdir -p $(SHIPPED)
	cp target/debug/s3-dr-lambda target/debug/s3-dr $(SHIPPED)/

# Cheap failures first; the release build (about 6 min cold here) last but the CDK checks, which
# synthesize the app around the zip it makes.
test: tools shipped ## install what the tests need, then fmt, clippy, every Rust test, the release zip and the CDK checks
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	S3DR_LAMBDA_BIN=$(abspath $(SHIPPED))/s3-dr-lambda S3DR_CLI_BIN=$(abspath $(SHIPPED))/s3-dr $(CARGO) test --all-targets
	$(MAKE) test-strict lambda-release cdk-test

cdk-test: $(CDK_STAMP) $(VENV_STAMP) build ## the CDK app: type check, assertions + cdk-nag, synth around the release zip, cfn-lint
	cd cdk && npx tsc --noEmit -p .
	cd cdk && S3DR_CLI_BIN=$(abspath target/debug/s3-dr) npm test
	$(CDK) synth --quiet --no-notices -c s3dr:lambdaAsset=$(abspath $(LAMBDA_ZIP)) -o cdk.out
	$(VENV)/bin/cfn-lint cdk/cdk.out/*.template.json --ignore-checks W3005

lambda-release: $(RELEASE_TOOLS_STAMP) ## the Lambda as deployed: arm64 release zip, checked (aarch64 ELF `bootstrap`, under 4 MB)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(CARGO) lambda build --release --arm64 --bin s3-dr-lambda \
		--output-format zip --lambda-dir $(LAMBDA_DIR)
	$(PYTHON) local/check_release.py $(LAMBDA_ZIP)

synth: $(CDK_STAMP) build ## synthesize the stacks (cdk.out) with the settings checked by the Lambda's own rules
	$(CDK) synth --quiet --no-notices -c s3dr:allowMissingLambda=true

bootstrap: $(CDK_STAMP) build ## cdk bootstrap every account/region the stacks deploy to (needs AWS credentials)
	$(CDK) bootstrap --no-notices -c s3dr:allowMissingLambda=true

deploy: lambda-release $(CDK_STAMP) build ## deploy every stack to the account of your credentials (cdk.json holds the settings)
	$(CDK) deploy --all --no-notices -c s3dr:lambdaAsset=$(abspath $(LAMBDA_ZIP))

# The cold start is measured on the host's CPU (x86-64 here), with the release profile the
# arm64 zip is built with: an aarch64 binary cannot run on this machine.
bench: tools shipped lambda-release ## benchmarks on the local stack (numbers, and the command that reproduces them)
	$(CARGO) build --release --bin s3-dr-lambda
	$(PYTHON) local/bench_cold_start.py --rust target/release/s3-dr-lambda
	S3DR_LAMBDA_BIN=$(abspath $(SHIPPED))/s3-dr-lambda $(CARGO) run --example bench_protect
	S3DR_LAMBDA_BIN=$(abspath $(SHIPPED))/s3-dr-lambda $(CARGO) run --example bench_critical_path
	S3DR_LAMBDA_BIN=$(abspath $(SHIPPED))/s3-dr-lambda $(CARGO) run --example bench_backfill
	S3DR_LAMBDA_BIN=$(abspath $(SHIPPED))/s3-dr-lambda $(CARGO) run --example bench_copy_shards
	S3DR_LAMBDA_BIN=$(abspath $(SHIPPED))/s3-dr-lambda $(CARGO) run --example bench_sweep
	S3DR_LAMBDA_BIN=$(abspath $(SHIPPED))/s3-dr-lambda $(CARGO) run --example bench_faults
	$(CARGO) run --release --example bench_inventory
	S3DR_LAMBDA_BIN=$(abspath $(SHIPPED))/s3-dr-lambda $(CARGO) run --example cost_model

# A second, stricter S3: LocalStack's S3 provider in host mode (no Docker), from the pinned
# localstack-core, for `local/stack.py --s3-backend localstack`. It runs on Python 3.13 only
# (3.11 fails on PEP 695 syntax, 3.12 on warnings.deprecated): python3.13 on PATH, else pyenv's,
# else PYTHON313=/path/to/python3.13.
STRICT_VENV := .venv-strict
STRICT_STAMP := $(STRICT_VENV)/.installed
PYTHON313 ?=

$(STRICT_STAMP): local/strict-requirements.txt local/strict-constraints.txt
	@py=; for candidate in $(or $(PYTHON313),python3.13 "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/3.13*/bin/python3.13); do \
		py=$$("$$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13); print(sys.executable)' 2>/dev/null) && break; \
	done; \
	if [ -z "$$py" ]; then \
		echo "make strict-tools: LocalStack's S3 runs on Python 3.13 only; none found ($(or $(PYTHON313),python3.13 on PATH or pyenv's 3.13.x))." >&2; \
		echo "Install Python 3.13 (e.g. \`pyenv install 3.13\` or your distribution's python3.13 and python3.13-venv), or pass PYTHON313=/path/to/python3.13." >&2; \
		exit 1; \
	fi; \
	echo "$$py -m venv $(STRICT_VENV)"; "$$py" -m venv $(STRICT_VENV)
	$(STRICT_VENV)/bin/pip install --quiet --disable-pip-version-check -r local/strict-requirements.txt -c local/strict-constraints.txt
	touch $@

strict-tools: $(STRICT_STAMP) ## install LocalStack's S3 (pinned, Python 3.13, .venv-strict) for `local/stack.py --s3-backend localstack`

# The core workflow tests again, with the Lambda's S3 (and the tests' own S3 clients) on
# LocalStack's S3 while moto runs the state machines, KMS and IAM.
STRICT_TESTS := protect_workflow drift_and_detach clone_settings backfill_once copy_backfill

test-strict: tools shipped strict-tools ## the core workflow tests against LocalStack's stricter S3
	S3DR_TEST_S3=localstack S3DR_LAMBDA_BIN=$(abspath $(SHIPPED))/s3-dr-lambda S3DR_CLI_BIN=$(abspath $(SHIPPED))/s3-dr \
		$(CARGO) test $(addprefix --test ,$(STRICT_TESTS))

clean:
	rm -rf $(VENV) $(STRICT_VENV) tools/node_modules cdk/node_modules cdk/cdk.out target
