//go:build !nodev

package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// bookRow is row i of a generated book of business: every phase, with
// start dates, days and phases alone.
func bookRow(i int) (row string, day int) {
	today := time.Now().UTC()
	renewal := today.AddDate(0, 0, 30+i%300).Format(time.DateOnly)
	id := fmt.Sprintf("book-%03d", i)
	start, d, phase := "", "", ""
	switch i % 5 {
	case 0: // a new customer: day 0, welcomed
		day = 0
	case 1: // by start date, anywhere in the first two years
		day = 1 + (i*7)%700
		start = today.AddDate(0, 0, -day).Format(time.DateOnly)
	case 2: // by journey day, in onboarding
		day = 1 + i%89
		d = fmt.Sprint(day)
	case 3: // adoption, phase alone: day 90
		day, phase = 90, "adoption"
	case 4: // onboarding, phase alone: day 1
		day, phase = 1, "onboarding"
	}
	contacts := ""
	if i%7 == 0 {
		contacts = fmt.Sprintf("admin:Bob Admin <bob@%s.example>; user:Cy User <cy@%s.example> America/Chicago", id, id)
	}
	return fmt.Sprintf("%s,Company %d,pro,%s,%s,%s,%s,Champion %d,champion@%s.example,Europe/London,%q,Grace Hopper,grace@vendor.example",
		id, i, renewal, start, d, phase, i, id, contacts), day
}

const bookHeader = "account_id,account_name,plan,renewal_date,start_date,day,phase,champion_name,champion_email,champion_time_zone,contacts,csm_name,csm_email"

// TestImportABookOfFiveHundred is the import's acceptance on a real
// `lifecycle dev`: 500 customers at every phase start 500 journeys, none
// past day 0 is welcomed, each one's next step is the playbook's next one
// for its day, bad rows are named by line, and the same file again changes
// nothing.
func TestImportABookOfFiveHundred(t *testing.T) {
	dataDir := t.TempDir()
	httpAddr := freePort(t)
	key := "dev-admin-key-of-24-chars"
	dev := startDev(t, "--data-dir", dataDir, "--http-addr", httpAddr, "--temporal-address", freePort(t), "--ui-port", "-1",
		"--api-keys", "admin:"+key, "--day-length", "1h", "--log-level", "warn")
	api := apiClient{t: t, base: "http://" + httpAddr, key: key}
	waitUntil(t, "/readyz", 60*time.Second, func() bool { return api.call("GET", "/readyz", nil, nil) == http.StatusOK })
	defer dev.stop()

	lines := []string{bookHeader}
	days := map[string]int{}
	for i := range 500 {
		row, day := bookRow(i)
		lines = append(lines, row)
		days[fmt.Sprintf("book-%03d", i)] = day
	}
	// Three bad rows after them: lines 502, 503 and 504.
	lines = append(lines,
		"bad-1,Bad One,pro,2020-01-01,,,,Champ,champ@bad-1.example,,,Grace Hopper,grace@vendor.example",
		"bad-2,Bad Two,pro,"+time.Now().AddDate(1, 0, 0).Format(time.DateOnly)+",,forty,,Champ,champ@bad-2.example,,,Grace Hopper,grace@vendor.example",
		"bad-3,Bad Three,pro,"+time.Now().AddDate(1, 0, 0).Format(time.DateOnly)+",,30,adoption,Champ,champ@bad-3.example,,,Grace Hopper,grace@vendor.example")
	file := filepath.Join(t.TempDir(), "book.csv")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600))

	importIt := func(extra ...string) (int, string, string) {
		var out, errOut strings.Builder
		code := run(context.Background(), append([]string{"import", file, "--api-url", api.base, "--api-key", key, "--manager-email", "lead@vendor.example"}, extra...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, progress := importIt("--batch-size", "150")
	assert.Equal(t, 1, code, "three rows failed: %s", out)
	assert.Contains(t, out, "503 rows: 500 started, 0 unchanged, 3 failed")
	assert.Contains(t, out, "line 502: bad-1: account.renewal_date: must be after today")
	assert.Contains(t, out, `line 503: day: "forty" is not a whole number of days`)
	assert.Contains(t, out, "line 504: bad-3: phase: adoption at day 30")
	assert.Contains(t, progress, "importing [##############################] 503/503")

	st, err := store.Open(context.Background(), "", dataDir)
	require.NoError(t, err)
	defer st.Close()
	pb := playbooks.Default()
	var welcomed []string
	waitUntil(t, "the 100 welcome emails of day-0 customers", 60*time.Second, func() bool {
		msgs, err := st.OutboxList(context.Background(), "", 100000)
		require.NoError(t, err)
		welcomed = welcomed[:0]
		for _, m := range msgs {
			if m.Step == "handoff:welcome" {
				welcomed = append(welcomed, m.CustomerID)
			}
		}
		return len(welcomed) >= 100
	})
	for _, id := range welcomed {
		assert.Zero(t, days[id], "%s was welcomed at day %d", id, days[id])
	}
	assert.Len(t, welcomed, 100)

	// Each journey stands at its day, and its next touchpoint is the
	// playbook's first one from that day on (or, past onboarding, a check-in,
	// a QBR, a renewal reminder, the term or a silence step).
	for id, day := range days {
		var state struct {
			Day  int `json:"day"`
			Next []struct {
				Step string `json:"step"`
				Day  int    `json:"day"`
			} `json:"next_touchpoints"`
		}
		require.Equal(t, http.StatusOK, api.call("GET", "/v1/customers/"+id, nil, &state), id)
		assert.InDelta(t, day, state.Day, 1, id)
		require.NotEmpty(t, state.Next, id)
		for _, n := range state.Next {
			assert.GreaterOrEqual(t, n.Day, day, "%s at day %d has %s due on day %d", id, day, n.Step, n.Day)
		}
		if day > 0 && day < pb.OnboardingDays {
			want := ""
			for _, tp := range pb.Touchpoints {
				if tp.Day > day+1 { // the one of the day itself may have gone out already
					want = "touchpoint:" + tp.ID
					break
				}
			}
			var steps []string
			for _, n := range state.Next {
				steps = append(steps, n.Step)
			}
			if want != "" {
				assert.Contains(t, steps, want, "%s at day %d", id, day)
			}
		}
	}

	// The same file again: nothing starts, nothing changes.
	before, err := st.OutboxList(context.Background(), "", 100000)
	require.NoError(t, err)
	code, out, _ = importIt()
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "503 rows: 0 started, 500 unchanged, 3 failed")
	after, err := st.OutboxList(context.Background(), "", 100000)
	require.NoError(t, err)
	assert.Equal(t, len(before), len(after), "a re-run sends nothing")

	// A dry run of the file prints what each would receive next.
	code, out, _ = importIt("--dry-run")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "503 rows: 0 would start, 500 unchanged, 3 failed")
}

func TestImportFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	for name, tc := range map[string]struct{ body, want string }{
		"empty":          {"", "the file is empty"},
		"unknown column": {"account_id,colour\nacme,red\n", `unknown column "colour"`},
		"no id column":   {"account_name\nAcme\n", "no account_id column"},
		"twice":          {"account_id,account_id\na,b\n", `column "account_id" twice`},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut strings.Builder
			code := run(context.Background(), []string{"import", write(name+".csv", tc.body), "--api-key", "k"}, &out, &errOut)
			assert.Equal(t, 1, code)
			assert.Contains(t, errOut.String(), tc.want)
		})
	}
	var out, errOut strings.Builder
	assert.Equal(t, 2, run(context.Background(), []string{"import"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "name the FILE.csv")
	assert.Contains(t, errOut.String(), "start_date")
	errOut.Reset()
	assert.Equal(t, 1, run(context.Background(), []string{"import", write("ok.csv", bookHeader+"\n"), "--batch-size", "1001", "--api-key", "k"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "--batch-size: 1 to 1000")
	errOut.Reset()
	t.Setenv("LIFECYCLE_API_KEY", "")
	assert.Equal(t, 1, run(context.Background(), []string{"import", write("ok.csv", bookHeader+"\n")}, &out, &errOut))
	assert.Contains(t, errOut.String(), "LIFECYCLE_API_KEY")
	// The API down: the import says where it tried.
	errOut.Reset()
	row, _ := bookRow(1)
	assert.Equal(t, 1, run(context.Background(), []string{"import", write("one.csv", bookHeader+"\n"+row+"\n"), "--api-key", "k", "--api-url", "http://" + freePort(t)}, &out, &errOut))
	assert.Contains(t, errOut.String(), "did not answer")
}
