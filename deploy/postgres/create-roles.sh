#!/bin/sh
# One-shot set-up of PostgreSQL for docker-compose.yml (service
# postgresql-roles, image postgres): a role and databases for Temporal, a
# role and a database for lifecycle's store, each role owning its databases
# and nothing else. Runs as the superuser, at every `docker-compose up`:
# what exists is kept, and the passwords are set again from the environment
# (so changing one in the environment and running up changes it here).
# docs/production.md shows the same statements for a managed PostgreSQL.
set -eu

: "${TEMPORAL_DB_PASSWORD:?set TEMPORAL_DB_PASSWORD}"
: "${LIFECYCLE_DB_PASSWORD:?set LIFECYCLE_DB_PASSWORD}"

echo "postgresql-roles: waiting for PostgreSQL at ${PGHOST:-localhost}"
tries=0
until pg_isready -q; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then
    echo "postgresql-roles: PostgreSQL did not answer within 60 s" >&2
    exit 1
  fi
  sleep 1
done

# psql substitutes :'name' with the variable quoted as a literal, so a
# password never has to be pasted into SQL text. Statements are read from
# stdin, where that substitution applies; \gexec runs a generated statement
# only when the SELECT returns it (CREATE ROLE and CREATE DATABASE have no
# IF NOT EXISTS).
psql -X -q -v ON_ERROR_STOP=1 \
  -v temporal_password="$TEMPORAL_DB_PASSWORD" \
  -v lifecycle_password="$LIFECYCLE_DB_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE temporal' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'temporal') \gexec
ALTER ROLE temporal LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'temporal_password';
SELECT 'CREATE ROLE lifecycle' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lifecycle') \gexec
ALTER ROLE lifecycle LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'lifecycle_password';

SELECT 'CREATE DATABASE temporal OWNER temporal' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'temporal') \gexec
SELECT 'CREATE DATABASE temporal_visibility OWNER temporal' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'temporal_visibility') \gexec
SELECT 'CREATE DATABASE lifecycle OWNER lifecycle' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'lifecycle') \gexec

-- Each role reaches its own databases only (PUBLIC may connect to a new
-- database by default).
REVOKE CONNECT, TEMPORARY ON DATABASE temporal, temporal_visibility, lifecycle FROM PUBLIC;
SQL

echo "postgresql-roles: roles temporal and lifecycle ready; databases temporal, temporal_visibility (temporal) and lifecycle (lifecycle)"
