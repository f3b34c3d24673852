// Package bookimport reads a book of business from CSV: one customer per
// row, each a start of POST /v1/customers:batch at the point of the
// playbook the row gives.
package bookimport

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Column is one CSV column an import reads.
type Column struct{ Name, Help string }

// Columns are the columns an import reads, in README order. The header row
// names them, in any order; only account_id is required of every file.
var Columns = []Column{
	{"account_id", "the customer's id (letters, digits, '.', '_', '-'): its journey is customer:<id>"},
	{"account_name", "the company's name"},
	{"plan", "the plan; it picks the playbook (PUT /v1/plans/{plan}/playbook)"},
	{"renewal_date", "the next renewal, 2027-01-31"},
	{"start_date", "when the customer started, 2026-05-17: the journey begins at that day of the playbook"},
	{"day", "instead of start_date: the customer's journey day today"},
	{"phase", "handoff, onboarding or adoption; alone, the start of that phase"},
	{"deal_id", "the deal (default import:<account_id>, so the same file twice starts nothing twice)"},
	{"champion_name", "the champion"},
	{"champion_email", ""},
	{"champion_time_zone", "an IANA zone, e.g. Europe/Paris"},
	{"contacts", "other contacts: role:Name <email> [zone], separated by ';' (admin, user, executive_sponsor, billing)"},
	{"csm_name", "the CSM (default --csm-name)"},
	{"csm_email", "(default --csm-email)"},
	{"manager_email", "the CS manager (default --manager-email)"},
	{"sponsor_email", "the executive sponsor on our side"},
	{"playbook", "a published playbook version, id@vN (default: the plan's)"},
}

// MaxRows bounds a file: an import is a book of business, not a data lake.
const MaxRows = 100_000

// Defaults fill the cells a file leaves empty.
type Defaults struct {
	CSMName, CSMEmail, ManagerEmail string
}

// Row is one customer of the file.
type Row struct {
	Line     int
	Customer apiserver.BatchCustomer
}

// Error is a row the file itself gets wrong, by line and column.
type Error struct {
	Line    int
	Field   string
	Message string
}

func (e Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Message)
}

// Parse reads the file: the rows it can send, and the rows it cannot with
// why. An error is a file that cannot be read at all (no header, an
// unknown column, too many rows).
func Parse(r io.Reader, d Defaults) ([]Row, []Error, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, errors.New("the file is empty: its first line names the columns (account_id, ...)")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("line 1: %v", err)
	}
	col := map[string]int{}
	known := map[string]bool{}
	for _, c := range Columns {
		known[c.Name] = true
	}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case !known[h]:
			return nil, nil, fmt.Errorf("line 1: unknown column %q (columns: %s)", h, names())
		case col[h] > 0:
			return nil, nil, fmt.Errorf("line 1: column %q twice", h)
		}
		col[h] = i + 1
	}
	if col["account_id"] == 0 {
		return nil, nil, errors.New("line 1: no account_id column")
	}
	var rows []Row
	var bad []Error
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			bad = append(bad, Error{Line: pe.Line, Message: pe.Err.Error()})
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if len(rows)+len(bad) >= MaxRows {
			return nil, nil, fmt.Errorf("more than %d rows: split the file", MaxRows)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if len(rec) != len(header) {
			bad = append(bad, Error{Line: line, Message: fmt.Sprintf("%d cells for %d columns", len(rec), len(header))})
			continue
		}
		cell := func(name string) string {
			if i := col[name]; i > 0 {
				return strings.TrimSpace(rec[i-1])
			}
			return ""
		}
		row, e := parseRow(line, cell, d)
		if e != nil {
			bad = append(bad, *e)
			continue
		}
		rows = append(rows, row)
	}
	return rows, bad, nil
}

func names() string {
	out := make([]string, len(Columns))
	for i, c := range Columns {
		out[i] = c.Name
	}
	return strings.Join(out, ", ")
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func parseRow(line int, cell func(string) string, d Defaults) (Row, *Error) {
	fail := func(field, format string, args ...any) (Row, *Error) {
		return Row{}, &Error{Line: line, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	var req apiserver.StartRequest
	id := cell("account_id")
	if id == "" {
		return fail("account_id", "is empty")
	}
	req.Account.ID = id
	req.Account.Name = or(cell("account_name"), id)
	req.Account.Plan = cell("plan")
	for _, f := range []struct {
		col string
		to  **apiserver.Date
	}{{"renewal_date", nil}, {"start_date", &req.StartDate}} {
		v := cell(f.col)
		if v == "" {
			continue
		}
		var date apiserver.Date
		if err := json.Unmarshal([]byte(strconv.Quote(v)), &date); err != nil {
			return fail(f.col, "%q is not a date like 2027-01-31", v)
		}
		if f.to == nil {
			req.Account.RenewalDate = date
		} else {
			*f.to = &date
		}
	}
	if req.Account.RenewalDate.IsZero() {
		return fail("renewal_date", "is empty: the next renewal, like %s", time.Now().AddDate(1, 0, 0).Format(time.DateOnly))
	}
	if v := cell("day"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fail("day", "%q is not a whole number of days", v)
		}
		req.Day = &n
	}
	req.Phase = strings.ToLower(cell("phase"))
	req.DealID = or(cell("deal_id"), "import:"+id)
	req.Champion = workflows.Person{Name: cell("champion_name"), Email: cell("champion_email"), TimeZone: cell("champion_time_zone")}
	req.CSM = workflows.Person{Name: or(cell("csm_name"), d.CSMName), Email: or(cell("csm_email"), d.CSMEmail)}
	req.ManagerEmail = or(cell("manager_email"), d.ManagerEmail)
	req.SponsorEmail = cell("sponsor_email")
	req.Playbook = cell("playbook")
	if v := cell("contacts"); v != "" {
		cts, err := parseContacts(v)
		if err != nil {
			return fail("contacts", "%v", err)
		}
		req.Contacts = cts
	}
	return Row{Line: line, Customer: apiserver.BatchCustomer{StartRequest: req, Line: line}}, nil
}

// parseContacts reads "role:Name <email> [zone]; ...".
func parseContacts(v string) ([]workflows.Contact, error) {
	var out []workflows.Contact
	for i, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		role, rest, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("contact %d %q: write role:Name <email>", i+1, part)
		}
		zone := ""
		if gt := strings.LastIndexByte(rest, '>'); gt >= 0 {
			rest, zone = rest[:gt+1], strings.TrimSpace(rest[gt+1:])
		}
		addr, err := mail.ParseAddress(strings.TrimSpace(rest))
		if err != nil {
			return nil, fmt.Errorf("contact %d %q: write role:Name <email> (%v)", i+1, part, err)
		}
		out = append(out, workflows.Contact{Role: strings.TrimSpace(role), Name: addr.Name, Email: addr.Address, TimeZone: zone})
	}
	return out, nil
}
