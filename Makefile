# Developer targets. The README's two commands (scripts/demo.sh, scripts/test.sh) need nothing
# but this checkout and a Debian 12 machine with Go.
GO ?= go
# Where `make install` puts the shim (lib/libhiertorch.so, include/hier_torch.h,
# lib/pkgconfig/hiertorch.pc).
PREFIX ?= /usr/local

# go commands here link the shim of build/ through its pkg-config file (torch/cgo.go).
export PKG_CONFIG_PATH := $(CURDIR)/build/pkgconfig$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))

.PHONY: setup shim install consumer-check test race bench demo generate vet

setup:
	bash scripts/setup.sh

shim:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j

# Installs the shim for Go programs outside this checkout (README, "Use from your Go service").
# ldconfig refreshes the loader's cache (as root); for a prefix outside the loader's directories,
# run programs with LD_LIBRARY_PATH=$(PREFIX)/lib, and build them with
# PKG_CONFIG_PATH=$(PREFIX)/lib/pkgconfig.
install: shim
	cmake --install build --prefix $(PREFIX)
	@if [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; else echo "install: run ldconfig as root, or use LD_LIBRARY_PATH=$(PREFIX)/lib"; fi

consumer-check: setup
	bash scripts/consumer_check.sh

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
