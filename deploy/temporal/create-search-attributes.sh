#!/bin/sh
# One-shot set-up for docker-compose.yml (service temporal-setup, image
# temporalio/admin-tools): registers the search attributes that a journey
# upserts (workflows.SearchAttributeTypes) in the namespace. Running it again
# changes nothing. The worker and the API start only after it succeeded.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
WAIT_SECONDS="${WAIT_SECONDS:-300}"

# name:type, as in workflows/contract.go.
ATTRIBUTES="
LifecycleHealth:Keyword
LifecycleQuadrant:Keyword
LifecyclePhase:Keyword
LifecycleCSMEmail:Keyword
LifecycleEngagement:Int
LifecycleHappiness:Int
LifecycleRenewalDate:Datetime
"

deadline=$(( $(date +%s) + WAIT_SECONDS ))
wait_step() {
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "temporal-setup: gave up after ${WAIT_SECONDS}s waiting for $1" >&2
    exit 1
  fi
  sleep 2
}

echo "temporal-setup: waiting for Temporal at $ADDRESS"
until temporal operator cluster health --address "$ADDRESS" 2>/dev/null | grep -q SERVING; do
  wait_step "the Temporal frontend at $ADDRESS"
done

# temporal (auto-setup) registers the namespace once the server is up.
echo "temporal-setup: waiting for namespace $NAMESPACE"
until temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; do
  wait_step "namespace $NAMESPACE"
done

list_attributes() {
  temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE"
}

# listed LISTING NAME TYPE: whether the listing has NAME with TYPE on one row.
listed() {
  echo "$1" | grep -Eiq "(^|[[:space:]])$2[[:space:]|]+$3([[:space:]]|\$)"
}

added=0
for entry in $ATTRIBUTES; do
  name=${entry%%:*}
  type=${entry#*:}
  if listed "$(list_attributes 2>/dev/null || true)" "$name" "$type"; then
    echo "temporal-setup: $name ($type) already registered"
    continue
  fi
  if out=$(temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" \
      --name "$name" --type "$type" 2>&1); then
    echo "temporal-setup: $name ($type) registered"
    added=1
  elif echo "$out" | grep -qi 'different type'; then
    echo "temporal-setup: $name exists with another type than $type: $out" >&2
    exit 1
  elif echo "$out" | grep -qi 'already exists'; then
    # Another run registered it between the list and the create.
    echo "temporal-setup: $name ($type) already registered"
  else
    echo "temporal-setup: could not register $name ($type): $out" >&2
    exit 1
  fi
done

# Check that every attribute is listed with its type (the listing may lag a
# fresh registration for a few seconds).
missing() {
  listing=$(list_attributes 2>&1 || true)
  for entry in $ATTRIBUTES; do
    listed "$listing" "${entry%%:*}" "${entry#*:}" || return 0
  done
  return 1
}
while missing; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "temporal-setup: not every search attribute is listed with its type:" >&2
    echo "$listing" >&2
    exit 1
  fi
  sleep 2
done

# The server caches each namespace's search attributes and refreshes them
# about every 10 seconds: a journey started before then could be refused.
if [ "$added" -eq 1 ]; then
  echo "temporal-setup: letting the server's namespace cache refresh"
  sleep 15
fi
echo "temporal-setup: search attributes ready in namespace $NAMESPACE"
