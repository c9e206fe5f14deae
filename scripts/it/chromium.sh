#!/usr/bin/env bash
# Chromium for the console's browser tests (driven by playwright-core, which brings no browser).
#
#   scripts/it/chromium.sh install   # idempotent: apt-get install chromium if it is missing
#   scripts/it/chromium.sh path      # prints {"executablePath": "...", "version": "..."} (one JSON line)
#   scripts/it/chromium.sh trust --home DIR --ca FILE
#                                    # makes DIR/.pki/nssdb trusting the CA in FILE for servers
#
# trust: Chromium on Linux takes locally added trust anchors from the user's NSS database
# ($HOME/.pki/nssdb), so a browser started with HOME=DIR verifies a test server's certificate
# chain and name for real (no --ignore-certificate-errors). certutil comes from libnss3-tools,
# installed by `install` when missing.
#
# Debian's chromium package is used as-is (no Playwright browser download: no internet here
# besides Debian, npm and Maven). FLINKTRAIL_TEST_CHROMIUM=/path/to/chrome overrides the binary.
# There is no start/stop: each test launches its own headless browser and closes it.
set -euo pipefail

trust() {
  local home="" ca=""
  while (($#)); do
    case $1 in
      --home) home=${2:?}; shift 2 ;;
      --ca) ca=${2:?}; shift 2 ;;
      *) echo "trust: unknown option $1" >&2; exit 2 ;;
    esac
  done
  [ -n "$home" ] && [ -f "$ca" ] || { echo "trust: --home DIR and --ca FILE (an existing PEM) are required" >&2; exit 2; }
  command -v certutil >/dev/null || { echo "certutil is missing: run scripts/it/chromium.sh install (libnss3-tools)" >&2; exit 1; }
  local db="$home/.pki/nssdb"
  mkdir -p "$db"
  [ -f "$db/cert9.db" ] || certutil -N -d "sql:$db" --empty-password
  # C,, : a CA trusted to issue server certificates (not e-mail or code signing).
  certutil -A -d "sql:$db" -n "FlinkTrail test CA $(basename "$ca")" -t "C,," -a -i "$ca"
}

bin() {
  if [ -n "${FLINKTRAIL_TEST_CHROMIUM:-}" ]; then echo "$FLINKTRAIL_TEST_CHROMIUM"; return; fi
  command -v chromium || command -v chromium-browser || true
}

cmd="${1:-}"
case "$cmd" in
  install)
    if [ -n "$(bin)" ] && command -v certutil >/dev/null; then exit 0; fi
    if [ "$(id -u)" != 0 ]; then
      echo "chromium or certutil is missing and installing them needs root: run 'sudo apt-get install -y --no-install-recommends chromium libnss3-tools' (or set FLINKTRAIL_TEST_CHROMIUM for the browser)" >&2
      exit 1
    fi
    echo "Installing chromium and libnss3-tools from Debian (about 30 s)…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends chromium libnss3-tools >&2
    [ -n "$(bin)" ] || { echo "chromium was installed but is not on PATH" >&2; exit 1; }
    ;;
  path)
    b="$(bin)"
    [ -n "$b" ] || { echo "chromium is not installed: run scripts/it/chromium.sh install" >&2; exit 1; }
    # Debian's wrapper prints a harmless "[: unexpected operator" on stderr.
    v="$("$b" --version 2>/dev/null | head -n 1 || true)"
    printf '{"executablePath":"%s","version":"%s"}\n' "$b" "$v"
    ;;
  trust)
    shift
    trust "$@"
    ;;
  *)
    echo "usage: $0 install|path|trust --home DIR --ca FILE" >&2
    exit 2
    ;;
esac
