package devserver

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

const (
	dbFileName         = "temporal.db"
	visibilityFileName = "visibility.db"
	storeName          = "sqlite-default"
	visibilityName     = "sqlite-visibility"
	clusterName        = "active"
	// loopback is where the internal services (history, matching, worker) listen:
	// only the frontend needs to be reachable from outside this process.
	loopback = "127.0.0.1"
	// nsRefresh is how often every service re-reads namespaces from the DB. A
	// search attribute added to the namespace only becomes usable once each
	// service has refreshed, so a short interval keeps Start quick.
	nsRefresh = time.Second
)

// ports are the TCP ports one server uses. Membership is static (no ringpop),
// so no membership ports are needed.
type ports struct {
	frontend, frontendHTTP, history, matching, worker int
}

func pickPorts(ip string, frontend int) (ports, error) {
	var p ports
	var err error
	if frontend == 0 {
		if p.frontend, err = freePort(ip); err != nil {
			return p, err
		}
	} else if err = checkPortFree(ip, frontend); err != nil {
		return p, fmt.Errorf("frontend port %d: %w", frontend, err)
	} else {
		p.frontend = frontend
	}
	if p.frontendHTTP, err = freePort(ip); err != nil {
		return p, err
	}
	for _, port := range []*int{&p.history, &p.matching, &p.worker} {
		if *port, err = freePort(loopback); err != nil {
			return p, err
		}
	}
	return p, nil
}

// dialHost is the address clients in this process use to reach a service bound
// on ip: a wildcard bind address is not dialable everywhere, loopback is.
func dialHost(ip string) string {
	if parsed := net.ParseIP(ip); parsed != nil && parsed.IsUnspecified() {
		return loopback
	}
	return ip
}

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// serverConfig is the static config of a single-node server on
// the data directory's SQLite files (see openLayout).
func serverConfig(ip string, p ports, l layout) *config.Config {
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = loopback

	conf.Persistence.DefaultStore = storeName
	conf.Persistence.VisibilityStore = storeName
	conf.Persistence.NumHistoryShards = l.shards
	conf.Persistence.DataStores = map[string]config.DataStore{storeName: {SQL: l.main}}
	if l.visibility != nil {
		conf.Persistence.VisibilityStore = visibilityName
		conf.Persistence.DataStores[visibilityName] = config.DataStore{SQL: l.visibility}
	}

	frontendAddr := hostPort(dialHost(ip), p.frontend)
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontendAddr,
				HTTPAddress:            hostPort(dialHost(ip), p.frontendHTTP),
				// Only used when the DB is new; later starts keep the stored ID.
				ClusterID: uuid.NewString(),
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"

	internal := func(port int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: port, BindOnIP: loopback}}
	}
	conf.Services = map[string]config.Service{
		string(primitives.FrontendService): {RPC: config.RPC{
			GRPCPort: p.frontend, HTTPPort: p.frontendHTTP, BindOnIP: ip,
		}},
		string(primitives.HistoryService):  internal(p.history),
		string(primitives.MatchingService): internal(p.matching),
		string(primitives.WorkerService):   internal(p.worker),
	}

	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// The worker service (system workflows) dials the frontend through this.
	conf.PublicClient.HostPort = frontendAddr
	return &conf
}

// staticHosts replaces ringpop membership: with one node every service address
// is known up front, which starts faster and needs no membership ports.
func staticHosts(ip string, p ports) map[primitives.ServiceName]static.Hosts {
	return map[primitives.ServiceName]static.Hosts{
		primitives.FrontendService: static.SingleLocalHost(hostPort(dialHost(ip), p.frontend)),
		primitives.HistoryService:  static.SingleLocalHost(hostPort(loopback, p.history)),
		primitives.MatchingService: static.SingleLocalHost(hostPort(loopback, p.matching)),
		primitives.WorkerService:   static.SingleLocalHost(hostPort(loopback, p.worker)),
	}
}

// dynamicConfig holds the values the CLI dev server sets by default, plus a
// shorter namespace refresh. Updates (frontend.enableUpdateWorkflowExecution and
// ...AsyncAccepted) default to true in server v1.32, so they need no entry.
func dynamicConfig(l layout) dynamicconfig.StaticClient {
	dc := dynamicconfig.StaticClient{
		// Newly added search attributes (and Nexus endpoints) are usable at
		// once instead of after their caches expire.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		dynamicconfig.ForceNexusEndpointRefreshOnRead.Key():         true,
		// Bypassing that cache costs DB reads; the CLI raises these to match.
		dynamicconfig.FrontendPersistenceMaxQPS.Key(): 10000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():  45000,
		// A dev box does not need the 128k-entry mutable state cache.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8096,
		// The Web UI lists and counts often; 10 rps/namespace throttles it.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		dynamicconfig.NamespaceCacheRefreshInterval.Key():                nsRefresh,
	}
	if l.visibility != nil {
		// One node has no use for a task queue's four partitions: a task
		// written to a partition no poller waits on is stored, then forwarded
		// to the root. Only in directories created with this setting: tasks
		// stored in partitions 1 to 3 of an older directory would never be
		// read again.
		dc[dynamicconfig.MatchingNumTaskqueueReadPartitions.Key()] = 1
		dc[dynamicconfig.MatchingNumTaskqueueWritePartitions.Key()] = 1
	}
	return dc
}

