package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

const probeHelp = `Usage: lifecycle probe URL

Asks URL (a worker's or an API's /healthz or /readyz) and exits 0 when it
answers 2xx within 3 seconds, 1 otherwise: the health check of an image that
has no shell or curl, e.g. in docker-compose.yml:
  healthcheck: {test: ["CMD", "/lifecycle", "probe", "http://127.0.0.1:9090/readyz"]}
`

func probeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprint(stderr, probeHelp)
		return nil
	}
	if len(args) != 1 {
		fmt.Fprint(stderr, probeHelp)
		return errUsage
	}
	u, err := url.Parse(args[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("probe: %q is not an http(s) URL", args[0])
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("probe: %s answered %s: %s", u, resp.Status, body)
	}
	fmt.Fprintf(stdout, "%s: %s\n", u, resp.Status)
	return nil
}
