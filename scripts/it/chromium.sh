#!/usr/bin/env bash
# Chromium for the console's browser tests (driven by playwright-core, which brings no browser).
#
#   scripts/it/chromium.sh install   # idempotent: apt-get install chromium if it is missing
#   scripts/it/chromium.sh path      # prints {"executablePath": "...", "version": "..."} (one JSON line)
#
# Debian's chromium package is used as-is (no Playwright browser download: no internet here
# besides Debian, npm and Maven). FLINKTRAIL_TEST_CHROMIUM=/path/to/chrome overrides the binary.
# There is no start/stop: each test launches its own headless browser and closes it.
set -euo pipefail

bin() {
  if [ -n "${FLINKTRAIL_TEST_CHROMIUM:-}" ]; then echo "$FLINKTRAIL_TEST_CHROMIUM"; return; fi
  command -v chromium || command -v chromium-browser || true
}

cmd="${1:-}"
case "$cmd" in
  install)
    if [ -n "$(bin)" ]; then exit 0; fi
    if [ "$(id -u)" != 0 ]; then
      echo "chromium is missing and installing it needs root: run 'sudo apt-get install -y --no-install-recommends chromium' or set FLINKTRAIL_TEST_CHROMIUM" >&2
      exit 1
    fi
    echo "Installing chromium from Debian (about 30 s)…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends chromium >&2
    [ -n "$(bin)" ] || { echo "chromium was installed but is not on PATH" >&2; exit 1; }
    ;;
  path)
    b="$(bin)"
    [ -n "$b" ] || { echo "chromium is not installed: run scripts/it/chromium.sh install" >&2; exit 1; }
    # Debian's wrapper prints a harmless "[: unexpected operator" on stderr.
    v="$("$b" --version 2>/dev/null | head -n 1 || true)"
    printf '{"executablePath":"%s","version":"%s"}\n' "$b" "$v"
    ;;
  *)
    echo "usage: $0 install|path" >&2
    exit 2
    ;;
esac
