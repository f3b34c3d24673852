package bookimport

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

func TestParseReadsEveryColumn(t *testing.T) {
	file := "\ufeffAccount_ID, account_name,plan,renewal_date,start_date,day,phase,deal_id,champion_name,champion_email,champion_time_zone,contacts,csm_name,csm_email,manager_email,sponsor_email,playbook\n" +
		`acme,Acme Corp,pro,2027-03-01,2026-05-17,,Adoption,d-1,Ada,ada@acme.example,Europe/London,"admin:Bob Admin <bob@acme.example>; user:Cy <cy@acme.example> America/Chicago",,,,vp@vendor.example,default@v2` + "\n" +
		"\n" + // a blank line is skipped
		"beta,,,2027-03-01,,12,,,Bea,bea@beta.example,,,Jo,jo@vendor.example,boss@vendor.example,,\n"
	rows, bad, err := Parse(strings.NewReader(file), Defaults{CSMName: "Grace", CSMEmail: "grace@vendor.example", ManagerEmail: "lead@vendor.example"})
	require.NoError(t, err)
	assert.Empty(t, bad)
	require.Len(t, rows, 2)
	a := rows[0].Customer
	assert.Equal(t, 2, rows[0].Line)
	assert.Equal(t, "Acme Corp", a.Account.Name)
	assert.Equal(t, "2026-05-17", a.StartDate.Format("2006-01-02"))
	assert.Equal(t, "adoption", a.Phase)
	assert.Equal(t, "d-1", a.DealID)
	assert.Equal(t, []workflows.Contact{{Role: "admin", Name: "Bob Admin", Email: "bob@acme.example"}, {Role: "user", Name: "Cy", Email: "cy@acme.example", TimeZone: "America/Chicago"}}, a.Contacts)
	assert.Equal(t, workflows.Person{Name: "Grace", Email: "grace@vendor.example"}, a.CSM, "the defaults fill empty cells")
	assert.Equal(t, "lead@vendor.example", a.ManagerEmail)
	assert.Equal(t, "default@v2", a.Playbook)
	b := rows[1].Customer
	assert.Equal(t, 4, rows[1].Line)
	assert.Equal(t, "beta", b.Account.Name, "the id names an account without a name")
	assert.Equal(t, 12, *b.Day)
	assert.Equal(t, "import:beta", b.DealID, "the same file twice is the same deals")
	assert.Equal(t, "Jo", b.CSM.Name)
	assert.Equal(t, "boss@vendor.example", b.ManagerEmail)
}

func TestParseNamesTheLineAndColumn(t *testing.T) {
	file := "account_id,renewal_date,start_date,day,contacts\n" +
		",2027-03-01,,,\n" +
		"a,soon,,,\n" +
		"b,2027-03-01,yesterday,,\n" +
		"c,2027-03-01,,3.5,\n" +
		"d,2027-03-01,,,bob@acme.example\n" +
		"e,2027-03-01,,\n" +
		"f,,,,\n" +
		"g,2027-03-01,,,\"admin:Bob <bob@\"\n" +
		"ok,2027-03-01,,,\n"
	rows, bad, err := Parse(strings.NewReader(file), Defaults{})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, "ok", rows[0].Customer.Account.ID)
	var got []string
	for _, e := range bad {
		got = append(got, e.Error())
	}
	assert.Equal(t, []string{
		"line 2: account_id: is empty",
		`line 3: renewal_date: "soon" is not a date like 2027-01-31`,
		`line 4: start_date: "yesterday" is not a date like 2027-01-31`,
		`line 5: day: "3.5" is not a whole number of days`,
		`line 6: contacts: contact 1 "bob@acme.example": write role:Name <email>`,
		"line 7: 4 cells for 5 columns",
		got[6], // the renewal date's example is next year's
		got[7],
	}, got)
	assert.Contains(t, got[6], "line 8: renewal_date: is empty")
	assert.Contains(t, got[7], `line 9: contacts: contact 1 "admin:Bob <bob@"`)
}
