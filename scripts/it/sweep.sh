#!/usr/bin/env bash
# Lists — and with --kill ends — every process still running that a test run started: each
# carries FLINKTRAIL_RUN_ID=<id> in its environment (scripts/test-all.sh exports it; servers
# started with setsid keep it). The caller and its ancestors are left out.
#
#   scripts/it/sweep.sh RUN_ID [--kill]
#
# Prints one line per process (pid, process group, command line) and nothing when none is left;
# exits 0 either way. --kill: SIGTERM to each, up to 5 s, then SIGKILL.
set -euo pipefail
id=${1:?usage: sweep.sh RUN_ID [--kill]}
kill_them=0
[[ ${2:-} == --kill ]] && kill_them=1

declare -A skip=()
p=$$
while [[ -n $p && $p != 0 ]]; do
  skip[$p]=1
  p=$(awk '{ sub(/^.*\) /, ""); print $2 }' "/proc/$p/stat" 2>/dev/null || true)
done

found=()
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  [[ -n ${skip[$pid]:-} ]] && continue
  { tr '\0' '\n' <"$d/environ"; } 2>/dev/null | grep -qxF "FLINKTRAIL_RUN_ID=$id" || continue
  found+=("$pid")
done
((${#found[@]})) || exit 0

for pid in "${found[@]}"; do
  pg=$(awk '{ sub(/^.*\) /, ""); print $3 }' "/proc/$pid/stat" 2>/dev/null || echo '?')
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)
  printf '%s\t%s\t%s\n' "$pid" "$pg" "${cmd:-?}"
done
if ((kill_them)); then
  kill -TERM "${found[@]}" 2>/dev/null || true
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${found[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || exit 0
    sleep 0.1
  done
  kill -KILL "${found[@]}" 2>/dev/null || true
fi
exit 0
