#!/usr/bin/env bash
# serve.sh ENV_FILE: the cluster test's cluster (lib.sh) for a program that
# measures it, `go run ./bench -only cluster`: brings it up, writes its
# settings to ENV_FILE (NAME=value lines: the Temporal address and
# namespace, the store, the API keys, the APIs' URLs, the workers' pids and
# addresses, the binary, the pid file, every setting a further worker
# needs), then runs until its standard input closes (the caller ended, or
# died) or it gets SIGTERM or SIGINT, and takes everything down as run.sh
# does: every process stopped, those the caller started and listed in the
# pid file included, every database and role dropped. A caller that ends
# with SIGTERM gets the end of every log printed, as a failed run.sh does.
#
# Environment: as lib.sh (LIFECYCLE_CLUSTER_DAY_LENGTH, LIFECYCLE_CLUSTER_BIN,
# LIFECYCLE_CLUSTER_KEEP, GO, XDG_CACHE_HOME).
set -euo pipefail

[ $# -eq 1 ] || {
  echo "usage: $0 ENV_FILE" >&2
  exit 2
}
env_file=$(realpath -m "$1")

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cluster_init cluster "cluster stopped" "cluster stopped after a failure"
cluster_up
cluster_write_env "$env_file"
step "cluster up: settings in $env_file; runs until its input closes"

# The caller holds our standard input open while it needs the cluster. A
# reader in the background, waited for: a signal then runs the cleanup at
# once (bash defers traps while a foreground command runs).
cat <&0 >/dev/null &
watch_pid=$!
echo "$watch_pid" >>"$pids_file"
wait "$watch_pid"
