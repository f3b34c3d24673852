// Package config reads every setting in one place: environment variables,
// each overridable by a flag of the same meaning. A bad value fails start-up
// with the setting's name.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Roles an API key can have.
const (
	RoleSales       = "sales"
	RoleCSM         = "csm"
	RoleIntegration = "integration"
	RoleAdmin       = "admin"
)

// Roles lists every role.
var Roles = []string{RoleSales, RoleCSM, RoleIntegration, RoleAdmin}

// Config is every setting of the lifecycle binary.
type Config struct {
	DataDir   string
	HTTPAddr  string
	APIKeys   map[string]string // key -> role
	DayLength time.Duration
	// InsightsCron is when the insights job's schedule runs (UTC).
	InsightsCron  string
	PublicURL     string
	LinkSecret    string
	DealSecret    string
	HubSpot       HubSpot
	DatabaseURL   string
	SendGrid      SendGrid
	Temporal      Temporal
	LogLevel      string
	LogFormat     string
	GeneratedKeys bool // dev made the API keys up because none were set
	Worker        Worker
	Client        Client
	Slack         Slack
}

// Slack is where our side's task notices are posted besides the email:
// incoming-webhook URLs, each a secret.
type Slack struct {
	Team   string            // the team's; "" none
	People map[string]string // lower-cased email -> the person's own
	Roles  map[string]string // one of SlackRoles -> the role's
}

// SlackRoles are the roles LIFECYCLE_SLACK_WEBHOOKS may name: the team
// roles of a task's owner (activities.RoleCSM, RoleManager, RoleSponsor;
// activities imports this package, so the names are repeated here and a
// test keeps them equal).
var SlackRoles = []string{"csm", "manager", "sponsor"}

// HubSpot is the HubSpot webhook and the CRM reads behind it; off when
// ClientSecret is empty.
type HubSpot struct {
	ClientSecret    string
	AccessToken     string
	APIURL          string
	ClosedWonStages []string
	// PlanProperty and RenewalProperty are "deal.NAME", "company.NAME" or "".
	PlanProperty, RenewalProperty string
	TermMonths                    int
	ContactRoleProperty           string
	DefaultCSMName                string
	DefaultCSMEmail               string
	ManagerEmail                  string
}

// Client is how a command that talks to a running API (simulate
// --customer) reaches it.
type Client struct {
	APIURL string
	APIKey string
}

// Worker is what only the worker command reads.
type Worker struct {
	HTTPAddr       string // "" when off
	Versioning     bool
	DeploymentName string
	BuildID        string // "" when neither set nor stamped: the command fills it in
}

// SendGrid is the mail provider; without an API key emails go to the outbox.
type SendGrid struct {
	APIKey           string
	BaseURL          string
	From             string // "Name <address>" or an address
	WebhookPublicKey string
}

// Temporal is how to reach the Temporal frontend.
type Temporal struct {
	Address       string
	Namespace     string
	TLSCert       string
	TLSKey        string
	TLSCA         string
	TLSServerName string
	APIKey        string
}

// Commands that read settings.
const (
	CmdDev        = "dev"
	CmdWorker     = "worker"
	CmdAPI        = "api"
	CmdSetup      = "setup"
	CmdDeployment = "deployment"
	CmdSimulate   = "simulate"
	CmdImport     = "import"
)

// Setting documents one setting; README's table lists the same.
type Setting struct {
	Env, Flag, Default, Help string
	// Commands lists the commands that read the setting: only those take
	// its flag, list it in --help and check its value.
	Commands []string
}

// UsedBy reports whether cmd reads the setting.
func (s Setting) UsedBy(cmd string) bool { return slices.Contains(s.Commands, cmd) }

var (
	serving  = []string{CmdDev, CmdWorker, CmdAPI}
	api      = []string{CmdDev, CmdAPI}
	sends    = []string{CmdDev, CmdWorker}
	remote   = []string{CmdWorker, CmdAPI, CmdSetup, CmdDeployment}
	temporal = []string{CmdDev, CmdWorker, CmdAPI, CmdSetup, CmdDeployment}
	worker   = []string{CmdWorker}
)

