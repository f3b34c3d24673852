package apiserver

import (
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/seed-a80403e2/lifecycle/internal/store"
)

// OutboxReader reads the local outbox (dev mode only).
type OutboxReader interface {
	OutboxList(ctx context.Context, customerID string, limit int) ([]store.OutboxMessage, error)
	OutboxGet(ctx context.Context, key string) (store.OutboxMessage, bool, error)
}

var outboxPage = template.Must(template.New("outbox").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Outbox</title>
<style>body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#1f2933}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #d9dde3;padding:6px 8px;text-align:left;vertical-align:top;font-size:14px}
.kind{font-size:12px;padding:2px 6px;border-radius:4px;background:#e4e7eb}</style></head>
<body><h1>Outbox</h1>
<p>Every email the journeys sent (local mode: nothing leaves this machine). Newest first.
{{if .Customer}}Customer <strong>{{.Customer}}</strong>. <a href="/dev/outbox">All customers</a>{{end}}</p>
<table><thead><tr><th>Due</th><th>Customer</th><th>To</th><th>Subject</th><th>Actions</th></tr></thead><tbody>
{{range .Rows}}<tr>
<td>{{.ScheduledFor.Format "2006-01-02 15:04:05"}}</td>
<td><a href="/dev/outbox?customer={{.CustomerID}}">{{.CustomerID}}</a></td>
<td><span class="kind">{{.Kind}}</span> {{.ToName}} &lt;{{.ToEmail}}&gt;</td>
<td><a href="/dev/outbox/view?key={{.Key}}">{{.Subject}}</a></td>
<td>{{range .Actions}}<a href="{{.URL}}">{{.Label}}</a><br>{{end}}</td>
</tr>{{else}}<tr><td colspan="5">No emails yet.</td></tr>{{end}}
</tbody></table></body></html>
`))

type outboxRow struct {
	store.OutboxMessage
	Actions []struct{ Label, URL string }
}

func (s *Server) devOutbox(c *gin.Context) {
	customer := c.Query("customer")
	limit, _ := strconv.Atoi(c.DefaultQuery("limit", "200"))
	rows, err := s.opts.Outbox.OutboxList(c.Request.Context(), customer, limit)
	if err != nil {
		fail(c, http.StatusInternalServerError, "internal", "could not read the outbox", "")
		return
	}
	data := struct {
		Customer string
		Rows     []outboxRow
	}{Customer: customer}
	for _, r := range rows {
		row := outboxRow{OutboxMessage: r}
		_ = json.Unmarshal([]byte(r.ActionsJSON), &row.Actions) // our own JSON; empty on error
		data.Rows = append(data.Rows, row)
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := outboxPage.Execute(c.Writer, data); err != nil {
		_ = c.Error(err)
	}
}

// devOutboxView shows one email as the customer would see it.
func (s *Server) devOutboxView(c *gin.Context) {
	m, ok, err := s.opts.Outbox.OutboxGet(c.Request.Context(), c.Query("key"))
	switch {
	case err != nil:
		fail(c, http.StatusInternalServerError, "internal", "could not read the outbox", "")
	case !ok:
		fail(c, http.StatusNotFound, "not_found", "no such email", "key")
	case m.HTML != "":
		c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(m.HTML))
	default:
		c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte("Subject: "+m.Subject+"\n\n"+m.Text))
	}
}
