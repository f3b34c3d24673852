package apiserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
)

// importRow is a start body at a point of the playbook.
func importRow(id string, line int, set map[string]any) map[string]any {
	b := startBody(id)
	b["line"] = line
	for k, v := range set {
		b[k] = v
	}
	return b
}

func daysAgo(n int) string { return time.Now().UTC().AddDate(0, 0, -n).Format(time.DateOnly) }

func (e *env) customerSteps(id string) []string {
	e.t.Helper()
	msgs, err := e.store.OutboxList(context.Background(), id, 1000)
	require.NoError(e.t, err)
	var out []string
	for _, m := range msgs {
		if m.Kind == "customer" {
			out = append(out, m.Step)
		}
	}
	return out
}

func results(t *testing.T, body map[string]any) []map[string]any {
	t.Helper()
	rs, ok := body["results"].([]any)
	require.True(t, ok, "%v", body)
	out := make([]map[string]any, len(rs))
	for i, r := range rs {
		out[i] = r.(map[string]any)
	}
	return out
}

// TestBatchImportsABookOfBusiness: customers at day 0, mid-onboarding and
// in month 7 start where they stand (no welcome past day 0), refusals name
// the line and the field, and the same batch again changes nothing.
func TestBatchImportsABookOfBusiness(t *testing.T) {
	e := newEnv(t)
	renewal := time.Now().UTC().AddDate(0, 0, 165).Format(time.DateOnly)
	m7 := importRow("imp-m7", 4, map[string]any{"start_date": daysAgo(200)})
	m7["account"].(map[string]any)["renewal_date"] = renewal
	bad := importRow("imp-bad", 6, nil)
	bad["champion"].(map[string]any)["email"] = "not-an-address"
	batch := map[string]any{"customers": []map[string]any{
		importRow("imp-new", 2, nil),
		importRow("imp-d40", 3, map[string]any{"start_date": daysAgo(40)}),
		m7,
		importRow("imp-adopt", 5, map[string]any{"phase": "adoption"}),
		bad,
		importRow("imp-d40", 7, map[string]any{"day": 12}),
		importRow("imp-late", 8, map[string]any{"day": 30, "phase": "adoption"}),
	}}
	status, body := e.do("POST", "/v1/customers:batch", salesKey, batch)
	require.Equal(t, http.StatusOK, status, body)
	assert.EqualValues(t, 4, body["started"])
	assert.EqualValues(t, 3, body["failed"])
	rs := results(t, body)
	require.Len(t, rs, 7)
	for i, want := range []string{"started", "started", "started", "started", "failed", "failed", "failed"} {
		assert.Equal(t, want, rs[i]["result"], "row %d: %v", i, rs[i])
		assert.EqualValues(t, i+2, rs[i]["line"])
	}
	assert.Equal(t, []any{0.0, 40.0, 200.0, 90.0}, []any{rs[0]["day"], rs[1]["day"], rs[2]["day"], rs[3]["day"]})
	assert.Equal(t, []any{"handoff", "onboarding", "adoption", "adoption"}, []any{rs[0]["phase"], rs[1]["phase"], rs[2]["phase"], rs[3]["phase"]})
	errOf := func(r map[string]any) (string, string) {
		d := r["error"].(map[string]any)
		return d["field"].(string), d["message"].(string)
	}
	field, msg := errOf(rs[4])
	assert.Equal(t, "champion.email", field, msg)
	field, msg = errOf(rs[5])
	assert.Equal(t, "account.id", field)
	assert.Contains(t, msg, "also on line 3")
	field, msg = errOf(rs[6])
	assert.Equal(t, "phase", field)
	assert.Contains(t, msg, "adoption begins on day 90")

	// Each journey is where its row put it, and only day 0 was welcomed.
	require.Eventually(t, func() bool { return len(e.customerSteps("imp-new")) > 0 }, 10*time.Second, 50*time.Millisecond)
	assert.Contains(t, e.customerSteps("imp-new"), "handoff:welcome")
	for _, id := range []string{"imp-d40", "imp-m7", "imp-adopt"} {
		st := e.state(id)
		assert.NotNil(t, st["imported"], id)
		for _, step := range e.customerSteps(id) {
			assert.False(t, strings.HasPrefix(step, "handoff:"), "%s was sent %s", id, step)
		}
	}
	st := e.state("imp-m7")
	assert.Equal(t, "adoption", st["phase"])
	assert.EqualValues(t, 200, st["day"])
	assert.Equal(t, renewal+"T00:00:00Z", st["renewal_date"], "the renewal date as given")
	assert.Equal(t, "checkin:d210", st["next_touchpoints"].([]any)[0].(map[string]any)["step"])
	st = e.state("imp-d40")
	assert.Equal(t, "onboarding", st["phase"])
	assert.Equal(t, "milestone:first_value:late-1", st["next_touchpoints"].([]any)[0].(map[string]any)["step"], "first value is due on day 45")
	require.Eventually(t, func() bool { return len(e.customerSteps("imp-d40")) > 0 }, 10*time.Second, 50*time.Millisecond)
	assert.Equal(t, []string{"touchpoint:training-advanced"}, e.customerSteps("imp-d40"), "day 40's training is due on the day of the import")
	assert.EqualValues(t, 2, st["milestone_progress"].(map[string]any)["imported"], "kickoff (day 10) and technical setup (day 21)")

	// The same batch again starts nothing and changes nothing.
	before := map[string]int{}
	for _, id := range []string{"imp-new", "imp-d40", "imp-m7", "imp-adopt"} {
		before[id] = e.historyLength(id)
	}
	status, body = e.do("POST", "/v1/customers:batch", salesKey, batch)
	require.Equal(t, http.StatusOK, status, body)
	assert.EqualValues(t, 0, body["started"])
	assert.EqualValues(t, 4, body["unchanged"])
	assert.EqualValues(t, 3, body["failed"])
	for id, n := range before {
		assert.Equal(t, n, e.historyLength(id), "%s: a re-run sends the journey nothing", id)
	}
}

