#!/usr/bin/env bash
# Run Molecule scenarios, building what they need first, once.
#   scripts/molecule.sh security                  one scenario
#   scripts/molecule.sh "default postgres" "security faults"
#                                                 each argument is a lane: its scenarios run one after another, the
#                                                 lanes side by side. About half of a scenario's time is waiting
#                                                 (services starting, health checks), so two lanes on 2 cores
#                                                 finish well before one.
#   scripts/molecule.sh "ha make:sanity" "make:lint make:integration default" ...
#                                                 a lane step make:<target> runs that make target instead (make test
#                                                 spreads the static checks over two lanes; the log is
#                                                 .cache/molecule-logs/make-<target>.log).
# Each scenario's output goes to .cache/molecule-logs/<scenario>.log and is printed when its lane ends.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# The machine's CPU ticks from /proc/stat, busy and in all: the run ends with how busy its cores were (near 100%, more
# lanes cannot help; only less work can).
cpu_ticks() {
  awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8; print busy, busy + $5 + $6 }' /proc/stat
}
read -r busy_at_start ticks_at_start < <(cpu_ticks)
# A scenario's hosts share a podman bridge network: netavark, its DNS and its firewall tool. default also runs jobs as
# AWX does (tests/awx_runs): over SSH, with a key pair made for the run.
require podman runc /usr/lib/podman/netavark /usr/lib/podman/aardvark-dns iptables flock ssh-keygen
"$REPO_ROOT/scripts/build-image.sh" >/dev/null
BIRTHA_MINIO_DIR="$("$REPO_ROOT/scripts/build-minio.sh")"
BIRTHA_WHEEL_ARCHIVE="$("$REPO_ROOT/scripts/build-wheels.sh")"
# molecule/ha converges the MLflow version before the default, which its last test upgrades: those wheels too (cached).
BIRTHA_MLFLOW_PREVIOUS_VERSION="$MLFLOW_PREVIOUS_VERSION"
BIRTHA_WHEEL_ARCHIVE_PREVIOUS=""
if [[ " $* " =~ [[:space:]]ha[[:space:]] ]]; then
  BIRTHA_WHEEL_ARCHIVE_PREVIOUS="$(MLFLOW_VERSION="$MLFLOW_PREVIOUS_VERSION" "$REPO_ROOT/scripts/build-wheels.sh")"
fi
export BIRTHA_MLFLOW_PREVIOUS_VERSION BIRTHA_WHEEL_ARCHIVE_PREVIOUS
# SeaweedFS builds (once, 12-22 min) beside the lanes, only for a run with a scenario that deploys it (WEED_SCENARIOS);
# that scenario waits for it.
BIRTHA_SEAWEEDFS_DIR="$(seaweedfs_dir)"
export BIRTHA_MINIO_DIR BIRTHA_WHEEL_ARCHIVE BIRTHA_SEAWEEDFS_DIR
export PATH="$REPO_ROOT/.venv/bin:$PATH"
link_collection  # the scenarios' ANSIBLE_COLLECTIONS_PATH (.config/molecule/config.yml); run without make deps too
cd "$REPO_ROOT" || exit
logs="$REPO_ROOT/.cache/molecule-logs"
mkdir -p "$logs"

# A step's log file: <scenario>.log, or make-<target>.log for make:<target>.
step_log() {
  if [[ $1 == make:* ]]; then echo "make-${1#make:}.log"; else echo "$1.log"; fi
}
# Every step of every lane (a lane's steps are separated by spaces).
read -ra steps <<<"$*"
for step in "${steps[@]}"; do rm -f "$logs/$(step_log "$step")"; done

# The scenarios that deploy SeaweedFS: default, ha, and faults (its last test moves MinIO's artifacts there).
WEED_SCENARIOS="default ha faults"
needs_weed() {
  [[ " $WEED_SCENARIOS " == *" $1 "* ]]
}

# CPU seconds (user and system) of the children this lane's shell has reaped: a step's molecule or make and
# everything it ran, the modules on the hosts included (they run under the controller's nsenter); not the services in
# the containers. Into REAPED, from bash's times written to a file: in a pipe or $(...) it would report a fresh
# subshell's.
reaped_cpu() {
  local file="$logs/.times.$BASHPID"
  times >"$file"
  REAPED=$(awk 'NR == 2 { n = split($0, t, /[ms ]+/); total = 0
                          for (i = 1; i < n; i += 2) total += t[i] * 60 + t[i + 1]
                          printf "%d", total }' "$file")
  rm -f "$file"
}

