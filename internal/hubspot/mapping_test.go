package hubspot_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/hubspot"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

func rec(id string, kv ...string) hubspot.Record {
	r := hubspot.Record{ID: id, Properties: map[string]*string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		r.Properties[kv[i]] = &v
	}
	return r
}

func contact(id, email string, kv ...string) hubspot.Record {
	return rec(id, append([]string{"email", email, "firstname", "C" + id}, kv...)...)
}

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func mapping() hubspot.Mapping {
	return hubspot.Mapping{
		ClosedWonStages: []string{"closedwon"}, ManagerEmail: "manager@vendor.example",
		DefaultCSM: workflows.Person{Name: "Default CSM", Email: "cs@vendor.example"},
	}
}

// Every field of a start made from HubSpot's records is within the limits
// of POST /v1/customers: names are clipped, keys that would change meaning
// when clipped are refused, and what is missing is named.
func TestJourneyFromRecords(t *testing.T) {
	deal := hubspot.Deal{Record: rec("101", "dealname", "Acme", "closedate", "2026-12-01T10:00:00Z", "plan_tier", "enterprise"), ContactIDs: []string{"1"}}
	company := rec("301", "name", "Acme Corp", "renews", "2028-01-31")
	owner := &hubspot.Owner{ID: "77", Email: "grace@vendor.example", FirstName: "Grace", LastName: "Hopper"}
	ada := contact("1", "ada@acme.example", "lastname", "Lovelace", "hs_timezone", "europe_slash_london")

	t.Run("defaults", func(t *testing.T) {
		s, err := mapping().Journey(now, deal, company, []hubspot.Record{ada}, owner)
		require.NoError(t, err)
		assert.Equal(t, "hubspot-301", s.AccountID)
		assert.Equal(t, "hubspot-101", s.DealID)
		assert.Equal(t, "Acme Corp", s.AccountName)
		assert.Equal(t, "", s.Plan)
		assert.Equal(t, time.Date(2027, 12, 1, 0, 0, 0, 0, time.UTC), s.RenewalDate, "12 months after the close date")
		assert.Equal(t, workflows.Person{Name: "Grace Hopper", Email: "grace@vendor.example"}, s.CSM)
		assert.Equal(t, []workflows.Contact{{Role: "champion", Name: "C1 Lovelace", Email: "ada@acme.example", TimeZone: "Europe/London"}}, s.Contacts)
	})
	t.Run("configured properties", func(t *testing.T) {
		m := mapping()
		m.Plan = hubspot.PropertyRef{Object: "deal", Name: "plan_tier"}
		m.Renewal = hubspot.PropertyRef{Object: "company", Name: "renews"}
		s, err := m.Journey(now, deal, company, []hubspot.Record{ada}, owner)
		require.NoError(t, err)
		assert.Equal(t, "enterprise", s.Plan)
		assert.Equal(t, time.Date(2028, 1, 31, 0, 0, 0, 0, time.UTC), s.RenewalDate)
		m.TermMonths = 24
		m.Renewal = hubspot.PropertyRef{}
		s, err = m.Journey(now, hubspot.Deal{Record: rec("101", "closedate", "1764590400000")}, company, []hubspot.Record{ada}, owner)
		require.NoError(t, err)
		assert.Equal(t, time.Date(2027, 12, 1, 0, 0, 0, 0, time.UTC), s.RenewalDate, "milliseconds since the epoch, plus 24 months")
	})

	long := strings.Repeat("é", workflows.MaxNameLen)
	cases := []struct {
		name    string
		m       func(*hubspot.Mapping)
		company hubspot.Record
		deal    hubspot.Deal
		cts     []hubspot.Record
		owner   *hubspot.Owner
		check   func(t *testing.T, s hubspot.Start)
		err     string
	}{
		{name: "a name at the limit stays whole", company: rec("301", "name", long),
			check: func(t *testing.T, s hubspot.Start) { assert.Equal(t, long, s.AccountName) }},
		{name: "a name past the limit is clipped", company: rec("301", "name", long+"x\n"),
			check: func(t *testing.T, s hubspot.Start) {
				assert.Equal(t, workflows.MaxNameLen, utf8.RuneCountInString(s.AccountName))
				assert.True(t, strings.HasSuffix(s.AccountName, "…"))
			}},
		{name: "no name: the domain", company: rec("301", "domain", "acme.example"),
			check: func(t *testing.T, s hubspot.Start) { assert.Equal(t, "acme.example", s.AccountName) }},
		{name: "neither", company: rec("301"), err: "company 301 of deal 101 has neither a name nor a domain"},
		{name: "a plan past the limit is refused", m: func(m *hubspot.Mapping) { m.Plan = hubspot.PropertyRef{Object: "deal", Name: "plan_tier"} },
			deal: hubspot.Deal{Record: rec("101", "plan_tier", strings.Repeat("p", workflows.MaxShortLen+1))},
			err:  "deal.plan_tier of deal 101 is 201 characters; a plan is at most 200"},
		{name: "an empty renewal property is named", m: func(m *hubspot.Mapping) { m.Renewal = hubspot.PropertyRef{Object: "company", Name: "renews"} },
			company: rec("301", "name", "Acme Corp", "renews", " "),
			err:     "company.renews of deal 101 is empty: set it in HubSpot (or unset HUBSPOT_RENEWAL_PROPERTY to renew 12 months after the close date)"},
		{name: "a renewal that is no date", m: func(m *hubspot.Mapping) { m.Renewal = hubspot.PropertyRef{Object: "company", Name: "name"} },
			company: rec("301", "name", "Acme"), err: `company.name of deal 101 is "Acme", not a date`},
		{name: "no owner: the default CSM", owner: &hubspot.Owner{ID: "77"},
			check: func(t *testing.T, s hubspot.Start) { assert.Equal(t, "cs@vendor.example", s.CSM.Email) }},
		{name: "no owner and no default", m: func(m *hubspot.Mapping) { m.DefaultCSM = workflows.Person{} }, owner: &hubspot.Owner{},
			err: "deal 101 has no owner with an email address, and HUBSPOT_DEFAULT_CSM is unset"},
		{name: "no contact with an email", cts: []hubspot.Record{rec("1", "firstname", "Nobody")},
			err: "deal 101 has no associated contact with an email address: associate the customer's champion with the deal"},
		{name: "contacts the journey cannot use are left out, the rest kept",
			cts: []hubspot.Record{
				contact("1", strings.Repeat("a", 250)+"@acme.example"), contact("2", "not-an-address"),
				contact("3", "ada@acme.example"), contact("4", "ADA@acme.example"), rec("5", "email", "grace@acme.example"),
			},
			check: func(t *testing.T, s hubspot.Start) {
				require.Len(t, s.Contacts, 2)
				assert.Equal(t, workflows.Contact{Role: "champion", Name: "C3", Email: "ada@acme.example"}, s.Contacts[0])
				assert.Equal(t, workflows.Contact{Role: "user", Name: "grace@acme.example", Email: "grace@acme.example"}, s.Contacts[1], "no name: the address")
				assert.Len(t, s.Left, 3)
			}},
		{name: "the role property picks the champion", m: func(m *hubspot.Mapping) { m.RoleProperty = "lifecycle_role" },
			cts: []hubspot.Record{
				contact("1", "a@acme.example", "lifecycle_role", "Billing"), contact("2", "b@acme.example", "lifecycle_role", "champion"),
				contact("3", "c@acme.example", "lifecycle_role", "champion"), contact("4", "d@acme.example", "lifecycle_role", "astronaut"),
			},
			check: func(t *testing.T, s hubspot.Start) {
				var got []string
				for _, c := range s.Contacts {
					got = append(got, c.Email+"="+c.Role)
				}
				assert.Equal(t, []string{"b@acme.example=champion", "a@acme.example=billing", "c@acme.example=user", "d@acme.example=user"}, got)
			}},
		{name: "at most MaxContacts", cts: func() []hubspot.Record {
			var out []hubspot.Record
			for i := range 30 {
				out = append(out, contact(fmt.Sprint(i), fmt.Sprintf("c%d@acme.example", i)))
			}
			return out
		}(), check: func(t *testing.T, s hubspot.Start) {
			assert.Len(t, s.Contacts, workflows.MaxContacts)
			assert.Len(t, s.Left, 30-workflows.MaxContacts)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := mapping()
			if tc.m != nil {
				tc.m(&m)
			}
			d, co, cts, o := deal, company, []hubspot.Record{ada}, owner
			if tc.deal.ID != "" {
				d = tc.deal
			}
			if tc.company.ID != "" {
				co = tc.company
			}
			if tc.cts != nil {
				cts = tc.cts
			}
			if tc.owner != nil {
				o = tc.owner
			}
			s, err := m.Journey(now, d, co, cts, o)
			if tc.err != "" {
				var re *hubspot.RecordError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, tc.err, err.Error())
				return
			}
			require.NoError(t, err)
			tc.check(t, s)
			// Whatever the records, the start passes the journey's own checks.
			in := workflows.JourneyInput{
				Account:  workflows.Account{ID: s.AccountID, Name: s.AccountName, Plan: s.Plan, RenewalDate: s.RenewalDate},
				Champion: workflows.Person{Name: s.Contacts[0].Name, Email: s.Contacts[0].Email, TimeZone: s.Contacts[0].TimeZone},
				Contacts: s.Contacts[1:], CSM: s.CSM, ManagerEmail: s.ManagerEmail, DealID: s.DealID,
			}
			assert.NotContains(t, fmt.Sprint(in.Validate()), "account.name")
			assert.NotContains(t, fmt.Sprint(in.Validate()), "contacts")
			assert.NotContains(t, fmt.Sprint(in.Validate()), "champion")
		})
	}
}

func TestTimeZone(t *testing.T) {
	for in, want := range map[string]string{
		"europe_slash_london":                        "Europe/London",
		"america_slash_new_york":                     "America/New_York",
		"america_slash_argentina_slash_buenos_aires": "America/Argentina/Buenos_Aires",
		"Asia/Tokyo":                                 "Asia/Tokyo",
		"mars_slash_olympus_mons":                    "",
		"":                                           "",
		"Local":                                      "",
		strings.Repeat("europe", 20):                 "",
	} {
		assert.Equal(t, want, hubspot.TimeZone(in), in)
	}
}

func TestParsePropertyRef(t *testing.T) {
	p, err := hubspot.ParsePropertyRef("company.plan")
	require.NoError(t, err)
	assert.Equal(t, hubspot.PropertyRef{Object: "company", Name: "plan"}, p)
	p, err = hubspot.ParsePropertyRef("plan")
	require.NoError(t, err)
	assert.Equal(t, hubspot.PropertyRef{Object: "deal", Name: "plan"}, p)
	_, err = hubspot.ParsePropertyRef("contact.plan")
	assert.ErrorContains(t, err, "want deal.NAME or company.NAME")
}
