#!/bin/sh
# One-shot schema job for docker-compose.yml (service temporal-schema, image
# temporalio/admin-tools at the server's version): brings Temporal's two
# databases to the schema this release of the server expects. The databases
# exist already, owned by the role that runs this (deploy/postgres/
# create-roles.sh), so the role needs no CREATEDB and temporal-sql-tool's
# `create` step is not run here. Idempotent: setup-schema -v 0.0 keeps a
# schema that is further along, update-schema applies only the versions not
# yet applied. Run it before starting a newer server: that is the upgrade.
#
# temporal-sql-tool reads SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and
# SQL_PASSWORD from the environment.
set -eu

: "${SQL_HOST:?set SQL_HOST}"
: "${SQL_USER:?set SQL_USER}"
: "${SQL_PASSWORD:?set SQL_PASSWORD}"
export SQL_PLUGIN="${SQL_PLUGIN:-postgres12}"
export SQL_PORT="${SQL_PORT:-5432}"
# Where the admin-tools image keeps the schema files of its server version.
SCHEMA_DIR="${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"

for pair in temporal:temporal temporal_visibility:visibility; do
  db=${pair%%:*}
  dir=$SCHEMA_DIR/${pair#*:}/versioned
  if [ ! -d "$dir" ]; then
    echo "temporal-schema: no schema directory $dir in this image" >&2
    exit 1
  fi
  echo "temporal-schema: $db: setup-schema, then update-schema from $dir"
  temporal-sql-tool --db "$db" setup-schema -v 0.0
  temporal-sql-tool --db "$db" update-schema -d "$dir"
done
echo "temporal-schema: temporal and temporal_visibility are up to date"
