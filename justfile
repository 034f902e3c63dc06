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