// Settings is the table of every setting, in README order.
var Settings = []Setting{
	{"LIFECYCLE_DATA_DIR", "data-dir", "./.lifecycle", "where dev keeps the Temporal databases (temporal.db, visibility.db); the store's SQLite file when DATABASE_URL is unset", serving},
	{"LIFECYCLE_HTTP_ADDR", "http-addr", "127.0.0.1:8080", "address the API listens on", api},
	{"LIFECYCLE_API_KEYS", "api-keys", "", "role:key pairs, comma separated (roles: sales, csm, integration, admin), each key at least 24 characters; dev generates keys when unset", api},
	{"LIFECYCLE_DAY_LENGTH", "day-length", "24h", "length of a journey day for new customers (e.g. 5s for a demo)", api},
	{"LIFECYCLE_PUBLIC_URL", "public-url", "http://<http-addr>", "base URL customers reach the API at (links in emails)", serving},
	{"LIFECYCLE_LINK_SECRET", "link-secret", "", "secret that signs email action links (the same on every worker and API); dev generates one when unset", serving},
	{"LIFECYCLE_DEAL_WEBHOOK_SECRET", "deal-webhook-secret", "", "shared secret of the CRM's signed deal webhook; the webhook is off when unset", api},
	{"HUBSPOT_CLIENT_SECRET", "hubspot-client-secret", "", "client secret of the HubSpot app (a private app's) that signs its webhooks (X-HubSpot-Signature-v3); POST /v1/webhooks/hubspot is off when unset", api},
	{"HUBSPOT_ACCESS_TOKEN", "hubspot-access-token", "", "the private app's access token that reads deals, companies, contacts and owners; required with HUBSPOT_CLIENT_SECRET", api},
	{"HUBSPOT_API_URL", "hubspot-api-url", "https://api.hubapi.com", "HubSpot API base URL", api},
	{"HUBSPOT_CLOSED_WON_STAGES", "hubspot-closed-won-stages", "closedwon", "deal stage ids, comma separated, that start a journey (the default pipeline's closed-won stage is closedwon)", api},
	{"HUBSPOT_PLAN_PROPERTY", "hubspot-plan-property", "", "the property holding the plan: deal.NAME or company.NAME (internal names); no plan when unset", api},
	{"HUBSPOT_RENEWAL_PROPERTY", "hubspot-renewal-property", "", "the property holding the renewal date: deal.NAME or company.NAME; unset: HUBSPOT_TERM_MONTHS after the deal's close date", api},
	{"HUBSPOT_TERM_MONTHS", "hubspot-term-months", "12", "contract term in months (1-120) when HUBSPOT_RENEWAL_PROPERTY is unset", api},
	{"HUBSPOT_CONTACT_ROLE_PROPERTY", "hubspot-contact-role-property", "", "contact property holding the contact's role (champion, admin, user, executive_sponsor, billing); unset: the deal's first contact is the champion, the others users", api},
	{"HUBSPOT_DEFAULT_CSM", "hubspot-default-csm", "", "CSM, \"Name <email>\", of a deal whose owner has no HubSpot user", api},
	{"HUBSPOT_MANAGER_EMAIL", "hubspot-manager-email", "", "CS manager of the journeys HubSpot starts; required with HUBSPOT_CLIENT_SECRET", api},
	{"DATABASE_URL", "database-url", "", "PostgreSQL URL of the store (sent-email ledger, suppressions, used links, dashboard sessions, outbox); SQLite in the data directory when unset", serving},
	{"SENDGRID_API_KEY", "sendgrid-api-key", "", "send email through SendGrid; the local outbox when unset", sends},
	{"SENDGRID_BASE_URL", "sendgrid-base-url", "https://api.sendgrid.com", "SendGrid API base URL", sends},
	{"SENDGRID_FROM", "sendgrid-from", "", "sender, e.g. \"Customer Success <cs@example.com>\" (required with SENDGRID_API_KEY)", sends},
	{"SENDGRID_WEBHOOK_PUBLIC_KEY", "sendgrid-webhook-public-key", "", "verification key of SendGrid's signed event webhook; the webhook is off when unset", api},
	{"TEMPORAL_ADDRESS", "temporal-address", "127.0.0.1:7233", "Temporal frontend host:port (dev: where the embedded server listens)", temporal},
	{"TEMPORAL_NAMESPACE", "temporal-namespace", "default", "Temporal namespace", temporal},
	{"TEMPORAL_TLS_CERT", "temporal-tls-cert", "", "client certificate file for mTLS", remote},
	{"TEMPORAL_TLS_KEY", "temporal-tls-key", "", "client key file for mTLS", remote},
	{"TEMPORAL_TLS_CA", "temporal-tls-ca", "", "CA certificate file (PEM) that signed the frontend's certificate, when not a public CA; implies TLS", remote},
	{"TEMPORAL_TLS_SERVER_NAME", "temporal-tls-server-name", "", "server name to verify the frontend's certificate against, when it differs from TEMPORAL_ADDRESS's host; implies TLS", remote},
	{"TEMPORAL_API_KEY", "temporal-api-key", "", "API key (Temporal Cloud); implies TLS", remote},
	{"LIFECYCLE_SLACK_WEBHOOK_URL", "slack-webhook-url", "", "Slack incoming-webhook URL for the team's task notices (task created, overdue, escalation, complaint) besides email; off when unset", sends},
	{"LIFECYCLE_SLACK_WEBHOOKS", "slack-webhooks", "", "per-person or per-role Slack webhooks, comma separated: grace@example.com=https://hooks.slack.com/...,manager=https://...; a person's own wins over the role's, the role's over the team's", sends},
	{"LIFECYCLE_WORKER_HTTP_ADDR", "worker-http-addr", "127.0.0.1:9090", "address of the worker's /metrics, /healthz and /readyz; off when set to \"off\"", worker},
	{"LIFECYCLE_WORKER_VERSIONING", "worker-versioning", "on", "on: the worker joins a Worker Deployment and journeys are pinned to the build that runs them until their next continue-as-new; off: unversioned (one build at a time)", worker},
	{"LIFECYCLE_DEPLOYMENT_NAME", "deployment-name", "lifecycle", "Worker Deployment name the workers join", []string{CmdWorker, CmdDeployment}},
	{"LIFECYCLE_BUILD_ID", "build-id", "<version>", "this build's id in the Worker Deployment; defaults to the version stamped at build time, else the VCS revision", worker},
	{"LIFECYCLE_INSIGHTS_CRON", "insights-cron", "0 3 * * *", "when the insights job (what green accounts do) runs: a cron expression in UTC, kept in the Temporal Schedule lifecycle-insights", []string{CmdDev, CmdSetup}},
	{"LIFECYCLE_API_URL", "api-url", "http://127.0.0.1:8080", "the API that simulate --customer reads the customer from and import starts journeys with", []string{CmdSimulate, CmdImport}},
	{"LIFECYCLE_API_KEY", "api-key", "", "an API key: csm or admin for simulate --customer, sales or admin for import", []string{CmdSimulate, CmdImport}},
	{"LOG_LEVEL", "log-level", "info", "debug, info, warn or error", temporal},
	{"LOG_FORMAT", "log-format", "console", "json or console", temporal},
}