// TestBatchDryRunStartsNothing: a dry run answers what each customer
// would receive next and starts no journey.
func TestBatchDryRunStartsNothing(t *testing.T) {
	e := newEnv(t)
	status, body := e.do("POST", "/v1/customers:batch", salesKey, map[string]any{"dry_run": true, "customers": []map[string]any{
		importRow("dry-d33", 2, map[string]any{"day": 33}),
		importRow("dry-new", 3, nil),
	}})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, true, body["dry_run"])
	assert.EqualValues(t, 2, body["would_start"])
	rs := results(t, body)
	next := rs[0]["next"].([]any)
	require.NotEmpty(t, next)
	assert.Equal(t, "touchpoint:best-practices-35", next[0].(map[string]any)["step"])
	assert.Equal(t, "handoff:csm-task", rs[1]["next"].([]any)[0].(map[string]any)["step"])
	for _, id := range []string{"dry-d33", "dry-new"} {
		_, err := e.client.DescribeWorkflowExecution(context.Background(), "customer:"+id, "")
		var nf *serviceerror.NotFound
		assert.ErrorAs(t, err, &nf, "%s must not have started", id)
	}
}

func TestBatchBounds(t *testing.T) {
	e := newEnv(t)
	status, body := e.do("POST", "/v1/customers:batch", salesKey, map[string]any{"customers": []any{}})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "customers", errField(body))
	many := make([]map[string]any, 1001)
	for i := range many {
		many[i] = importRow("too-many", i+2, nil)
	}
	status, body = e.do("POST", "/v1/customers:batch", salesKey, map[string]any{"customers": many})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, body["error"].(map[string]any)["message"], "at most 1000")
	status, _ = e.do("POST", "/v1/customers:batch", csmKey, map[string]any{"customers": []map[string]any{importRow("csm-try", 2, nil)}})
	assert.Equal(t, http.StatusForbidden, status)
	status, body = e.do("POST", "/v1/customers:batch", salesKey, `{"customers": [{"account": {"id": "x"}, "colour": "red"}]}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "unknown_field", errCode(body))
}

// historyLength counts the events of the customer's current run.
func (e *env) historyLength(id string) int {
	e.t.Helper()
	d, err := e.client.DescribeWorkflowExecution(context.Background(), "customer:"+id, "")
	require.NoError(e.t, err)
	return int(d.GetWorkflowExecutionInfo().GetHistoryLength())
}

// TestBatchAfterChurn: the same row again after the customer churned starts
// nothing (the import's deal was used); a row with a new deal id starts
// the customer's next journey, whose import is its own.
func TestBatchAfterChurn(t *testing.T) {
	e := newEnv(t)
	row := importRow("imp-churn", 2, map[string]any{"day": 40})
	delete(row, "deal_id")
	row["deal_id"] = "import:imp-churn"
	status, body := e.do("POST", "/v1/customers:batch", salesKey, map[string]any{"customers": []any{row}})
	require.Equal(t, http.StatusOK, status, body)
	require.EqualValues(t, 1, body["started"], body)
	status, body = e.do("POST", "/v1/customers/imp-churn/outcomes", csmKey, map[string]any{"kind": "churned", "note": "budget"})
	require.Equal(t, http.StatusOK, status, body)
	require.Eventually(t, func() bool {
		st := e.state("imp-churn")
		return st["phase"] == "ended"
	}, 10*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		_, body = e.do("POST", "/v1/customers:batch", salesKey, map[string]any{"customers": []any{row}})
		rs := results(t, body)
		return rs[0]["status"] != float64(http.StatusServiceUnavailable) // the ended journey closes first
	}, 20*time.Second, 100*time.Millisecond)
	rs := results(t, body)
	assert.Equal(t, "failed", rs[0]["result"])
	assert.Equal(t, "deal_already_used", rs[0]["error"].(map[string]any)["code"])

	row["deal_id"] = "deal-imp-churn-2"
	row["day"] = 0
	require.Eventually(t, func() bool {
		status, body = e.do("POST", "/v1/customers:batch", salesKey, map[string]any{"customers": []any{row}})
		return status == http.StatusOK && results(t, body)[0]["status"] != float64(http.StatusServiceUnavailable)
	}, 20*time.Second, 100*time.Millisecond, "the ended journey closes first")
	assert.EqualValues(t, 1, body["started"], body)
	st := e.state("imp-churn")
	assert.Equal(t, "handoff", st["phase"], "day 0: the returning customer is welcomed again")
	assert.Nil(t, st["imported"])
}