// layout is how a data directory keeps the server's state.
type layout struct {
	main *config.SQL
	// visibility is nil in a legacy directory, whose visibility tables live
	// in the main file.
	visibility *config.SQL
	// shards is the number of history shards: the one the directory was
	// created with, newShards for a new one.
	shards int32
}

// newShards is the history shard count of a new data directory. Each shard
// has its own timer queue, with its own limits on the tasks it holds in
// memory; with one shard for 10,000 open journeys, the timeout tasks of their
// first steps (tens of thousands, each a no-op by the time it fires) held up
// the journeys' own timers: 1 in 10 of 1,000 timers due together had not
// fired two minutes later. With four, all fired, p99 under 3 s (BENCHMARKS.md).
// The count is fixed once a directory has been used: Temporal maps each
// workflow to a shard by it.
const newShards = 4

// openLayout points the SQLite plugin at the data directory's files and
// creates their schema when the directory is new.
//
// A new directory gets two files: DataDir/temporal.db for executions, history
// and task queues, and DataDir/visibility.db for the rows that list and count
// workflows. The SQLite plugin shares one connection per file, and SQLite
// writes one transaction at a time per file: with one file, every visibility
// row update (each start and each search-attribute upsert) queued behind the
// execution writes; with two, they run side by side. A directory created
// before the split (temporal.db without visibility.db) keeps its single file,
// so the workflows listed there stay listed.
func openLayout(dataDir string) (layout, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return layout{}, fmt.Errorf("creating data dir: %w", err)
	}
	mainPath, err := filepath.Abs(filepath.Join(dataDir, dbFileName))
	if err != nil {
		return layout{}, fmt.Errorf("resolving data dir: %w", err)
	}
	// The path is embedded in a "file:" URI without escaping.
	if strings.ContainsAny(mainPath, "?#") {
		return layout{}, fmt.Errorf("data dir %q: path must not contain '?' or '#'", dataDir)
	}
	visPath := filepath.Join(filepath.Dir(mainPath), visibilityFileName)
	l := layout{main: sqliteConfig(mainPath), visibility: sqliteConfig(visPath), shards: newShards}

	mainExists, err := fileExists(mainPath)
	if err != nil {
		return layout{}, err
	}
	visExists, err := fileExists(visPath)
	if err != nil {
		return layout{}, err
	}
	if mainExists {
		if !visExists {
			l.visibility = nil
		}
		if l.shards, err = storedShards(mainPath); err != nil {
			return layout{}, err
		}
		return l, nil
	}
	// New directory. A visibility file without a main file is left over from
	// a first start that failed half-way: nothing refers to it yet.
	removeSQLite(visPath)
	for _, c := range []*config.SQL{l.visibility, l.main} {
		// The schema tool creates the execution and the visibility tables
		// in any file; each file only ever uses its own half.
		if err := sqliteschema.SetupSchema(c); err != nil {
			// Do not leave half-initialised files that the next start would trust.
			removeSQLite(mainPath)
			removeSQLite(visPath)
			return layout{}, fmt.Errorf("creating SQLite schema in %s: %w", c.DatabaseName, err)
		}
	}
	return l, nil
}

// sqliteConfig is the plugin's configuration of one file. Non-URI keys in
// ConnectAttributes become pragmas: WAL lets readers run alongside the writer
// and, with synchronous=normal, survives a process crash (a power cut may lose
// the last transactions, acceptable for a dev server).
func sqliteConfig(path string) *config.SQL {
	return &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: path,
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "normal",
		},
	}
}

// storedShards is the shard count a main file was used with: the server
// writes one row per shard when it first takes the shard. A file the server
// never ran on has none, and gets newShards.
func storedShards(path string) (int32, error) {
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: path}).String())
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", path, err)
	}
	defer db.Close()
	var n int32
	if err := db.QueryRow(`SELECT count(*) FROM shards`).Scan(&n); err != nil {
		return 0, fmt.Errorf("reading the shard count of %s: %w", path, err)
	}
	if n == 0 {
		return newShards, nil
	}
	return n, nil
}

func fileExists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("checking %s: %w", path, err)
	}
}

func removeSQLite(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(path + suffix)
	}
}