// Register adds a flag per setting cmd reads to fs; unset flags fall back to
// the environment, then to the default.
func Register(fs *flag.FlagSet, cmd string) map[string]*string {
	vals := map[string]*string{}
	for _, s := range Settings {
		if s.UsedBy(cmd) {
			vals[s.Env] = fs.String(s.Flag, "", fmt.Sprintf("%s (env %s, default %q)", s.Help, s.Env, s.Default))
		}
	}
	return vals
}

// Load resolves the settings cmd reads: flag, else environment, else
// default. Only those are checked, so a worker does not fail on an API's
// setting. The dev command may generate secrets.
func Load(flags map[string]*string, cmd string) (*Config, error) {
	dev := cmd == CmdDev
	get := func(env string) string {
		if p := flags[env]; p != nil && *p != "" {
			return *p
		}
		if v, ok := os.LookupEnv(env); ok && v != "" {
			return v
		}
		for _, s := range Settings {
			if s.Env == env && !strings.Contains(s.Default, "<") { // "<...>" defaults are derived
				return s.Default
			}
		}
		return ""
	}
	var errs []error
	bad := func(env, format string, args ...any) {
		for _, s := range Settings {
			if s.Env == env && !s.UsedBy(cmd) {
				return
			}
		}
		errs = append(errs, fmt.Errorf("%s: %s", env, fmt.Sprintf(format, args...)))
	}
	c := &Config{
		DataDir:     get("LIFECYCLE_DATA_DIR"),
		HTTPAddr:    get("LIFECYCLE_HTTP_ADDR"),
		PublicURL:   get("LIFECYCLE_PUBLIC_URL"),
		LinkSecret:  get("LIFECYCLE_LINK_SECRET"),
		DealSecret:  get("LIFECYCLE_DEAL_WEBHOOK_SECRET"),
		DatabaseURL: get("DATABASE_URL"),
		SendGrid: SendGrid{
			APIKey: get("SENDGRID_API_KEY"), BaseURL: get("SENDGRID_BASE_URL"), From: get("SENDGRID_FROM"),
			WebhookPublicKey: get("SENDGRID_WEBHOOK_PUBLIC_KEY"),
		},
		Temporal: Temporal{
			Address:       get("TEMPORAL_ADDRESS"),
			Namespace:     get("TEMPORAL_NAMESPACE"),
			TLSCert:       get("TEMPORAL_TLS_CERT"),
			TLSKey:        get("TEMPORAL_TLS_KEY"),
			TLSCA:         get("TEMPORAL_TLS_CA"),
			TLSServerName: get("TEMPORAL_TLS_SERVER_NAME"),
			APIKey:        get("TEMPORAL_API_KEY"),
		},
		LogLevel:  strings.ToLower(get("LOG_LEVEL")),
		LogFormat: strings.ToLower(get("LOG_FORMAT")),
		Worker: Worker{
			HTTPAddr: get("LIFECYCLE_WORKER_HTTP_ADDR"), DeploymentName: get("LIFECYCLE_DEPLOYMENT_NAME"),
			BuildID: get("LIFECYCLE_BUILD_ID"),
		},
		Client: Client{APIURL: get("LIFECYCLE_API_URL"), APIKey: get("LIFECYCLE_API_KEY")},
	}
	switch v := strings.ToLower(get("LIFECYCLE_WORKER_VERSIONING")); v {
	case "on", "true", "1":
		c.Worker.Versioning = true
	case "off", "false", "0":
	default:
		bad("LIFECYCLE_WORKER_VERSIONING", "must be on or off, got %q", v)
	}
	if c.Worker.HTTPAddr == "off" {
		c.Worker.HTTPAddr = ""
	} else if _, _, err := net.SplitHostPort(c.Worker.HTTPAddr); err != nil {
		bad("LIFECYCLE_WORKER_HTTP_ADDR", "%q is not host:port (or off)", c.Worker.HTTPAddr)
	}
	if !validName(c.Worker.DeploymentName, false) {
		bad("LIFECYCLE_DEPLOYMENT_NAME", "%q: use 1-100 letters, digits, '-' or '_'", c.Worker.DeploymentName)
	}
	if c.Worker.BuildID != "" && !validName(c.Worker.BuildID, true) {
		bad("LIFECYCLE_BUILD_ID", "%q: use 1-100 letters, digits, '-', '_' or '.'", c.Worker.BuildID)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("LIFECYCLE_HTTP_ADDR", "%q is not host:port", c.HTTPAddr)
	}
	if _, _, err := net.SplitHostPort(c.Temporal.Address); err != nil {
		bad("TEMPORAL_ADDRESS", "%q is not host:port", c.Temporal.Address)
	}
	d, err := time.ParseDuration(get("LIFECYCLE_DAY_LENGTH"))
	switch {
	case err != nil:
		bad("LIFECYCLE_DAY_LENGTH", "%q is not a duration like 24h or 5s", get("LIFECYCLE_DAY_LENGTH"))
	case d < time.Second || d > 24*time.Hour:
		bad("LIFECYCLE_DAY_LENGTH", "must be between 1s and 24h, got %s", d)
	}
	c.DayLength = d
	c.InsightsCron = strings.TrimSpace(get("LIFECYCLE_INSIGHTS_CRON"))
	if f := strings.Fields(c.InsightsCron); !(len(f) == 5 || (len(f) == 1 && strings.HasPrefix(f[0], "@"))) {
		bad("LIFECYCLE_INSIGHTS_CRON", "%q is not a cron expression of five fields (minute hour day month weekday) or @daily", c.InsightsCron)
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.HTTPAddr
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("LIFECYCLE_PUBLIC_URL", "%q is not an http(s) URL", c.PublicURL)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if v := strings.TrimSpace(get("LIFECYCLE_SLACK_WEBHOOK_URL")); v != "" {
		if err := CheckSlackURL(v); err != nil {
			bad("LIFECYCLE_SLACK_WEBHOOK_URL", "%v", err)
		} else {
			c.Slack.Team = v
		}
	}
	if people, roles, err := ParseSlackWebhooks(get("LIFECYCLE_SLACK_WEBHOOKS")); err != nil {
		bad("LIFECYCLE_SLACK_WEBHOOKS", "%v", err)
	} else {
		c.Slack.People, c.Slack.Roles = people, roles
	}
	c.HubSpot = loadHubSpot(get, bad)
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		bad("DATABASE_URL", "must be a postgres:// URL")
	}
	if u, err := url.Parse(c.SendGrid.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("SENDGRID_BASE_URL", "%q is not an http(s) URL", c.SendGrid.BaseURL)
	}
	if c.SendGrid.APIKey != "" {
		if _, err := mail.ParseAddress(c.SendGrid.From); err != nil {
			bad("SENDGRID_FROM", "%q is not an address like \"CS <cs@example.com>\"", c.SendGrid.From)
		}
	}
	if (c.Temporal.TLSCert == "") != (c.Temporal.TLSKey == "") {
		bad("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together")
	}
	for _, f := range []struct{ env, path string }{{"TEMPORAL_TLS_CERT", c.Temporal.TLSCert}, {"TEMPORAL_TLS_KEY", c.Temporal.TLSKey}, {"TEMPORAL_TLS_CA", c.Temporal.TLSCA}} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				bad(f.env, "cannot read %s", f.path)
			}
		}
	}
	if c.LogLevel != "debug" && c.LogLevel != "info" && c.LogLevel != "warn" && c.LogLevel != "error" {
		bad("LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		bad("LOG_FORMAT", "must be json or console, got %q", c.LogFormat)
	}
	keys, err := ParseAPIKeys(get("LIFECYCLE_API_KEYS"))
	if err != nil {
		bad("LIFECYCLE_API_KEYS", "%v", err)
	}
	c.APIKeys = keys
	if len(keys) == 0 && dev {
		c.APIKeys = map[string]string{}
		for _, role := range Roles {
			c.APIKeys[role+"_"+randomHex(12)] = role
		}
		c.GeneratedKeys = true
	}
	if c.LinkSecret == "" && dev {
		c.LinkSecret = randomHex(32)
	}
	if len(c.LinkSecret) > 0 && len(c.LinkSecret) < 16 {
		bad("LIFECYCLE_LINK_SECRET", "must be at least 16 characters")
	}
	return c, errors.Join(errs...)
}

