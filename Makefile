# The two commands of the README:
#   go run ./cmd/paritycheck     the main job, on the embedded stories260K
#   make test                    installs test dependencies, runs every test
# scripts/setup.sh prints the cache folder it installed into (.cache, or a
# temporary folder when .cache cannot be created); the tests read it from
# METALLIC_CACHE_DIR.
.PHONY: test setup vet

setup:
	./scripts/setup.sh >/dev/null

test:
	cache="$$(./scripts/setup.sh)" && \
	METALLIC_CACHE_DIR="$$cache" METALLIC_REQUIRE_ORACLES=1 go test -count=1 -timeout 20m ./...

vet:
	go vet ./...
	GOOS=darwin GOARCH=arm64 go vet ./...
	d=$$(mktemp -d) && GOOS=darwin GOARCH=arm64 go test -c -o $$d/ ./... >/dev/null && rm -rf $$d
	CGO_ENABLED=0 go build ./...
