# Two commands do everything on a fresh Debian machine with the Swift toolchain:
#   make demo   install missing packages, build, run the main job on the embedded cluster
#   make test   the same set-up, then the whole test suite
# and, for the production deployment (CI runs it after make test):
#   make test-deploy   the shipped deploy/compose set-up against a real Apache Kafka (docs/deploy.md)
SWIFT ?= swift

.PHONY: demo test test-deploy bootstrap build build-debug bench clean

bootstrap:
	@scripts/bootstrap

build: bootstrap
	$(SWIFT) build -c release

build-debug: bootstrap
	$(SWIFT) build --build-tests

demo: build
	scripts/demo

test: build-debug
	python3 scripts/check-topic-examples.py
	# One throwaway PostgreSQL server (non-root, free loopback port) for the suite and the bench smoke run.
	# Then the standing proof of exactly-once, 50 SIGKILLs on each backend (docs/operations/chaos.md).
	scripts/with-postgres sh -c '$(SWIFT) test --skip-build && \
	  .build/debug/hssk bench all --quick --records 5000 --postgres "$$HSSK_TEST_POSTGRES_URL" --json .build/bench-smoke.json && \
	  scripts/chaos-ci sqlite && scripts/chaos-ci postgres'

# Three Kafka 2.3.0 brokers with SASL_SSL and ACLs, every service under its own identity (scripts/deploy-test).
test-deploy: build-debug
	scripts/deploy-test

bench: build
	.build/release/hssk bench --json .build/bench.json

clean:
	rm -rf .build
