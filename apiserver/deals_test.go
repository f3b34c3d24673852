package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/links"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

func (e *env) dealPost(deal map[string]any) (int, map[string]any) {
	e.t.Helper()
	payload, err := json.Marshal(map[string]any{"event": "deal.closed_won", "deal": deal})
	require.NoError(e.t, err)
	now := time.Now().Unix()
	req, _ := http.NewRequest("POST", e.url+"/v1/webhooks/deals", bytes.NewReader(payload))
	req.Header.Set(apiserver.DealTimestampHeader, fmt.Sprint(now))
	req.Header.Set(apiserver.DealSignatureHeader, apiserver.SignDeal(dealToken, now, payload))
	return doJSON(e.t, req)
}

// journey describes the account's current journey: its first run and status.
func (e *env) journey(id string) (string, enumspb.WorkflowExecutionStatus) {
	e.t.Helper()
	resp, err := e.client.DescribeWorkflowExecution(context.Background(), workflows.WorkflowID(id), "")
	require.NoError(e.t, err)
	info := resp.GetWorkflowExecutionInfo()
	return info.GetFirstRunId(), info.GetStatus()
}

// welcomeBookLinks returns the "book your handoff call" link path of each
// welcome email the account got, by email key.
func (e *env) welcomeBookLinks(id string) map[string]string {
	e.t.Helper()
	msgs, err := e.store.OutboxList(context.Background(), id, 100)
	require.NoError(e.t, err)
	out := map[string]string{}
	for _, m := range msgs {
		if m.Step != "handoff:welcome" {
			continue
		}
		var acts []struct{ ID, URL string }
		require.NoError(e.t, json.Unmarshal([]byte(m.ActionsJSON), &acts))
		for _, a := range acts {
			if a.ID == "book_handoff" {
				out[m.Key] = strings.TrimPrefix(a.URL, "http://lifecycle.test")
			}
		}
	}
	return out
}

// A deal starts one journey, ever. While it runs, the deal again answers
// 200 (through the API or the CRM's webhook); once it ended the deal is
// refused 409, while a new deal for the same account starts its next
// journey, whose emails and links are its own.
func TestReplayedDealNeverStartsAJourney(t *testing.T) {
	e := newEnv(t)
	const id = "acme-chapter"
	first := startBody(id)
	status, body := e.do("POST", "/v1/customers", salesKey, first)
	require.Equal(t, http.StatusCreated, status, body)
	status, again := e.do("POST", "/v1/customers", salesKey, first)
	assert.Equal(t, http.StatusOK, status, "the journey runs: today's duplicate")
	assert.Equal(t, body, again)
	status, _ = e.dealPost(first)
	assert.Equal(t, http.StatusOK, status, "the CRM's replay joins the running journey")
	firstRun, _ := e.journey(id)

	// The first journey's welcome: the customer books the call.
	var firstLinks map[string]string
	require.Eventually(t, func() bool { firstLinks = e.welcomeBookLinks(id); return len(firstLinks) == 1 }, 10*time.Second, 50*time.Millisecond)
	for _, path := range firstLinks {
		status, html := e.page("POST", path)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, html, "<h1>Recorded</h1>")
	}

	status, body = e.do("POST", "/v1/customers/"+id+"/outcomes", csmKey, map[string]any{"kind": "churned", "note": "budget"})
	require.Equal(t, http.StatusOK, status, body)
	require.Eventually(t, func() bool {
		_, st := e.journey(id)
		return st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	}, 10*time.Second, 50*time.Millisecond, "the churned journey closes")

	for name, post := range map[string]func(map[string]any) (int, map[string]any){
		"POST /v1/customers": func(d map[string]any) (int, map[string]any) { return e.do("POST", "/v1/customers", salesKey, d) },
		"deal webhook":       e.dealPost,
	} {
		status, body := post(first)
		assert.Equal(t, http.StatusConflict, status, "%s: %v", name, body)
		assert.Equal(t, "deal_already_used", errCode(body), name)
		assert.Equal(t, "deal_id", errField(body), name)
		assert.Contains(t, body["error"].(map[string]any)["message"], `"deal-acme-chapter"`, name)
	}
	_, st := e.journey(id)
	assert.NotEqual(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, st, "the replays started nothing")

	other := startBody("acme-chapter-other")
	other["deal_id"] = first["deal_id"]
	status, body = e.do("POST", "/v1/customers", salesKey, other)
	assert.Equal(t, http.StatusConflict, status, "another account cannot use the deal either")
	assert.Equal(t, "deal_already_used", errCode(body))

	// A new deal: the returning customer's second journey.
	second := startBody(id)
	second["deal_id"] = "deal-acme-chapter-2"
	status, body = e.dealPost(second)
	require.Equal(t, http.StatusCreated, status, body)
	secondRun, st := e.journey(id)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, st)
	assert.NotEqual(t, firstRun, secondRun, "a new journey")

	status, body = e.do("POST", "/v1/customers", salesKey, first)
	assert.Equal(t, http.StatusConflict, status, "the old deal, while the new journey runs: %v", body)
	assert.Equal(t, "deal_already_used", errCode(body))
	status, _ = e.do("POST", "/v1/customers", salesKey, second)
	assert.Equal(t, http.StatusOK, status, "the new deal: its journey runs")
	now, _ := e.journey(id)
	assert.Equal(t, secondRun, now, "no replay started a journey")

	// The second journey's welcome has its own key and its own booking link,
	// not "already recorded" by the first journey's click.
	var bookLinks map[string]string
	require.Eventually(t, func() bool { bookLinks = e.welcomeBookLinks(id); return len(bookLinks) == 2 }, 10*time.Second, 50*time.Millisecond)
	for key, path := range bookLinks {
		if _, old := firstLinks[key]; old {
			continue
		}
		status, html := e.page("GET", path)
		require.Equal(t, http.StatusOK, status)
		assert.Contains(t, html, "Book your handoff call?", "the new journey's link asks")
		status, html = e.page("POST", path)
		assert.Equal(t, http.StatusOK, status)
		assert.Contains(t, html, "<h1>Recorded</h1>")
	}
	assert.NotNil(t, e.state(id)["handoff"].(map[string]any)["booked_at"], "the second journey's handoff is booked")

	// A link of the first journey does not act on the second.
	var firstJourney string
	for _, path := range firstLinks {
		c, err := e.links.Parse(strings.TrimPrefix(path, "/a/"))
		require.NoError(t, err)
		firstJourney = c.Journey
	}
	require.NotEmpty(t, firstJourney)
	require.NotEqual(t, firstJourney, e.state(id)["journey"])
	for _, action := range []string{"need_help", "book_review"} {
		status, html := e.page("POST", "/a/"+e.links.Token(links.Link{CustomerID: id, Journey: firstJourney, Step: "touchpoint:review-30", Action: action}))
		assert.Equal(t, http.StatusConflict, status, action)
		assert.Contains(t, html, "Nothing was recorded", action)
	}
	after := e.state(id)
	assert.Empty(t, after["open_complaints"], "no complaint from the old journey's link")
	assert.EqualValues(t, 1, after["events_counted"], "only the new journey's booking counted")
}
