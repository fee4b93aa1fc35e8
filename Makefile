# Developer targets. The README's two commands (scripts/demo.sh, scripts/test.sh) need nothing
# but this checkout and a Debian 12 machine with Go.
GO ?= go

.PHONY: setup shim test race bench demo generate vet

setup:
	bash scripts/setup.sh

shim:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j

test: setup
	$(GO) test ./...

race: setup
	$(GO) test -race ./...

vet:
	$(GO) vet ./...

generate:
	cd torch && $(GO) generate .

bench:
	HIER_WITH_PYTHON=1 bash scripts/setup.sh
	bash scripts/bench.sh

demo: setup
	$(GO) run ./cmd/hier demo
