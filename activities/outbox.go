package activities

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Outbox is the local mailer: every message becomes a text file under Dir
// that a person can read. A key is written at most once, so a retried send
// is recorded as a duplicate instead of a second email.
type Outbox struct {
	Dir string
	Now func() time.Time
}

// NewOutbox creates the directory if needed.
func NewOutbox(dir string) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return &Outbox{Dir: dir, Now: time.Now}, nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileName is readable and collision-free: a cleaned key plus a hash of it.
func fileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	clean := unsafeChars.ReplaceAllString(key, "_")
	if len(clean) > 80 {
		clean = clean[:80]
	}
	return clean + "-" + hex.EncodeToString(sum[:4]) + ".txt"
}

// Send writes the message unless its key was written before.
func (o *Outbox) Send(ctx context.Context, m Message) (Sent, error) {
	if err := ctx.Err(); err != nil {
		return Sent{}, err
	}
	final := filepath.Join(o.Dir, fileName(m.Key))
	if _, err := os.Stat(final); err == nil {
		return Sent{Key: m.Key, MessageID: filepath.Base(final), Duplicate: true}, nil
	}
	tmp, err := os.CreateTemp(o.Dir, ".sending-*")
	if err != nil {
		return Sent{}, fmt.Errorf("outbox: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(format(m, o.Now())); err != nil {
		tmp.Close()
		return Sent{}, fmt.Errorf("outbox: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return Sent{}, fmt.Errorf("outbox: %w", err)
	}
	// A hard link creates the final name only if it does not exist yet, so
	// two racing sends of one key leave exactly one message.
	if err := os.Link(tmp.Name(), final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Sent{Key: m.Key, MessageID: filepath.Base(final), Duplicate: true}, nil
		}
		return Sent{}, fmt.Errorf("outbox: %w", err)
	}
	return Sent{Key: m.Key, MessageID: filepath.Base(final)}, nil
}

var headerOrder = []string{"Key", "Customer", "Step", "Kind", "Template", "To", "Subject", "Scheduled-For", "Written-At"}

func format(m Message, now time.Time) string {
	var b strings.Builder
	h := map[string]string{
		"Key": m.Key, "Customer": m.CustomerID, "Step": m.Step, "Kind": m.Kind, "Template": m.Template,
		"To": fmt.Sprintf("%s <%s>", m.To.Name, m.To.Email), "Subject": m.Subject,
		"Scheduled-For": m.ScheduledFor.UTC().Format(time.RFC3339), "Written-At": now.UTC().Format(time.RFC3339Nano),
	}
	for _, k := range headerOrder {
		if h[k] != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, strings.ReplaceAll(h[k], "\n", " "))
		}
	}
	for _, a := range m.Actions {
		fmt.Fprintf(&b, "Action: %s %s\n", a.ID, a.Label)
	}
	b.WriteString("\n")
	b.WriteString(m.Text)
	if !strings.HasSuffix(m.Text, "\n") {
		b.WriteString("\n")
	}
	return b.String()
}

// List reads every message in the outbox, in the order they were scheduled.
func (o *Outbox) List() ([]Message, error) {
	paths, err := filepath.Glob(filepath.Join(o.Dir, "*.txt"))
	if err != nil {
		return nil, err
	}
	msgs := make([]Message, 0, len(paths))
	for _, p := range paths {
		m, err := readMessage(p)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	slices.SortStableFunc(msgs, func(a, b Message) int {
		if c := a.ScheduledFor.Compare(b.ScheduledFor); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return msgs, nil
}

func readMessage(path string) (Message, error) {
	f, err := os.Open(path)
	if err != nil {
		return Message{}, err
	}
	defer f.Close()
	var m Message
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "Key":
			m.Key = v
		case "Customer":
			m.CustomerID = v
		case "Step":
			m.Step = v
		case "Kind":
			m.Kind = v
		case "Template":
			m.Template = v
		case "Subject":
			m.Subject = v
		case "To":
			name, email, _ := strings.Cut(v, " <")
			m.To = Recipient{Name: name, Email: strings.TrimSuffix(email, ">")}
		case "Scheduled-For":
			m.ScheduledFor, _ = time.Parse(time.RFC3339, v)
		case "Action":
			id, label, _ := strings.Cut(v, " ")
			m.Actions = append(m.Actions, Action{ID: id, Label: label})
		}
	}
	var body strings.Builder
	for sc.Scan() {
		body.WriteString(sc.Text())
		body.WriteString("\n")
	}
	m.Text = body.String()
	return m, sc.Err()
}
