package devserver

import (
	"errors"
	"fmt"
	"net"
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
	dbFileName  = "temporal.db"
	storeName   = "sqlite-default"
	clusterName = "active"
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

// serverConfig is the static config of a single-node, single-shard server whose
// persistence and visibility both live in one SQLite file, as the Temporal CLI
// dev server does with --db-filename.
func serverConfig(ip string, p ports, sqlConf *config.SQL) *config.Config {
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = loopback

	conf.Persistence.DefaultStore = storeName
	conf.Persistence.VisibilityStore = storeName
	// The shard count is fixed forever once the DB exists; one is plenty locally.
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{storeName: {SQL: sqlConf}}

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
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
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
}

// sqliteConfig points the SQLite plugin at DataDir/temporal.db and creates the
// schema when the file is new. Non-URI keys in ConnectAttributes become
// pragmas: WAL lets readers run alongside the writer and, with
// synchronous=normal, survives a process crash (a power cut may lose the last
// transactions, acceptable for a dev server).
func sqliteConfig(dataDir string) (*config.SQL, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	abs, err := filepath.Abs(filepath.Join(dataDir, dbFileName))
	if err != nil {
		return nil, fmt.Errorf("resolving data dir: %w", err)
	}
	// The path is embedded in a "file:" URI without escaping.
	if strings.ContainsAny(abs, "?#") {
		return nil, fmt.Errorf("data dir %q: path must not contain '?' or '#'", dataDir)
	}
	conf := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: abs,
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "normal",
		},
	}
	if _, err := os.Stat(abs); err == nil {
		return conf, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("checking database file: %w", err)
	}
	if err := sqliteschema.SetupSchema(conf); err != nil {
		// Do not leave a half-initialised file that the next start would trust.
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(abs + suffix)
		}
		return nil, fmt.Errorf("creating SQLite schema in %s: %w", abs, err)
	}
	return conf, nil
}