// loadHubSpot reads the HUBSPOT_ settings; with a client secret the rest
// must make a whole mapping.
func loadHubSpot(get func(string) string, bad func(env, format string, args ...any)) HubSpot {
	h := HubSpot{
		ClientSecret: get("HUBSPOT_CLIENT_SECRET"), AccessToken: get("HUBSPOT_ACCESS_TOKEN"), APIURL: get("HUBSPOT_API_URL"),
		PlanProperty: strings.TrimSpace(get("HUBSPOT_PLAN_PROPERTY")), RenewalProperty: strings.TrimSpace(get("HUBSPOT_RENEWAL_PROPERTY")),
		ContactRoleProperty: strings.TrimSpace(get("HUBSPOT_CONTACT_ROLE_PROPERTY")), ManagerEmail: strings.TrimSpace(get("HUBSPOT_MANAGER_EMAIL")),
	}
	for _, st := range strings.Split(get("HUBSPOT_CLOSED_WON_STAGES"), ",") {
		if st = strings.TrimSpace(st); st != "" {
			h.ClosedWonStages = append(h.ClosedWonStages, st)
		}
	}
	if h.ClientSecret == "" {
		return h
	}
	if h.AccessToken == "" {
		bad("HUBSPOT_ACCESS_TOKEN", "required with HUBSPOT_CLIENT_SECRET: the webhook's events carry only ids, the records come from HubSpot's API")
	}
	if u, err := url.Parse(h.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("HUBSPOT_API_URL", "%q is not an http(s) URL", h.APIURL)
	}
	if len(h.ClosedWonStages) == 0 {
		bad("HUBSPOT_CLOSED_WON_STAGES", "name at least one deal stage id")
	}
	for env, v := range map[string]string{"HUBSPOT_PLAN_PROPERTY": h.PlanProperty, "HUBSPOT_RENEWAL_PROPERTY": h.RenewalProperty} {
		if v != "" && !validPropertyRef(v) {
			bad(env, "%q: want deal.NAME or company.NAME (a property's internal name)", clip(v, 60))
		}
	}
	n, err := strconv.Atoi(get("HUBSPOT_TERM_MONTHS"))
	if err != nil || n < 1 || n > 120 {
		bad("HUBSPOT_TERM_MONTHS", "want 1-120 months, got %q", get("HUBSPOT_TERM_MONTHS"))
	}
	h.TermMonths = n
	if a, err := mail.ParseAddress(h.ManagerEmail); err != nil || a.Name != "" {
		bad("HUBSPOT_MANAGER_EMAIL", "required with HUBSPOT_CLIENT_SECRET: an email address, got %q", clip(h.ManagerEmail, 60))
	}
	if v := strings.TrimSpace(get("HUBSPOT_DEFAULT_CSM")); v != "" {
		if a, err := mail.ParseAddress(v); err != nil || a.Name == "" {
			bad("HUBSPOT_DEFAULT_CSM", "%q: want \"Name <email>\"", clip(v, 60))
		} else {
			h.DefaultCSMName, h.DefaultCSMEmail = a.Name, a.Address
		}
	}
	return h
}

