package sendgridfake_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/seed-a80403e2/lifecycle/internal/sendgridfake"
)

func TestFailForRefusesOneMailboxUntilLifted(t *testing.T) {
	s := sendgridfake.New(t)
	s.FailFor("ADA@acme.example", http.StatusInternalServerError)
	other := strings.Replace(validMail, "ada@acme.example", "alan@acme.example", 1)
	assert.Equal(t, http.StatusInternalServerError, send(t, s, validMail).status, "the address fails, whatever its case")
	assert.Equal(t, http.StatusInternalServerError, send(t, s, validMail).status, "and keeps failing")
	assert.Equal(t, http.StatusAccepted, send(t, s, other).status, "other mailboxes are delivered")
	s.Enqueue(sendgridfake.Answer{Status: http.StatusServiceUnavailable})
	assert.Equal(t, http.StatusInternalServerError, send(t, s, validMail).status, "FailFor before the queue")
	assert.Equal(t, 1, s.Pending(), "the scripted answer is left for the next other send")
	s.FailFor("ada@acme.example", 0)
	assert.Equal(t, http.StatusServiceUnavailable, send(t, s, validMail).status)
	assert.Equal(t, http.StatusAccepted, send(t, s, validMail).status)
	assert.Len(t, s.Accepted(), 2)
}
