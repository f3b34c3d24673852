package activities

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"slices"
	"strings"
	"text/template"
)

//go:embed templates/*.txt templates/layout.html
var templateFS embed.FS

// Templates renders customer emails. Each template's first line is
// "Subject: ...", then a blank line, then the body. The HTML version of every
// email is the same text in templates/layout.html, with the actions as
// buttons, so the two never say different things.
type Templates struct {
	Product string // the product's name, as customers know it
	byName  map[string]*template.Template
	layout  *htmltemplate.Template
}

// LoadTemplates parses the templates embedded in the binary.
func LoadTemplates(product string) (*Templates, error) {
	t := &Templates{Product: product, byName: map[string]*template.Template{}}
	layout, err := htmltemplate.ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("layout.html: %w", err)
	}
	t.layout = layout
	names, err := fs.Glob(templateFS, "templates/*.txt")
	if err != nil {
		return nil, err
	}
	for _, path := range names {
		src, err := templateFS.ReadFile(path)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(path, "templates/"), ".txt")
		if !strings.HasPrefix(string(src), "Subject: ") {
			return nil, fmt.Errorf("template %s: first line must be \"Subject: ...\"", name)
		}
		tpl, err := template.New(name).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		t.byName[name] = tpl
	}
	return t, nil
}

// Names lists the templates, sorted.
func (t *Templates) Names() []string {
	names := make([]string, 0, len(t.byName))
	for n := range t.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Email is a rendered customer email.
type Email struct {
	Subject string
	Text    string
	HTML    string
}

// RenderEmail renders the text and HTML of a customer email; actions carry
// their URLs, unsubscribe may be empty.
func (t *Templates) RenderEmail(name string, to Recipient, data map[string]string, actions []Action, unsubscribe string) (Email, error) {
	subject, text, err := t.Render(name, to, data)
	if err != nil {
		return Email{}, err
	}
	var paragraphs [][]string
	for _, p := range strings.Split(strings.TrimSpace(text), "\n\n") {
		paragraphs = append(paragraphs, strings.Split(p, "\n"))
	}
	var b bytes.Buffer
	err = t.layout.Execute(&b, map[string]any{
		"Subject": subject, "Paragraphs": paragraphs, "Actions": actions,
		"UnsubscribeURL": unsubscribe, "AccountName": data["AccountName"],
	})
	if err != nil {
		return Email{}, fmt.Errorf("template %s (html): %w", name, err)
	}
	return Email{Subject: subject, Text: text + renderActions(actions), HTML: b.String()}, nil
}

// Has reports whether a template exists.
func (t *Templates) Has(name string) bool { _, ok := t.byName[name]; return ok }

// Render fills a template for one recipient; data adds to the standard fields.
func (t *Templates) Render(name string, to Recipient, data map[string]string) (subject, text string, err error) {
	tpl, ok := t.byName[name]
	if !ok {
		return "", "", fmt.Errorf("unknown template %q", name)
	}
	fields := map[string]string{"Product": t.Product, "FirstName": firstName(to.Name)}
	for k, v := range data {
		fields[k] = v
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, fields); err != nil {
		return "", "", fmt.Errorf("template %s: %w", name, err)
	}
	head, body, _ := strings.Cut(b.String(), "\n")
	return strings.TrimPrefix(head, "Subject: "), strings.TrimLeft(body, "\n"), nil
}

func firstName(name string) string {
	if f := strings.Fields(name); len(f) > 0 {
		return f[0]
	}
	return "there"
}
