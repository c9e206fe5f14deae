#!/usr/bin/env bash
# Installs, once and up front, everything from Debian that the build and the tests use — so that
# a fresh machine fails here, with a clear message, rather than half-way through a suite:
#   default-jdk-headless  java, javac, jar, keytool (scripts/flink/flink.sh compiles the demo job)
#   maven                 Flink and Kafka jars from Maven Central (scripts/flink/flink.sh, scripts/it/kafka.sh)
#   curl                  readiness checks (scripts/flink/flink.sh, scripts/it/s3.sh)
#   openssl               certificates (scripts/it/pki.sh, scripts/it/rsyslog.sh)
#   mount                 the tmpfs of the disk-full tests (test/integration/reliability)
#   rsyslog rsyslog-gnutls rsyslog-relp         scripts/it/rsyslog.sh (TCP, TLS, RELP inputs)
#   swift swift-proxy swift-object swift-container swift-account   scripts/it/s3.sh (S3 via s3api)
#   chromium              console tests (scripts/it/chromium.sh; playwright-core brings no browser)
#   libnss3-tools         certutil: the browser's trust in the test CA (scripts/it/chromium.sh trust)
#   postgresql            PostgreSQL 15 server binaries (scripts/it/postgres.sh: a throwaway cluster
#                         for the PostgreSQL event store; present when /usr/lib/postgresql/15/bin/initdb is)
#   nginx                 round-robin in front of two instances (scripts/it/nginx.sh, test/helpers/nginx.ts)
# Packages already installed are left alone; nothing is installed when all are there. Debian
# services of these packages are never started (policy-rc.d answers 101 during the install).
# Needs root, or sudo without a password; without either it lists what is missing and fails.
#
#   scripts/install-test-deps.sh [--check]    # --check: only report what is missing
set -euo pipefail

PACKAGES=(default-jdk-headless maven curl openssl mount rsyslog rsyslog-gnutls rsyslog-relp
  swift swift-proxy swift-object swift-container swift-account chromium
  libnss3-tools systemd postgresql nginx)
# A package whose commands are already there (another JDK, a Maven from elsewhere) is not needed.
declare -A PROVIDES=([default-jdk-headless]="java javac jar keytool" [maven]=mvn [curl]=curl
  [openssl]=openssl [mount]="mount umount" [chromium]=chromium [libnss3-tools]=certutil [systemd]=systemd-analyze)

present() {
  local c
  # The server binaries are not on PATH; scripts/it/postgres.sh runs them from here.
  [[ $1 == postgresql ]] && { [[ -x ${FLINKTRAIL_PG_BIN:-/usr/lib/postgresql/15/bin}/initdb ]]; return; }
  # /usr/sbin is not on every user's PATH; scripts/it/nginx.sh looks there too.
  [[ $1 == nginx ]] && { command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]]; return; }
  if [[ -n ${PROVIDES[$1]:-} ]]; then
    for c in ${PROVIDES[$1]}; do command -v "$c" >/dev/null || return 1; done
    return 0
  fi
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

log() { printf '[install-test-deps] %s\n' "$*" >&2; }

missing=()
for p in "${PACKAGES[@]}"; do
  present "$p" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  log "all ${#PACKAGES[@]} packages are installed"
  exit 0
fi
log "missing: ${missing[*]}"
[[ ${1:-} == --check ]] && exit 1

if [[ $(id -u) == 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  log "ERROR: installing them needs root or password-less sudo, and this is user $(id -un) without either."
  log "Install them once as an administrator: apt-get install -y --no-install-recommends ${missing[*]}"
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d created=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
  "${as_root[@]}" chmod +x "$policy"
  created=1
fi
trap '((created)) && "${as_root[@]}" rm -f "$policy"' EXIT
log "apt-get update"
"${as_root[@]}" apt-get update -qq
log "apt-get install ${missing[*]} (a few minutes on a fresh machine)"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for p in "${missing[@]}"; do
  present "$p" || { log "ERROR: $p is still missing after the install"; exit 1; }
done
log "installed ${#missing[@]} packages"
