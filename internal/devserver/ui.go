package devserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
)

const uiStopTimeout = 5 * time.Second

// webUI is the embedded Temporal Web UI (ui-server with its built-in assets),
// configured the way the Temporal CLI dev server configures it.
type webUI struct {
	srv  *uiserver.Server
	url  string
	done chan struct{} // closed when srv.Start returns
}

// startUI starts the UI on ip:port and waits until it answers /healthz.
//
// ui-server offers no way to hand it a listener, and when its own bind fails it
// calls log.Fatal, which exits the process. Checking the port right before it
// binds leaves only a tiny race for that; it is the same as the CLI.
func startUI(ctx context.Context, ip string, port int, frontendAddr, namespace string) (_ *webUI, err error) {
	if err := checkPortFree(ip, port); err != nil {
		return nil, err
	}
	defer func() {
		// NewServer panics on bad config or missing assets; the dev server is
		// still useful without a UI, so that becomes an error.
		if r := recover(); r != nil {
			err = fmt.Errorf("building UI server: %v", r)
		}
	}()
	srv := uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
		Host:                uiHost(ip),
		Port:                port,
		TemporalGRPCAddress: frontendAddr,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		// Plain HTTP on localhost: a Secure cookie would never be sent back,
		// breaking the CSRF check on every write action.
		CORS:     uiconfig.CORS{CookieInsecure: true},
		HideLogs: true,
	}))
	ui := &webUI{srv: srv, url: "http://" + hostPort(dialHost(ip), port), done: make(chan struct{})}
	go func() {
		defer close(ui.done)
		_ = srv.Start() // returns nil once Stop closes it; bind errors exit (see above)
	}()
	if err := waitHTTP(ctx, ui.url+"/healthz"); err != nil {
		ui.stop()
		return nil, err
	}
	return ui, nil
}

// uiHost brackets an IPv6 address: ui-server joins host and port with
// Sprintf("%s:%d"), which needs "[::1]" rather than "::1".
func uiHost(ip string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]"
	}
	return ip
}

func waitHTTP(ctx context.Context, url string) error {
	hc := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("UI at %s did not answer: %v", url, err)
		case <-time.After(retryEvery):
		}
	}
}

// stop closes the UI's HTTP server and waits for its goroutine to end. The
// gRPC connection ui-server opened to the frontend has no close hook; it is
// idle once the frontend is gone and does not keep the process alive.
func (u *webUI) stop() {
	u.srv.Stop()
	select {
	case <-u.done:
	case <-time.After(uiStopTimeout):
	}
}
