package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/hubspot"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// The HUBSPOT_ settings become the webhook's options whole: the signed
// URL's scheme and host are the public URL's.
func TestHubSpotOptions(t *testing.T) {
	o := hubspotOptions(config.HubSpot{
		ClientSecret: "secret", AccessToken: "pat-na1-x", APIURL: "http://127.0.0.1:9999",
		ClosedWonStages: []string{"closedwon", "987654"}, PlanProperty: "company.plan_tier", RenewalProperty: "contract_end",
		TermMonths: 24, ContactRoleProperty: "lifecycle_role", DefaultCSMName: "Grace Hopper", DefaultCSMEmail: "grace@vendor.example",
		ManagerEmail: "manager@vendor.example",
	}, "https://lifecycle.example.com")
	assert.Equal(t, "secret", o.ClientSecret)
	assert.Equal(t, "https://lifecycle.example.com", o.PublicURL)
	assert.Equal(t, "http://127.0.0.1:9999", o.CRM.BaseURL)
	assert.Equal(t, "pat-na1-x", o.CRM.Token)
	assert.Equal(t, hubspot.Mapping{
		ClosedWonStages: []string{"closedwon", "987654"},
		Plan:            hubspot.PropertyRef{Object: "company", Name: "plan_tier"},
		Renewal:         hubspot.PropertyRef{Object: "deal", Name: "contract_end"},
		TermMonths:      24, RoleProperty: "lifecycle_role", ManagerEmail: "manager@vendor.example",
		DefaultCSM: workflows.Person{Name: "Grace Hopper", Email: "grace@vendor.example"},
	}, o.Mapping)
}
