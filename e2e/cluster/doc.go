// Package cluster is the cluster drill that `make cluster-test` runs
// (scripts/cluster/run.sh): a Temporal server on PostgreSQL, two workers
// and two APIs sharing a PostgreSQL store, 500 journeys, a worker killed
// with SIGKILL and a rolling upgrade. Its test is behind the build tag
// cluster, because it needs the processes the script starts and is told
// where they are through LIFECYCLE_CLUSTER_* variables.
package cluster
