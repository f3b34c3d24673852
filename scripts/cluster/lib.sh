# lib.sh: the cluster of the cluster test, for the drill (run.sh) and the
# benchmark (serve.sh, which `go run ./bench -only cluster` runs). Sourced,
# not run. The arrangement teams run in production, on one machine: a
# Temporal server built from the module proxy at go.mod's version, on
# PostgreSQL (Debian's 15), two `lifecycle worker` (build a) and two
# `lifecycle api` processes sharing a PostgreSQL store.
#
#   cluster_init NAME   a run's directory and the cleanup, on any exit (trap):
#                       every process it started and every one listed in the
#                       pid file stopped, every database and role it created
#                       dropped, PostgreSQL stopped if it started it
#   cluster_up          brings the cluster up and exports its settings: the
#                       lifecycle settings every process shares (see
#                       cluster_settings) and LIFECYCLE_CLUSTER_BIN, _DIR,
#                       _PIDS_FILE, _APIS, _WORKERS, _BUILD
#   cluster_write_env FILE
#                       writes those settings to FILE, one NAME=value a line
#                       (no quoting: no value has spaces or quotes), for a
#                       program that is not a child of the script
#
# Environment:
#   GO                            go command (default go)
#   LIFECYCLE_CLUSTER_DAY_LENGTH  journey day length (default 30s)
#   LIFECYCLE_CLUSTER_BIN         a lifecycle binary to run (e.g. the image's); built with -tags nodev when unset
#   LIFECYCLE_CLUSTER_KEEP=1      keep the run's directory (logs, config) after it ends
#   XDG_CACHE_HOME                the Temporal binaries go to
#                                 $XDG_CACHE_HOME/lifecycle/temporal-<version>/ (~/.cache)

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="/usr/local/go/bin:$PATH"
GO=${GO:-go}

begun=$SECONDS
step() { printf '==> [%4ds] %s\n' "$((SECONDS - begun))" "$*"; }
die() {
  printf '%s: %s\n' "$cluster_name" "$*" >&2
  exit 1
}

# as_root runs a command as root, through sudo when not root (as .ci/run).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    sudo "$@"
  fi
}

# secret prints n random bytes as hex.
secret() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# cluster_settings are what every lifecycle process of the cluster shares
# (each also gets its own address and, a worker, its build id), and where
# the cluster is: what a program that starts more processes needs.
cluster_settings=(
  TEMPORAL_ADDRESS TEMPORAL_NAMESPACE DATABASE_URL LIFECYCLE_API_KEYS LIFECYCLE_LINK_SECRET
  LIFECYCLE_DAY_LENGTH LIFECYCLE_DATA_DIR LIFECYCLE_WORKER_VERSIONING LIFECYCLE_DEPLOYMENT_NAME LOG_LEVEL
  LIFECYCLE_CLUSTER_BIN LIFECYCLE_CLUSTER_DIR LIFECYCLE_CLUSTER_PIDS_FILE
  LIFECYCLE_CLUSTER_APIS LIFECYCLE_CLUSTER_WORKERS LIFECYCLE_CLUSTER_BUILD
)

# start NAME CMD...: runs CMD in the background with its output in
# $work/NAME.log and records its pid; its pid is left in $started_pid.
start() {
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  started_pid=$!
  echo "$started_pid" >>"$pids_file"
  # Out of the job table: the drill's SIGKILL of a worker is expected, not
  # worth bash's "Killed" notice.
  disown "$started_pid"
}

