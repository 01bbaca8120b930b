# s3-dr: `make demo` and `make test` work on a fresh clone; every tool is installed here.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 4566
VENV := .venv
PYTHON := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
NODE_TOOLS_STAMP := tools/node_modules/.package-lock.json
CDK_STAMP := cdk/node_modules/.package-lock.json
# cdk synth in the tests uses a placeholder for the Lambda (the release build takes ~11 min).
PLACEHOLDER_ASSET := target/placeholder-lambda
CARGO ?= cargo

.PHONY: help tools build shipped local demo test cdk-test lambda-release deploy bench clean

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

test: tools shipped cdk-test ## install what the tests need, then fmt, clippy, every Rust test and the CDK checks
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	S3DR_LAMBDA_BIN=$(abspath $(SHIPPED))/s3-dr-lambda S3DR_CLI_BIN=$(abspath $(SHIPPED))/s3-dr $(CARGO) test --all-targets

cdk-test: $(CDK_STAMP) $(VENV_STAMP) ## the CDK app: type check, assertions + cdk-nag, synth, cfn-lint
	mkdir -p $(PLACEHOLDER_ASSET) && printf '#!/bin/sh\n# placeholder for tests\n' > $(PLACEHOLDER_ASSET)/bootstrap
	cd cdk && npx tsc --noEmit -p .
	cd cdk && npm test
	cd cdk && CDK_DISABLE_CLI_TELEMETRY=true npx cdk synth --quiet --no-notices -c s3dr:lambdaAsset=$(abspath $(PLACEHOLDER_ASSET)) -o cdk.out
	$(VENV)/bin/cfn-lint cdk/cdk.out/*.template.json --ignore-checks W3005

lambda-release: ## the Lambda for deployment: cargo lambda build --release --arm64 (needs cargo-lambda and zig)
	cargo lambda build --release --arm64 --bin s3-dr-lambda

deploy: lambda-release $(CDK_STAMP) ## deploy to the AWS account of your credentials (cdk.json holds the settings)
	cd cdk && npx cdk deploy --all

bench: tools shipped ## benchmarks on the local stack (numbers, and the command that reproduces them)
	S3DR_LAMBDA_BIN=$(abspath $(SHIPPED))/s3-dr-lambda $(CARGO) run --example bench_protect
	S3DR_LAMBDA_BIN=$(abspath $(SHIPPED))/s3-dr-lambda $(CARGO) run --example bench_backfill
	S3DR_LAMBDA_BIN=$(abspath $(SHIPPED))/s3-dr-lambda $(CARGO) run --example bench_sweep

clean:
	rm -rf $(VENV) tools/node_modules cdk/node_modules cdk/cdk.out target
