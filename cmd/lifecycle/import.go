package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/bookimport"
	"github.com/seed-a80403e2/lifecycle/internal/config"
)

const importHelp = `Usage: lifecycle import [flags] FILE.csv

Brings a book of business in: one customer per row, each starting its
journey where it stands (its start_date, day or phase) without what would
have come before: no welcome to a customer in month 7, milestones already
due marked imported rather than late. Rows go to the API's
POST /v1/customers:batch (LIFECYCLE_API_URL, with a sales or admin key in
LIFECYCLE_API_KEY), a batch at a time.

The same file twice starts nothing twice: a customer whose journey runs is
"unchanged". A refused row names its line and column; the others go on.
--dry-run starts nothing and prints what each customer would receive next.

  lifecycle import customers.csv --dry-run
  lifecycle import customers.csv --manager-email cs-lead@example.com

Columns (the first line names them, any order; README: Import):
%s
Flags:
`

func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		var cols strings.Builder
		for _, c := range bookimport.Columns {
			fmt.Fprintf(&cols, "  %-20s %s\n", c.Name, c.Help)
		}
		fmt.Fprintf(stderr, importHelp, cols.String())
		fs.PrintDefaults()
	}
	dryRun := fs.Bool("dry-run", false, "check every row and print what each customer would receive next; start nothing")
	size := fs.Int("batch-size", 200, fmt.Sprintf("customers per request (1 to %d)", apiserver.MaxBatch))
	var d bookimport.Defaults
	fs.StringVar(&d.CSMName, "csm-name", "", "the CSM of rows without csm_name")
	fs.StringVar(&d.CSMEmail, "csm-email", "", "the CSM's address for rows without csm_email")
	fs.StringVar(&d.ManagerEmail, "manager-email", "", "the CS manager of rows without manager_email")
	settings := config.Register(fs, config.CmdImport)
	// Flags may follow the file: lifecycle import book.csv --dry-run.
	var file string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		if file != "" {
			fs.Usage()
			fmt.Fprintf(stderr, "\nlifecycle import: one FILE.csv (got %q and %q)\n", file, fs.Arg(0))
			return errUsage
		}
		file, args = fs.Arg(0), fs.Args()[1:]
	}
	if file == "" {
		fs.Usage()
		fmt.Fprintln(stderr, "\nlifecycle import: name the FILE.csv to import")
		return errUsage
	}
	if *size < 1 || *size > apiserver.MaxBatch {
		return fmt.Errorf("--batch-size: 1 to %d", apiserver.MaxBatch)
	}
	cfg, err := config.Load(settings, config.CmdImport)
	if err != nil {
		return err
	}
	if cfg.Client.APIKey == "" {
		return errors.New("LIFECYCLE_API_KEY (--api-key): a sales or admin API key is needed to start journeys")
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	rows, bad, err := bookimport.Parse(f, d)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	im := &importer{api: strings.TrimSuffix(cfg.Client.APIURL, "/"), key: cfg.Client.APIKey, dry: *dryRun,
		out: stdout, bar: newProgress(stderr, len(rows)+len(bad)), retryWait: 500 * time.Millisecond}
	im.bar.failed, im.bar.seen = len(bad), len(bad)
	if *dryRun {
		im.bar.verb = "would start"
	}
	for _, e := range bad {
		im.problems = append(im.problems, e.Error())
	}
	for i := 0; i < len(rows); i += *size {
		if err := im.send(ctx, rows[i:min(i+*size, len(rows))]); err != nil {
			im.bar.done()
			im.report()
			return err
		}
	}
	im.bar.done()
	im.report()
	if im.bar.failed > 0 {
		return fmt.Errorf("%d of %d rows not imported (above, by line)", im.bar.failed, len(rows)+len(bad))
	}
	return nil
}

// importer sends a file's rows a batch at a time.
type importer struct {
	api, key  string
	dry       bool
	out       io.Writer
	bar       *progress
	problems  []string // each refused row, by line
	previews  []string
	retryWait time.Duration
}

// send posts one batch. Rows the API could not try (its engine or store was
// unavailable) are sent again, up to three times: a start is idempotent,
// so rows that did start come back unchanged.
func (im *importer) send(ctx context.Context, rows []bookimport.Row) error {
	wait := im.retryWait
	for attempt := 1; ; attempt++ {
		resp, err := im.post(ctx, rows)
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return fatal.error
		}
		if err != nil {
			if attempt < 4 && ctx.Err() == nil {
				time.Sleep(wait)
				wait *= 2
				continue
			}
			return err
		}
		var again []bookimport.Row
		for _, r := range resp.Results {
			row := rows[r.Index]
			if r.Status == http.StatusServiceUnavailable && attempt < 4 {
				again = append(again, row)
				continue
			}
			im.count(row, r)
		}
		if len(again) == 0 {
			return nil
		}
		rows = again
		time.Sleep(wait)
		wait *= 2
	}
}

