package apiserver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/apiserver"
)

// Fault drill: a CRM replaying its webhook 100 times at once starts one
// journey.
func TestDrillHundredConcurrentDealWebhooks(t *testing.T) {
	e := newEnv(t)
	payload, err := json.Marshal(map[string]any{"event": "deal.closed_won", "deal": startBody("drill-deal")})
	require.NoError(t, err)
	var created, joined, other atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			now := time.Now().Unix()
			req, _ := http.NewRequest("POST", e.url+"/v1/webhooks/deals", bytes.NewReader(payload))
			req.Header.Set(apiserver.DealTimestampHeader, fmt.Sprint(now))
			req.Header.Set(apiserver.DealSignatureHeader, apiserver.SignDeal(dealToken, now, payload))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				other.Add(1)
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusCreated:
				created.Add(1)
			case http.StatusOK:
				joined.Add(1)
			default:
				other.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 1, created.Load(), "one journey started")
	assert.EqualValues(t, 99, joined.Load(), "the others joined it")
	assert.EqualValues(t, 0, other.Load())
}

// Fault drill: 1,000 concurrent deliveries of 10 events (100 copies each)
// count each event once. Like a real integration, a client retries the same
// event on 503 (the journey did not answer in time on a loaded machine); a
// retry of an event that did land meanwhile is answered as a duplicate.
func TestDrillThousandConcurrentDuplicateEvents(t *testing.T) {
	e := newEnv(t)
	status, _ := e.do("POST", "/v1/customers", salesKey, startBody("drill-events"))
	require.Equal(t, http.StatusCreated, status)
	var counted, duplicate, retried, other atomic.Int32
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			body, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("login-%d", i%10), "type": "login"})
			for attempt := 1; ; attempt++ {
				req, _ := http.NewRequest("POST", e.url+"/v1/customers/drill-events/events", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+integKey)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					other.Add(1)
					return
				}
				var out map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusAccepted:
					counted.Add(1)
				case resp.StatusCode == http.StatusOK && out["duplicate"] == true:
					duplicate.Add(1)
				case resp.StatusCode == http.StatusServiceUnavailable && attempt < 10:
					retried.Add(1)
					continue
				default:
					t.Logf("unexpected %d %v", resp.StatusCode, out)
					other.Add(1)
				}
				return
			}
		}()
	}
	wg.Wait()
	t.Logf("%d counted, %d duplicates, %d retries after 503", counted.Load(), duplicate.Load(), retried.Load())
	assert.EqualValues(t, 0, other.Load(), "every delivery ends counted or duplicate")
	assert.EqualValues(t, 1000, counted.Load()+duplicate.Load())
	assert.LessOrEqual(t, counted.Load(), int32(10), "no event counted twice")
	state := e.state("drill-events")
	assert.EqualValues(t, 10, state["events_counted"], "each of the 10 events counted once")
	scores := state["scores"].(map[string]any)
	assert.EqualValues(t, 40, scores["engagement"], "10 logins of 4 points, none twice")
}