run_scenario() {
  local scenario=$1 start=$SECONDS cpu
  reaped_cpu
  cpu=$REAPED
  if needs_weed "$scenario" && ! "$REPO_ROOT/scripts/build-seaweedfs.sh" >"$logs/$scenario.log" 2>&1; then
    echo "==> scenario $scenario FAILED: weed could not be built (above)" >>"$logs/$scenario.log"
    return 1
  fi
  if molecule test -s "$scenario" >>"$logs/$scenario.log" 2>&1; then
    reaped_cpu
    echo "==> scenario $scenario passed in $((SECONDS - start))s, CPU $((REAPED - cpu))s" >>"$logs/$scenario.log"
    return 0
  fi
  reaped_cpu
  echo "==> scenario $scenario FAILED after $((SECONDS - start))s, CPU $((REAPED - cpu))s" >>"$logs/$scenario.log"
  molecule destroy -s "$scenario" >/dev/null 2>&1 || true
  return 1
}

run_make() {
  local target=$1 start=$SECONDS log="$logs/make-$1.log" cpu
  reaped_cpu
  cpu=$REAPED
  if make -C "$REPO_ROOT" "$target" >"$log" 2>&1; then
    reaped_cpu
    echo "==> make $target passed in $((SECONDS - start))s, CPU $((REAPED - cpu))s" >>"$log"
    return 0
  fi
  reaped_cpu
  echo "==> make $target FAILED after $((SECONDS - start))s, CPU $((REAPED - cpu))s" >>"$log"
  return 1
}

# What failed in a failed step, printed again after the summary: CI keeps only a run's last lines, and the logs go
# with its clone. pytest's short summary (the failed tests and their first line), else Ansible's failed tasks, else
# the log's end.
failure_summary() {
  local log=$1 plain
  grep -q '^==> .* FAILED' "$log" 2>/dev/null || return 0
  plain=$(sed 's/\x1b\[[0-9;]*m//g; s/^ *│ \{0,1\}//' "$log")
  echo "==> what failed in $(basename "$log" .log):"
  # awk counts its own lines: a head closing the pipe would fail the run (pipefail) before the other summaries.
  if grep -q 'short test summary info' <<<"$plain"; then
    # Its last line says how many failed and passed.
    awk '/short test summary info/ { on = 1; next } on && /^=+ .* in [0-9.]+s/ { print; on = 0; next } on && n++ < 60' \
      <<<"$plain"
  elif grep -q '^fatal: \[\|^failed: \[' <<<"$plain"; then
    # The last failures: earlier ones are often ignored ones ("...ignoring").
    grep -A 6 '^fatal: \[\|^failed: \[' <<<"$plain" | tail -n 60
  else
    tail -n 30 <<<"$plain"
  fi
  return 0
}

run_lane() {
  local status=0 step
  for step in $1; do
    if [[ $step == make:* ]]; then
      run_make "${step#make:}" || status=1
    else
      run_scenario "$step" || status=1
    fi
    # One lane prints at a time, so the logs do not interleave.
    flock "$logs/.print" cat "$logs/$(step_log "$step")"
  done
  return "$status"
}

# Stopped (Ctrl-C, a CI timeout): stop the lanes and their scenarios too.
trap 'trap - INT TERM; kill 0' INT TERM
pids=()
for step in "${steps[@]}"; do
  if needs_weed "$step"; then
    "$REPO_ROOT/scripts/build-seaweedfs.sh" >"$logs/seaweedfs-build.log" 2>&1 &
    break
  fi
done
# default's verify runs jobs in the execution environment (tests/awx_runs), which builds it when missing: build it
# meanwhile, beside the lanes, rather than in one of them. build-ee.sh holds a lock, so the test's own call waits for
# this one and then finds the image; a failure here shows again there, with its log.
ee_build=""
if [[ " $* " =~ [[:space:]]default[[:space:]] ]]; then
  "$REPO_ROOT/scripts/build-ee.sh" >"$logs/ee-build.log" 2>&1 &
  ee_build=$!
fi
for lane in "$@"; do
  log "molecule lane: $lane"
  run_lane "$lane" &
  pids+=("$!")
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
[[ -z "$ee_build" ]] || wait "$ee_build" || true
for step in "${steps[@]}"; do grep -h '^==> \(scenario\|make\)' "$logs/$(step_log "$step")" >&2 || true; done
for step in "${steps[@]}"; do failure_summary "$logs/$(step_log "$step")" >&2; done
read -r busy ticks < <(cpu_ticks)
busy_share=$((100 * (busy - busy_at_start) / (ticks - ticks_at_start)))
echo "==> the machine's $(grep -c '^cpu[0-9]' /proc/stat) cores were busy ${busy_share}% of the run" >&2
exit "$status"
