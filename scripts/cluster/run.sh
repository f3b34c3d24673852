#!/usr/bin/env bash
# run.sh: the cluster test (make cluster-test). The arrangement teams run in
# production, on one machine (lib.sh brings it up): a Temporal server built
# from the module proxy at go.mod's version, on PostgreSQL (Debian's 15),
# two `lifecycle worker` and two `lifecycle api` processes sharing a
# PostgreSQL store. Then the drill (e2e/cluster, build tag `cluster`): 500
# journeys through both APIs, events with concurrency, one worker killed
# with SIGKILL, a rolling upgrade from build a to build b, and checks that
# no event and no email was lost or doubled, and that a dashboard session
# made on one API works on the other.
#
# Everything it starts is stopped, and every database and role it created is
# dropped, on any exit (trap). Processes the drill starts itself (the build b
# worker) are in the same pid file, so they are stopped too.
#
# Time: about 4 minutes on a 2-core machine with a warm Go build cache and
# the Temporal binaries cached (3 min 46 s; the drill's own bounds stop it
# by 8 minutes); building the server once per Temporal version adds about
# 3 minutes. 30-second days keep 500 journeys within what two cores serve
# (about 15 workflow tasks a second here): with 2-second days the journeys
# fell minutes behind, 456 workflow tasks waiting, before any fault.
#
# Environment:
#   GO                            go command (default go)
#   LIFECYCLE_CLUSTER_DAY_LENGTH  journey day length (default 30s)
#   LIFECYCLE_CLUSTER_CUSTOMERS   journeys the drill starts (default 500)
#   LIFECYCLE_CLUSTER_BIN         a lifecycle binary to test (e.g. the image's); built with -tags nodev when unset
#   LIFECYCLE_CLUSTER_EVENT_RATE  events a second during the drill (default 5)
#   LIFECYCLE_CLUSTER_KEEP=1      keep the run's directory (logs, config) after it ends
#   XDG_CACHE_HOME                the Temporal binaries go to
#                                 $XDG_CACHE_HOME/lifecycle/temporal-<version>/ (~/.cache)
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cluster_init cluster-test "cluster test passed" "cluster test FAILED"
cluster_up

# --- the drill -------------------------------------------------------------

step "drill: go test -tags cluster ./e2e/cluster"
export LIFECYCLE_CLUSTER_CUSTOMERS="${LIFECYCLE_CLUSTER_CUSTOMERS:-500}"
# In its own process group, waited for in the background: a signal to this
# script then runs the cleanup at once (bash defers traps while a foreground
# command runs), and the cleanup ends the test binary and what it started.
setsid $GO test -tags cluster -count=1 -v -timeout 7m30s ./e2e/cluster &
drill_pid=$!
echo "-$drill_pid" >>"$pids_file"
wait "$drill_pid"
