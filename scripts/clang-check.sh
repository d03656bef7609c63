#!/bin/sh
# Syntax-checks every generated MSL and CUDA kernel with clang (shim headers
# in dsl/kernel/clangcheck/shim) and executes them on the host against the
# CPU implementation. Fails instead of skipping when clang is missing.
set -e
cd "$(dirname "$0")/.."
METALLIC_REQUIRE_ORACLES=1 go test ./dsl/... -run 'Clang|Execute|Replayed' "$@"
