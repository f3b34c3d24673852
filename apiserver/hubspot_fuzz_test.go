package apiserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/hubspot"
)

const fzHubSpotSecret = "fuzz-hubspot-client-secret"

// newFuzzHubSpotAPI is the fuzzed API with the HubSpot webhook on; like the
// other targets' API, Temporal cannot be reached, and neither can HubSpot
// (a closed port), so a closed-won deal answers 503 and nothing else does.
func newFuzzHubSpotAPI(f *testing.F) *fzAPI {
	f.Helper()
	c, st := fuzzDeps(f)
	api := apiserver.New(apiserver.Options{
		Client: c, Namespace: "default", Logger: zap.NewNop(), MaxBody: fzMaxBody, Now: func() time.Time { return fzNow },
		Store: st,
		HubSpot: &apiserver.HubSpot{
			ClientSecret: fzHubSpotSecret, PublicURL: "https://lifecycle.example",
			CRM:     &hubspot.Client{BaseURL: "http://127.0.0.1:1", Token: "pat-fuzz"},
			Mapping: hubspot.Mapping{ClosedWonStages: []string{"closedwon"}, ManagerEmail: "manager@vendor.example"},
		},
	})
	return &fzAPI{h: api.Handler()}
}

// FuzzHubSpotWebhook: a body and a timestamp, signed or not. Unsigned or
// outside the window: 401. Signed: 413 over the limit, 400 unless an
// array of at most 100 events, 503 when one is a deal moved to closed-won
// (HubSpot unreachable: it must send it again), else 200 with an outcome
// per event, every one "ignored".
func FuzzHubSpotWebhook(f *testing.F) {
	a := newFuzzHubSpotAPI(f)
	ev := func(typ, prop, value string, id int64) string {
		return fmt.Sprintf(`{"eventId":1,"subscriptionType":%q,"objectId":%d,"propertyName":%q,"propertyValue":%q,"attemptNumber":0,"portalId":62515,"occurredAt":1764763200000}`, typ, id, prop, value)
	}
	for _, body := range []string{
		"[" + ev("deal.propertyChange", "dealstage", "closedwon", 9101) + "]",
		"[" + ev("deal.propertyChange", "dealstage", "qualifiedtobuy", 9101) + "," + ev("contact.creation", "", "", 5) + "]",
		"[" + ev("object.propertyChange", "dealstage", "closedwon", 9101) + "]",
		"[" + ev("deal.propertyChange", "amount", "closedwon", 9101) + "]",
		"[" + ev("deal.propertyChange", "dealstage", "closedwon", -3) + "]",
		`[]`, `{}`, `[1]`, `[{"eventId":"x"}]`, `null`, `[{}]`, ``, `[{"objectId": 1e30}]`,
	} {
		f.Add([]byte(body), true, int64(0))
		f.Add([]byte(body), false, int64(0))
		f.Add([]byte(body), true, int64(-6*time.Minute/time.Millisecond))
	}
	f.Fuzz(func(t *testing.T, body []byte, sign bool, skewMS int64) {
		const path = "/v1/webhooks/hubspot"
		ts := strconv.FormatInt(fzNow.UnixMilli()+skewMS, 10)
		sig := "not-a-signature"
		if sign {
			sig = hubspotSign(fzHubSpotSecret, "POST", "https://lifecycle.example"+path, body, ts)
		}
		status, answer := a.post(t, path, "", body, map[string]string{
			apiserver.HubSpotTimestampHeader: ts, apiserver.HubSpotSignatureHeader: sig})
		inWindow := skewMS <= int64(apiserver.HubSpotReplayWindow/time.Millisecond) && skewMS >= -int64(apiserver.HubSpotReplayWindow/time.Millisecond)
		var events []apiserver.HubSpotEvent
		parsed := json.Unmarshal(body, &events) == nil
		closedWon := false
		for _, e := range events {
			isDeal := e.SubscriptionType == "deal.propertyChange" || (e.SubscriptionType == "object.propertyChange" && e.ObjectTypeID == "0-3")
			closedWon = closedWon || (isDeal && e.ObjectID > 0 && e.PropertyName == "dealstage" && e.PropertyValue == "closedwon")
		}
		var want int
		switch {
		case len(body) > fzMaxBody:
			want = http.StatusRequestEntityTooLarge
		case !sign || !inWindow:
			want = http.StatusUnauthorized
		case !parsed || len(events) > apiserver.HubSpotMaxEvents:
			want = http.StatusBadRequest
		case closedWon:
			want = http.StatusServiceUnavailable
		default:
			want = http.StatusOK
		}
		if status != want {
			t.Fatalf("answered %d %s; want %d (signed %v, skew %dms, body %q)", status, answer, want, sign, skewMS, fzShort(body))
		}
		if status == http.StatusOK {
			var resp apiserver.HubSpotResponse
			if err := json.Unmarshal(answer, &resp); err != nil || len(resp.Results) != len(events) {
				t.Fatalf("200 without one result per event: %s", answer)
			}
			for _, r := range resp.Results {
				if r.Outcome != "ignored" {
					t.Fatalf("an event that starts nothing answered %q: %s", r.Outcome, answer)
				}
			}
		}
	})
}
