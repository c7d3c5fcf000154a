# Featherweight: `make demo` runs the main job, `make test` the test suite. Both fetch what they need.
SWIFT ?= swift
FEATHER := .build/release/feather

.PHONY: demo test models data chromium build release clean

demo: models data release
	$(FEATHER) compare gemma3-270m smollm2-135m

# FEATHER_REQUIRE_FIXTURES=1: a test whose model, data or fixture is missing fails instead of skipping.
test: models data chromium
	$(SWIFT) build --build-tests
	SWIFT=$(SWIFT) scripts/run-swift-tests.sh
	FEATHER_REQUIRE_FIXTURES=1 scripts/test-serve.sh
	scripts/test-pull.sh

models:
	scripts/fetch-models.sh

data:
	scripts/fetch-data.sh

chromium:
	scripts/setup-chromium.sh

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release

clean:
	rm -rf .build
