//go:build cluster

package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the store's driver, for reading its tables
	"go.temporal.io/sdk/client"
)

// cluster is what scripts/cluster/run.sh started, as its environment tells.
type cluster struct {
	bin       string // the lifecycle binary the processes run
	dir       string // the run's directory: logs of the processes the drill starts go there
	pidsFile  string // every started pid, so the script's cleanup stops ours too
	apis      []*api
	workers   []*workerProc
	keys      map[string]string // role -> API key
	customers int
	namespace string
	temporal  client.Client
	store     *sql.DB
}

// workerProc is one `lifecycle worker` process.
type workerProc struct {
	name  string
	pid   int
	addr  string // its /readyz and /metrics
	build string
	cmd   *exec.Cmd // nil for the script's workers
}

func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run this test through scripts/cluster/run.sh (make cluster-test)", name)
	}
	return v
}

func loadCluster(t *testing.T) *cluster {
	t.Helper()
	cl := &cluster{
		bin: env(t, "LIFECYCLE_CLUSTER_BIN"), dir: env(t, "LIFECYCLE_CLUSTER_DIR"),
		pidsFile: env(t, "LIFECYCLE_CLUSTER_PIDS_FILE"), namespace: env(t, "TEMPORAL_NAMESPACE"),
		keys: map[string]string{},
	}
	for _, pair := range strings.Split(env(t, "LIFECYCLE_API_KEYS"), ",") {
		role, key, ok := strings.Cut(pair, ":")
		if !ok {
			t.Fatalf("LIFECYCLE_API_KEYS: %q is not role:key", pair)
		}
		cl.keys[role] = key
	}
	for _, role := range []string{"sales", "csm", "integration", "admin"} {
		if cl.keys[role] == "" {
			t.Fatalf("LIFECYCLE_API_KEYS: no %s key", role)
		}
	}
	for i, base := range strings.Split(env(t, "LIFECYCLE_CLUSTER_APIS"), ",") {
		cl.apis = append(cl.apis, newAPI(fmt.Sprintf("API %d", i+1), base, cl.keys))
	}
	if len(cl.apis) < 2 {
		t.Fatalf("LIFECYCLE_CLUSTER_APIS: the drill needs two APIs, got %d", len(cl.apis))
	}
	for i, w := range strings.Split(env(t, "LIFECYCLE_CLUSTER_WORKERS"), ",") {
		pidText, addr, ok := strings.Cut(w, "@")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil {
			t.Fatalf("LIFECYCLE_CLUSTER_WORKERS: %q is not pid@host:port", w)
		}
		cl.workers = append(cl.workers, &workerProc{name: fmt.Sprintf("worker-a%d", i+1), pid: pid, addr: addr, build: "a"})
	}
	if len(cl.workers) < 2 {
		t.Fatalf("LIFECYCLE_CLUSTER_WORKERS: the drill needs two workers, got %d", len(cl.workers))
	}
	n, err := strconv.Atoi(env(t, "LIFECYCLE_CLUSTER_CUSTOMERS"))
	if err != nil || n < 2 {
		t.Fatalf("LIFECYCLE_CLUSTER_CUSTOMERS: %q is not a number of journeys (2 or more)", os.Getenv("LIFECYCLE_CLUSTER_CUSTOMERS"))
	}
	cl.customers = n
	cl.temporal, err = client.Dial(client.Options{HostPort: env(t, "TEMPORAL_ADDRESS"), Namespace: cl.namespace})
	if err != nil {
		t.Fatalf("TEMPORAL_ADDRESS: %v", err)
	}
	t.Cleanup(cl.temporal.Close)
	cl.store, err = sql.Open("pgx", env(t, "DATABASE_URL"))
	if err != nil {
		t.Fatalf("DATABASE_URL: %v", err)
	}
	t.Cleanup(func() { cl.store.Close() })
	return cl
}

// startWorker starts another `lifecycle worker` with the script's settings
// and build id, and waits until it is ready. Its pid goes to the script's
// pid file, so the cleanup stops it whatever happens to this test.
func (cl *cluster) startWorker(ctx context.Context, name, build string) (*workerProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(cl.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(cl.bin, "worker")
	cmd.Env = append(os.Environ(), "LIFECYCLE_BUILD_ID="+build, "LIFECYCLE_WORKER_HTTP_ADDR="+addr)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	w := &workerProc{name: name, pid: cmd.Process.Pid, addr: addr, build: build, cmd: cmd}
	if err := appendLine(cl.pidsFile, strconv.Itoa(w.pid)); err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("recording %s's pid: %w", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := waitReady(ctx, "http://"+addr+"/readyz", exited, 90*time.Second); err != nil {
		return nil, fmt.Errorf("%s (log %s): %w", name, log.Name(), err)
	}
	cl.workers = append(cl.workers, w)
	return w, nil
}

// stop ends a worker: SIGTERM lets it finish its tasks (SIGKILL is the
// other drill), and it must exit within 30 s.
func (w *workerProc) stop() error {
	if err := syscall.Kill(w.pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("%s: %w", w.name, err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if !alive(w.pid) {
			return nil
		}
	}
	return fmt.Errorf("%s (pid %d) still running 30 s after SIGTERM", w.name, w.pid)
}

// alive reports whether pid runs (and is not a zombie of ours).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// lifecycle runs a lifecycle command with the script's settings.
func (cl *cluster) lifecycle(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cl.bin, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("lifecycle %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func waitReady(ctx context.Context, url string, exited <-chan error, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("exited before %s answered: %v", url, err)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s", url, limit)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := fmt.Fprintln(f, line)
	return errors.Join(werr, f.Close())
}