# stop_all ends every recorded process (a line "-PGID" is a process group:
# the drill's), the last started first: SIGTERM, 15 s to drain, then SIGKILL.
stop_all() {
  local id alive=() left=()
  while read -r id; do
    [ -n "$id" ] && kill -0 -- "$id" 2>/dev/null && alive=("$id" "${alive[@]}")
  done <"$pids_file"
  [ ${#alive[@]} -eq 0 ] && return 0
  kill -TERM -- "${alive[@]}" 2>/dev/null || true
  for _ in $(seq 30); do
    left=()
    for id in "${alive[@]}"; do kill -0 -- "$id" 2>/dev/null && left+=("$id"); done
    [ ${#left[@]} -eq 0 ] && return 0
    sleep 0.5
  done
  echo "still running after 15 s, killing: ${left[*]}"
  kill -KILL -- "${left[@]}" 2>/dev/null || true
}

psql_admin() {
  as_root runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$pg_port" -d postgres "$@"
}

drop_databases() {
  [ -n "$dbs_created" ] || return 0
  psql_admin <<SQL || echo "could not drop the run's databases (${run_id}_*); drop them by hand"
DROP DATABASE IF EXISTS ${run_id}_temporal WITH (FORCE);
DROP DATABASE IF EXISTS ${run_id}_visibility WITH (FORCE);
DROP DATABASE IF EXISTS ${run_id}_store WITH (FORCE);
DROP ROLE IF EXISTS ${run_id}_temporal;
DROP ROLE IF EXISTS ${run_id}_store;
SQL
}

# stop_postgres stops the cluster if this run started it and nobody else
# has connected since (another test on the machine may be using it).
stop_postgres() {
  [ -n "$pg_started" ] || return 0
  local others
  others=$(psql_admin -At -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" 2>/dev/null || echo 1)
  if [ "$others" = "0" ]; then
    as_root pg_ctlcluster "$pg_version" main stop -m fast || true
  else
    echo "postgres $pg_version/main left running: $others other connections"
  fi
}

# show_logs prints the end of every log of the run, for a failed run: the
# schema tool's only if the schema step did not finish, and without the
# workers' one line per email sent.
show_logs() {
  local f
  for f in "$work"/*.log; do
    [ -f "$f" ] || continue
    [ "${f##*/}" = schema.log ] && [ -n "$schema_done" ] && continue
    printf '\n--- %s (last 25 lines)\n' "${f##*/}"
    grep -v 'email sent' "$f" | tail -n 25 | cut -c1-400
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "$rc" -ne 0 ]; then
    show_logs
  fi
  step "cleanup: stopping processes, dropping ${run_id}_* databases and roles"
  stop_all
  drop_databases
  stop_postgres
  if [ "${LIFECYCLE_CLUSTER_KEEP:-}" = 1 ]; then
    echo "kept $work"
  else
    rm -rf "$work"
  fi
  if [ "$rc" -eq 0 ]; then
    step "$cluster_passed"
  else
    step "$cluster_failed (exit $rc)"
  fi
  exit "$rc"
}

# cluster_init NAME PASSED FAILED: the run's directory, pid file and
# cleanup; NAME prefixes errors, PASSED and FAILED are the last line on a
# clean and on a failed exit.
cluster_init() {
  cluster_name=$1
  cluster_passed=$2
  cluster_failed=$3
  run_id="lc_$$"
  work=$(mktemp -d "${TMPDIR:-/tmp}/lifecycle-cluster.XXXXXX")
  pids_file="$work/pids" # every process of the run, one pid a line: ours and the drill's
  : >"$pids_file"
  pg_port=
  pg_version=
  pg_started=
  dbs_created=
  schema_done=
  taken=" "
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# free_port VAR picks a port nothing listens on, below Linux's ephemeral
# range (32768-60999) so that no outgoing connection takes it meanwhile,
# and never the same twice in a run.
free_port() {
  local p
  for _ in $(seq 500); do
    p=$((20000 + RANDOM % 12000))
    case "$taken" in *" $p "*) continue ;; esac
    if ! (: <"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      taken+="$p "
      printf -v "$1" '%s' "$p"
      return 0
    fi
  done
  die "no free port found between 20000 and 32000"
}

# wait_http NAME URL PID SECONDS waits until URL answers 2xx, failing early
# if the process PID has exited.
wait_http() {
  local name=$1 url=$2 pid=$3 limit=$4 t0=$SECONDS
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "$name exited before answering $url (log: $work/$name.log)"
    [ $((SECONDS - t0)) -lt "$limit" ] || die "$name did not answer $url within ${limit}s"
    sleep 0.5
  done
}

cluster_up() {
  cluster_postgres
  cluster_temporal
  cluster_lifecycle
}

cluster_postgres() {
  step "postgres: find or start Debian's cluster"
  if ! command -v pg_lsclusters >/dev/null 2>&1; then
    as_root apt-get update -q -o Acquire::Retries=3
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends -o Acquire::Retries=3 postgresql
  fi
  local pg_status t0
  read -r pg_version pg_port pg_status < <(pg_lsclusters -h | awk '$2 == "main" { print $1, $3, $4; exit }') || true
  [ -n "${pg_version:-}" ] || die "postgres: no 'main' cluster (pg_lsclusters)"
  case "$pg_status" in
    online*) echo "postgres $pg_version/main already running on port $pg_port" ;;
    *)
      as_root pg_ctlcluster "$pg_version" main start
      pg_started=1
      echo "postgres $pg_version/main started on port $pg_port"
      ;;
  esac
  # pg_isready answers at once while the server starts up: ask until it accepts.
  t0=$SECONDS
  until pg_isready -q -h 127.0.0.1 -p "$pg_port" -t 5; do
    [ $((SECONDS - t0)) -lt 60 ] || die "postgres on port $pg_port did not accept connections within 60s"
    sleep 1
  done

  step "postgres: roles and databases ${run_id}_temporal, _visibility (Temporal's) and _store (ours)"
  pw_temporal=$(secret 16)
  pw_store=$(secret 16)
  dbs_created=1
  # The Temporal role creates its two databases with the schema tool, as an
  # operator would; the store's role owns its database and nothing else.
  psql_admin <<SQL
CREATE ROLE ${run_id}_temporal LOGIN CREATEDB PASSWORD '$pw_temporal';
CREATE ROLE ${run_id}_store LOGIN PASSWORD '$pw_store';
CREATE DATABASE ${run_id}_store OWNER ${run_id}_store;
SQL
}

sql_tool() {
  "$cache/sql" --endpoint 127.0.0.1 --port "$pg_port" --user "${run_id}_temporal" --password "$pw_temporal" \
    --plugin postgres12 "$@" >>"$work/schema.log" 2>&1
}

cluster_temporal() {
  local temporal_version build temporal_src part db p
  temporal_version=$($GO list -m -f '{{.Version}}' go.temporal.io/server)
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/lifecycle/temporal-$temporal_version"
  if [ -x "$cache/server" ] && [ -x "$cache/sql" ]; then
    step "temporal: server and SQL tool $temporal_version from $cache"
  else
    step "temporal: building server and SQL tool $temporal_version into $cache (once per version; minutes)"
    mkdir -p "$(dirname "$cache")"
    build=$(mktemp -d "$cache.build.XXXXXX")
    # Built into a fresh directory and moved into place, so an interrupted
    # build never leaves a cache that looks complete.
    GOWORK=off GOFLAGS= GOBIN="$build" $GO install \
      "go.temporal.io/server/cmd/server@$temporal_version" \
      "go.temporal.io/server/cmd/tools/sql@$temporal_version" || {
      rm -rf "$build"
      die "go install of the Temporal server $temporal_version failed"
    }
    rm -rf "$cache"
    mv "$build" "$cache"
  fi
  temporal_src="$($GO env GOMODCACHE)/go.temporal.io/server@$temporal_version"
  if [ ! -d "$temporal_src/schema" ]; then
    GOWORK=off GOFLAGS= $GO mod download "go.temporal.io/server@$temporal_version"
  fi
  [ -d "$temporal_src/schema/postgresql/v12" ] || die "no PostgreSQL schema in $temporal_src"

  step "temporal: schema from $temporal_src/schema/postgresql/v12"
  for part in temporal visibility; do
    db="${run_id}_$part"
    sql_tool --database "$db" create-database || die "create-database $db failed (log: schema.log)"
    sql_tool --database "$db" setup-schema --version 0.0 || die "setup-schema $db failed (log: schema.log)"
    sql_tool --database "$db" update-schema --schema-dir "$temporal_src/schema/postgresql/v12/$part/versioned" ||
      die "update-schema $db failed (log: schema.log)"
  done
  schema_done=1

  for p in fe_grpc fe_http fe_member history_grpc history_member matching_grpc matching_member worker_grpc worker_member; do
    free_port "$p"
  done

  # Dynamic config: what Worker Deployment versioning and the drill need,
  # written out even where 1.32's default already agrees, so a server upgrade
  # that changes a default does not silently change what is tested.
  cat >"$work/dynamicconfig.yaml" <<'YAML'
# Worker Deployment versions (versioning v3): pinned journeys, promote.
system.enableDeploymentVersions:
  - value: true
frontend.workerVersioningWorkflowAPIs:
  - value: true
# A pinned journey hears that its deployment has a new current version (its
# workflow task says TargetWorkerDeploymentVersionChanged) and moves at its
# next continue-as-new.
system.enableSendTargetVersionChanged:
  - value: true
# A drained version shows as drained within seconds rather than minutes,
# for `lifecycle deployment status`.
matching.wv.VersionDrainageStatusVisibilityGracePeriod:
  - value: 10s
matching.wv.VersionDrainageStatusRefreshInterval:
  - value: 5s
YAML

  cat >"$work/temporal.yaml" <<YAML
log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:
      sql:
        pluginName: postgres12
        databaseName: ${run_id}_temporal
        connectAddr: "127.0.0.1:$pg_port"
        connectProtocol: tcp
        user: ${run_id}_temporal
        password: "$pw_temporal"
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: 1h
    postgres-visibility:
      sql:
        pluginName: postgres12
        databaseName: ${run_id}_visibility
        connectAddr: "127.0.0.1:$pg_port"
        connectProtocol: tcp
        user: ${run_id}_temporal
        password: "$pw_temporal"
        maxConns: 5
        maxIdleConns: 5
        maxConnLifetime: 1h
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:
    rpc:
      grpcPort: $fe_grpc
      membershipPort: $fe_member
      httpPort: $fe_http
      bindOnLocalHost: true
  history:
    rpc:
      grpcPort: $history_grpc
      membershipPort: $history_member
      bindOnLocalHost: true
  matching:
    rpc:
      grpcPort: $matching_grpc
      membershipPort: $matching_member
      bindOnLocalHost: true
  worker:
    rpc:
      grpcPort: $worker_grpc
      membershipPort: $worker_member
      bindOnLocalHost: true
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:$fe_grpc"
      httpAddress: "127.0.0.1:$fe_http"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "$work/dynamicconfig.yaml"
  pollInterval: 10s
YAML

  step "temporal: starting all services in one process (frontend 127.0.0.1:$fe_grpc)"
  start temporal "$cache/server" --config-file "$work/temporal.yaml" --allow-no-auth start
  temporal_pid=$started_pid
  wait_http temporal "http://127.0.0.1:$fe_http/api/v1/system-info" "$temporal_pid" 120 ||
    die "the Temporal frontend did not answer"
  echo "frontend answers on 127.0.0.1:$fe_http (HTTP) after $((SECONDS - begun))s"
}

cluster_lifecycle() {
  local bin t0 public_url
  if [ -n "${LIFECYCLE_CLUSTER_BIN:-}" ]; then
    bin=$LIFECYCLE_CLUSTER_BIN
    step "lifecycle: the given binary $bin"
    [ -x "$bin" ] || die "LIFECYCLE_CLUSTER_BIN: $bin is not an executable"
  else
    step "lifecycle: building the binary (-tags nodev, as the image)"
    bin="$work/lifecycle"
    $GO build -tags nodev -o "$bin" ./cmd/lifecycle
  fi

  key() { printf '%s_%s' "$1" "$(secret 16)"; } # 24+ characters, as the API requires
  export TEMPORAL_ADDRESS="127.0.0.1:$fe_grpc"
  export TEMPORAL_NAMESPACE="lifecycle-cluster"
  export DATABASE_URL="postgres://${run_id}_store:$pw_store@127.0.0.1:$pg_port/${run_id}_store?sslmode=disable"
  export LIFECYCLE_API_KEYS="admin:$(key admin),sales:$(key sales),csm:$(key csm),integration:$(key integration)"
  export LIFECYCLE_LINK_SECRET="$(secret 32)"
  export LIFECYCLE_DAY_LENGTH="${LIFECYCLE_CLUSTER_DAY_LENGTH:-30s}"
  export LIFECYCLE_DATA_DIR="$work/data"
  export LIFECYCLE_WORKER_VERSIONING=on
  export LIFECYCLE_DEPLOYMENT_NAME=lifecycle
  export LOG_LEVEL=info

  step "lifecycle setup --create-namespace ($TEMPORAL_NAMESPACE)"
  # A frontend that answers may still be joining its ring: retry for a while.
  t0=$SECONDS
  until "$bin" setup --create-namespace >>"$work/setup.log" 2>&1; do
    [ $((SECONDS - t0)) -lt 60 ] || {
      cat "$work/setup.log"
      die "lifecycle setup failed for 60s"
    }
    sleep 2
  done
  cat "$work/setup.log"

  free_port api1
  free_port api2
  free_port worker1
  free_port worker2
  public_url="http://127.0.0.1:$api1" # the load balancer's address, for the links in emails

  step "lifecycle: two workers (build a) and two APIs"
  start worker-a1 env LIFECYCLE_BUILD_ID=a LIFECYCLE_WORKER_HTTP_ADDR="127.0.0.1:$worker1" "$bin" worker
  worker1_pid=$started_pid
  start worker-a2 env LIFECYCLE_BUILD_ID=a LIFECYCLE_WORKER_HTTP_ADDR="127.0.0.1:$worker2" "$bin" worker
  worker2_pid=$started_pid
  start api1 env LIFECYCLE_HTTP_ADDR="127.0.0.1:$api1" LIFECYCLE_PUBLIC_URL="$public_url" "$bin" api
  api1_pid=$started_pid
  start api2 env LIFECYCLE_HTTP_ADDR="127.0.0.1:$api2" LIFECYCLE_PUBLIC_URL="$public_url" "$bin" api
  api2_pid=$started_pid
  wait_http worker-a1 "http://127.0.0.1:$worker1/readyz" "$worker1_pid" 90
  wait_http worker-a2 "http://127.0.0.1:$worker2/readyz" "$worker2_pid" 90
  wait_http api1 "http://127.0.0.1:$api1/readyz" "$api1_pid" 90
  wait_http api2 "http://127.0.0.1:$api2/readyz" "$api2_pid" 90
  echo "workers a1 (pid $worker1_pid, 127.0.0.1:$worker1), a2 (pid $worker2_pid, 127.0.0.1:$worker2)"
  echo "APIs 1 (pid $api1_pid, 127.0.0.1:$api1), 2 (pid $api2_pid, 127.0.0.1:$api2)"

  export LIFECYCLE_CLUSTER_BIN="$bin"
  export LIFECYCLE_CLUSTER_DIR="$work"
  export LIFECYCLE_CLUSTER_PIDS_FILE="$pids_file"
  export LIFECYCLE_CLUSTER_APIS="http://127.0.0.1:$api1,http://127.0.0.1:$api2"
  export LIFECYCLE_CLUSTER_WORKERS="$worker1_pid@127.0.0.1:$worker1,$worker2_pid@127.0.0.1:$worker2"
  export LIFECYCLE_CLUSTER_BUILD=a
}

# cluster_write_env FILE writes the cluster's settings, readable by its
# owner only (they hold the databases' passwords and the API keys), and
# whole or not at all: the reader waits for the file to appear.
cluster_write_env() {
  local file=$1 name
  (
    umask 077
    for name in "${cluster_settings[@]}"; do
      printf '%s=%s\n' "$name" "${!name}"
    done >"$file.tmp"
  )
  mv "$file.tmp" "$file"
}
