package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/simulate"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// replayTolerance: a journey on a server runs its steps a little after
// their time (timers, business hours); a step is moved only past this.
const replayTolerance = 0.5

// replayCustomer reads a customer's journey from a running API, replays
// what the customer and its CSMs did under pb, and prints the difference
// from what actually happened.
func replayCustomer(ctx context.Context, cl config.Client, id string, pb *playbooks.Playbook, pbFile string, until float64, asJSON bool, stdout io.Writer) error {
	if cl.APIKey == "" {
		return fmt.Errorf("--customer reads the customer from the API: set LIFECYCLE_API_KEY (or --api-key) to a csm or admin key")
	}
	if u, err := url.Parse(cl.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("LIFECYCLE_API_URL: %q is not an http(s) URL", cl.APIURL)
	}
	var st workflows.State
	if err := getJSON(ctx, cl, "/v1/customers/"+url.PathEscape(id), &st); err != nil {
		return err
	}
	var tl workflows.Timeline
	if err := getJSON(ctx, cl, "/v1/customers/"+url.PathEscape(id)+"/timeline", &tl); err != nil {
		return err
	}
	rec, err := simulate.FromJourney(st, tl)
	if err != nil {
		return err
	}
	rec.Fit(pb)
	r, err := simulate.Simulate(ctx, pb, rec.Scenario, simulate.Options{Until: until})
	if err != nil {
		return err
	}
	d := simulate.CompareWithin(r, rec.Actual, replayTolerance)
	if asJSON {
		return writeJSON(stdout, map[string]any{
			"customer": id, "actual_playbook": st.Playbook, "playbook": pb.Ref(), "notes": rec.Notes,
			"diff": d, "simulated": r, "scenario": rec.Scenario,
		})
	}
	if len(rec.Notes) > 0 {
		fmt.Fprintln(stdout, "Replayed with these differences from what was recorded:")
		for _, n := range rec.Notes {
			fmt.Fprintf(stdout, "  - %s\n", n)
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "%s: %d recorded happenings over %g days replayed in %.0f ms.\n", st.AccountName, len(rec.Scenario.Happens), r.Until, r.ElapsedMS)
	d.Scenario = "customer " + id
	return simulate.WriteComparison(stdout, describe(pbFile, pb), "what happened ("+st.Playbook+")", []simulate.Diff{d})
}

// getJSON reads an API path with the configured key.
func getJSON(ctx context.Context, cl config.Client, path string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cl.APIURL, "/")+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+cl.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("%s answered %s: %s", path, resp.Status, e.Error.Message)
		}
		return fmt.Errorf("%s answered %s", path, resp.Status)
	}
	return json.Unmarshal(body, out)
}
