package dashboard

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

type outboxRow struct {
	store.OutboxMessage
	Actions []struct{ ID, Label, URL string }
}

type outboxData struct {
	Customer string
	Rows     []outboxRow
}

// outbox lists the emails of local mode with their action links (the same
// signed /a/<token> links the customer gets), newest first.
func (d *Dashboard) outbox(c *gin.Context) {
	customer := c.Query("customer")
	if customer != "" && !workflows.ValidAccountID(customer) {
		d.fail(c, http.StatusBadRequest, "No such customer.")
		return
	}
	msgs, err := d.opts.Outbox.OutboxList(c.Request.Context(), customer, 200)
	if err != nil {
		d.fail(c, http.StatusInternalServerError, "Could not read the outbox.")
		return
	}
	data := outboxData{Customer: customer}
	for _, m := range msgs {
		row := outboxRow{OutboxMessage: m}
		_ = json.Unmarshal([]byte(m.ActionsJSON), &row.Actions) // our own JSON; no actions on error
		data.Rows = append(data.Rows, row)
	}
	d.render(c, http.StatusOK, "outbox", "", d.page(c, "Outbox", "outbox", data))
}

// outboxEmail shows one email: its header and its HTML in a sandboxed frame.
func (d *Dashboard) outboxEmail(c *gin.Context) {
	m, ok, err := d.opts.Outbox.OutboxGet(c.Request.Context(), c.Query("key"))
	switch {
	case err != nil:
		d.fail(c, http.StatusInternalServerError, "Could not read the outbox.")
	case !ok:
		d.fail(c, http.StatusNotFound, "No such email.")
	default:
		row := outboxRow{OutboxMessage: m}
		_ = json.Unmarshal([]byte(m.ActionsJSON), &row.Actions)
		d.render(c, http.StatusOK, "outbox_email", "", d.page(c, m.Subject, "outbox", row))
	}
}

// outboxRaw is an email's own HTML, framed by outboxEmail. Its CSP lets
// the email's inline styles through and nothing else: no script runs.
func (d *Dashboard) outboxRaw(c *gin.Context) {
	m, ok, err := d.opts.Outbox.OutboxGet(c.Request.Context(), c.Query("key"))
	if err != nil || !ok {
		d.fail(c, http.StatusNotFound, "No such email.")
		return
	}
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'")
	if m.HTML == "" {
		c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte("Subject: "+m.Subject+"\n\n"+m.Text))
		return
	}
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(m.HTML))
}