// validPropertyRef: "deal.NAME", "company.NAME" or a bare NAME (the deal's).
func validPropertyRef(v string) bool {
	obj, name, ok := strings.Cut(v, ".")
	if !ok {
		obj, name = "deal", v
	}
	return (obj == "deal" || obj == "company") && name != "" && len(name) <= 100 && !strings.ContainsAny(name, ", \t.")
}

// RequireAPI checks what the api command needs beyond Load.
func (c *Config) RequireAPI() error {
	if len(c.APIKeys) == 0 {
		return errors.New("LIFECYCLE_API_KEYS: set at least one role:key pair (e.g. admin:$(openssl rand -hex 16))")
	}
	return nil
}

// validName: a deployment name or build id Temporal accepts. A version is
// written "<deployment>.<build>", so a deployment name takes no dot.
func validName(s string, dots bool) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || dots && r == '.'
		if !ok {
			return false
		}
	}
	return true
}

// MinKeyLen is the shortest API key accepted: 24 characters of a random
// hex or base64 key are 96 bits or more, out of reach of guessing through
// a rate-limited sign-in.
const MinKeyLen = 24

// ParseAPIKeys reads "role:key,role:key".
func ParseAPIKeys(s string) (map[string]string, error) {
	keys := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return keys, nil
	}
	for _, pair := range strings.Split(s, ",") {
		role, key, ok := strings.Cut(strings.TrimSpace(pair), ":")
		switch {
		case !ok:
			return nil, fmt.Errorf("%q is not role:key", pair)
		case !validRole(role):
			return nil, fmt.Errorf("unknown role %q (use %s)", role, strings.Join(Roles, ", "))
		case len(key) < MinKeyLen:
			return nil, fmt.Errorf("the %s key is shorter than %d characters (e.g. %s:$(openssl rand -hex 16))", role, MinKeyLen, role)
		case len(key) > 200:
			return nil, fmt.Errorf("the %s key is longer than 200 characters", role)
		}
		if _, dup := keys[key]; dup {
			return nil, fmt.Errorf("a key is listed twice")
		}
		keys[key] = role
	}
	return keys, nil
}

