package apiserver

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// startContacts is a start's champion and its other contacts: a contact
// with role champion stands for the champion when the deal names none (a
// CRM that sends every contact in one list). Anything else is left for
// the journey's checks to name.
func startContacts(req StartRequest) (workflows.Person, []workflows.Contact) {
	if req.Champion != (workflows.Person{}) {
		return req.Champion, req.Contacts
	}
	var (
		champion workflows.Person
		found    int
		rest     []workflows.Contact
	)
	for _, ct := range req.Contacts {
		if ct.Role == workflows.ContactChampion && found == 0 {
			champion, found = workflows.Person{Name: ct.Name, Email: ct.Email, TimeZone: ct.TimeZone}, 1
			continue
		}
		rest = append(rest, ct)
	}
	return champion, rest
}

// ContactList is GET /v1/customers/{id}/contacts.
type ContactList struct {
	Contacts []workflows.ContactView `json:"contacts"`
	// Reachable counts the contacts emails go out to.
	Reachable int `json:"reachable"`
}

// ContactRequest is the body of POST and PATCH .../contacts: every field
// for a new contact; for a change, the fields to change.
type ContactRequest struct {
	Role     string `json:"role,omitempty"`
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	Reason   string `json:"reason,omitempty"`
	By       string `json:"by,omitempty"`
}

func (s *Server) listContacts(c *gin.Context) {
	if _, st, ok := s.briefState(c); ok {
		c.JSON(http.StatusOK, ContactList{Contacts: st.Contacts, Reachable: st.Reachable})
	}
}

func (s *Server) addContact(c *gin.Context) {
	var req ContactRequest
	if !decode(c, &req) {
		return
	}
	s.contactChange(c, workflows.ContactAdd, req, http.StatusCreated)
}

func (s *Server) changeContact(c *gin.Context) {
	var req ContactRequest
	if !decode(c, &req) {
		return
	}
	s.contactChange(c, workflows.ContactUpdate, req, http.StatusOK)
}

func (s *Server) removeContact(c *gin.Context) {
	var req ContactRequest
	if c.Request.ContentLength != 0 && !decode(c, &req) {
		return
	}
	s.contactChange(c, workflows.ContactRemove, req, http.StatusOK)
}

// contactChange checks a contact change and sends it to the journey, which
// answers the contact as it is now (or as it was, removed).
func (s *Server) contactChange(c *gin.Context, op string, req ContactRequest, status int) {
	id, ok := customerID(c)
	if !ok {
		return
	}
	ch := workflows.ContactChange{Op: op, ID: c.Param("contact"), Reason: req.Reason, By: req.By,
		Contact: workflows.Contact{Role: req.Role, Name: req.Name, Email: strings.TrimSpace(req.Email), TimeZone: req.TimeZone}}
	if op != workflows.ContactAdd && !workflows.ValidContactID(ch.ID) {
		fail(c, http.StatusNotFound, "contact_not_found", fmt.Sprintf("no contact %q (contacts are ct1, ct2, ...)", clipText(ch.ID, 40)), "contact")
		return
	}
	if op == workflows.ContactRemove && (req.Role != "" || req.Name != "" || req.Email != "" || req.TimeZone != "") {
		fail(c, http.StatusUnprocessableEntity, "invalid_field", "a removal takes only reason and by", "contact")
		return
	}
	signBy(c, &ch)
	if ch.By == "" {
		ch.By = c.GetString("who")
	}
	if err := workflows.ValidateContactChange(ch); err != nil {
		invalid(c, firstError(err))
		return
	}
	var out workflows.ContactView
	if err := s.update(c, id, workflows.UpdateContact, ch, &out); err != nil {
		if workflows.IsValidationError(err) && strings.Contains(err.Error(), "is not a contact of this journey") {
			fail(c, http.StatusNotFound, "contact_not_found", rejectionMessage(err), "contact")
			return
		}
		s.temporalError(c, err, id)
		return
	}
	c.JSON(status, out)
}
