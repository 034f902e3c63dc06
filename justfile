# agentd tasks. `just --list` shows them.

version := `git describe --tags --always --dirty 2>/dev/null || echo dev`
ldflags := "-s -w -X github.com/agentd-dev/agentd/api.Version=" + version

# Build the static binary into bin/agentd.
build:
    CGO_ENABLED=0 go build -trimpath -ldflags '{{ldflags}}' -o bin/agentd ./cmd/agentd

# Run the daemon without auth on the default port.
run *ARGS:
    go run ./cmd/agentd server --no-token {{ARGS}}

# The README's test command.
test:
    ./.ci/test

# Static checks only.
lint:
    gofmt -l . && go vet ./...

# Regenerate committed artefacts (OpenAPI documents).
generate:
    go generate ./...

# Benchmarks of the event log, fan-out and HTTP surface.
bench:
    go test -run '^$' -bench . -benchmem ./internal/eventlog ./api

# Startup time and idle memory of the built binary.
bench-startup: build
    ./bench/startup.sh bin/agentd

# Cross-build the release (linux/darwin × amd64/arm64, static, stripped, no build ids) into dist/ with checksums.txt.
release v=version:
    ./install/release.sh --version '{{v}}' --out dist

# The release build, then a second one with an empty Go build cache: fails unless byte-identical.
release-check v=version:
    ./install/release.sh --version '{{v}}' --out dist --check