func (im *importer) count(row bookimport.Row, r apiserver.BatchResult) {
	switch r.Result {
	case apiserver.BatchStarted:
		im.bar.started++
	case apiserver.BatchUnchanged:
		im.bar.unchanged++
	case apiserver.BatchWouldStart:
		im.bar.started++
		im.previews = append(im.previews, preview(row, r))
	default:
		im.bar.failed++
		msg := "refused"
		if r.Error != nil {
			msg = r.Error.Message
			if r.Error.Field != "" && !strings.HasPrefix(msg, r.Error.Field+":") {
				msg = r.Error.Field + ": " + msg
			}
		}
		im.problems = append(im.problems, fmt.Sprintf("line %d: %s: %s", row.Line, row.Customer.Account.ID, msg))
	}
	im.bar.step()
}

func preview(row bookimport.Row, r apiserver.BatchResult) string {
	var next []string
	for _, n := range r.Next {
		next = append(next, fmt.Sprintf("%s on day %d (%s)", cmp.Or(n.Label, n.Step), n.Day, n.At.Format("2006-01-02 15:04 MST")))
	}
	if len(next) == 0 {
		next = []string{"nothing scheduled"}
	}
	return fmt.Sprintf("line %d: %s at day %d (%s): next %s", row.Line, row.Customer.Account.ID, r.Day, r.Phase, strings.Join(next, ", then "))
}

func (im *importer) post(ctx context.Context, rows []bookimport.Row) (*apiserver.BatchResponse, error) {
	req := apiserver.BatchRequest{DryRun: im.dry}
	for _, r := range rows {
		req.Customers = append(req.Customers, r.Customer)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, im.api+"/v1/customers:batch", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Authorization", "Bearer "+im.key)
	hr.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("the API at %s did not answer: %w", im.api, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if res.StatusCode != http.StatusOK {
		var e apiserver.ErrorBody
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		err := fmt.Errorf("POST /v1/customers:batch: %s: %s", res.Status, msg)
		if res.StatusCode >= 500 {
			return nil, err // retried
		}
		return nil, &fatalError{err}
	}
	var out apiserver.BatchResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("POST /v1/customers:batch: unreadable answer: %w", err)
	}
	if len(out.Results) != len(rows) {
		return nil, &fatalError{fmt.Errorf("POST /v1/customers:batch answered %d results for %d customers", len(out.Results), len(rows))}
	}
	return &out, nil
}

// fatalError is an answer no retry changes (a bad key, a refused body).
type fatalError struct{ error }

func (im *importer) report() {
	for _, p := range im.previews {
		fmt.Fprintln(im.out, p)
	}
	for _, p := range im.problems {
		fmt.Fprintln(im.out, p)
	}
	verb := "started"
	if im.dry {
		verb = "would start"
	}
	fmt.Fprintf(im.out, "%d rows: %d %s, %d unchanged, %d failed\n", im.bar.total, im.bar.started, verb, im.bar.unchanged, im.bar.failed)
}

// progress draws a bar on a terminal, and a line every tenth of the way
// elsewhere (a CI log).
type progress struct {
	w                          io.Writer
	tty                        bool
	total, seen                int
	started, unchanged, failed int
	verb                       string // "started", or "would start" in a dry run
	lastTenth                  int
	lastDraw                   time.Time
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, verb: "started"}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) step() {
	p.seen++
	switch {
	case p.tty:
		if time.Since(p.lastDraw) > 50*time.Millisecond || p.seen == p.total {
			p.lastDraw = time.Now()
			fmt.Fprintf(p.w, "\r%s", p.line())
		}
	case p.total > 0 && p.seen*10/p.total > p.lastTenth:
		p.lastTenth = p.seen * 10 / p.total
		fmt.Fprintln(p.w, p.line())
	}
}

func (p *progress) line() string {
	const width = 30
	filled := width
	if p.total > 0 {
		filled = p.seen * width / p.total
	}
	return fmt.Sprintf("importing [%s%s] %d/%d · %d %s · %d unchanged · %d failed",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.seen, p.total, p.started, p.verb, p.unchanged, p.failed)
}

func (p *progress) done() {
	if p.tty && p.seen > 0 {
		fmt.Fprintln(p.w)
	}
}