func validRole(r string) bool {
	for _, x := range Roles {
		if x == r {
			return true
		}
	}
	return false
}

// KeysByRole lists the keys sorted by role, for printing.
func (c *Config) KeysByRole() [][2]string {
	var out [][2]string
	for k, r := range c.APIKeys {
		out = append(out, [2]string{r, k})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// ParseSlackWebhooks reads LIFECYCLE_SLACK_WEBHOOKS: comma-separated
// "email=URL" or "role=URL" entries (roles: SlackRoles). Emails are
// lower-cased. Errors name the entry by its place and its email or role,
// never by its URL: a webhook URL is a secret.
func ParseSlackWebhooks(v string) (people, roles map[string]string, err error) {
	people, roles = map[string]string{}, map[string]string{}
	for i, entry := range strings.Split(v, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		n := i + 1
		who, hook, ok := strings.Cut(entry, "=")
		who, hook = strings.ToLower(strings.TrimSpace(who)), strings.TrimSpace(hook)
		switch {
		case !ok || who == "":
			return nil, nil, fmt.Errorf("entry %d: want email=URL or role=URL (e.g. manager=https://hooks.slack.com/services/...)", n)
		case strings.Contains(who, "/") || strings.Contains(who, ":"):
			// A URL without its name: saying what it is would show it.
			return nil, nil, fmt.Errorf("entry %d: starts with a URL; want email=URL or role=URL", n)
		}
		into := people
		if slices.Contains(SlackRoles, who) {
			into = roles
		} else if a, err := mail.ParseAddress(who); err != nil || a.Name != "" || a.Address != who {
			return nil, nil, fmt.Errorf("entry %d (%s): not an email, nor a role (%s)", n, clip(who, 60), strings.Join(SlackRoles, ", "))
		}
		if _, dup := into[who]; dup {
			return nil, nil, fmt.Errorf("entry %d (%s): listed twice", n, who)
		}
		if err := CheckSlackURL(hook); err != nil {
			return nil, nil, fmt.Errorf("entry %d (%s): %v", n, who, err)
		}
		into[who] = hook
	}
	return people, roles, nil
}

// CheckSlackURL admits an https URL, or http to this machine (a local
// receiver in tests and dev). Its errors never repeat the URL.
func CheckSlackURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return errors.New("not a URL (want https://hooks.slack.com/services/...)")
	}
	switch host := u.Hostname(); {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && (host == "127.0.0.1" || host == "localhost" || host == "::1"):
		return nil
	}
	return errors.New("must be an https URL (http only to 127.0.0.1 or localhost)")
}

// clip shortens s to n characters for an error message.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
