package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/worker"
)

const emailUsage = `Usage:
  lifecycle email preview TEMPLATE [--html]   render a customer email with sample data
  lifecycle email list                        list the templates
`

// sampleData is what a journey passes, for previews.
var sampleData = map[string]string{
	"AccountName": "Acme Corp", "CSMName": "Grace Hopper", "CSMEmail": "grace@vendor.example", "Day": "30",
	"Title": "30-day review", "DueDay": "21", "Deliverables": "SSO configured, Data connected",
	"RenewalDate": "2027-12-01", "DaysBefore": "30",
}

func emailCmd(args []string, stdout, stderr io.Writer) error {
	tpl, err := activities.LoadTemplates(worker.Product)
	if err != nil {
		return err
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, emailUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	switch args[0] {
	case "list":
		fmt.Fprintln(stdout, strings.Join(tpl.Names(), "\n"))
		return nil
	case "preview":
		fs := flag.NewFlagSet("lifecycle email preview", flag.ContinueOnError)
		fs.SetOutput(stderr)
		html := fs.Bool("html", false, "print the HTML instead of the text")
		if err := fs.Parse(args[1:]); err != nil {
			return errUsage
		}
		if fs.NArg() != 1 {
			fmt.Fprint(stderr, emailUsage)
			return errUsage
		}
		name := fs.Arg(0)
		if !tpl.Has(name) {
			return fmt.Errorf("unknown template %q (known: %s)", name, strings.Join(tpl.Names(), ", "))
		}
		actions := []activities.Action{
			{ID: "on_track", Label: "I'm on track", URL: "http://127.0.0.1:8080/a/sample-on-track"},
			{ID: "need_help", Label: "I need help", URL: "http://127.0.0.1:8080/a/sample-need-help"},
		}
		email, err := tpl.RenderEmail(name, activities.Recipient{Name: "Ada Lovelace", Email: "ada@acme.example"}, sampleData, actions, "http://127.0.0.1:8080/a/sample-unsubscribe")
		if err != nil {
			return err
		}
		if *html {
			fmt.Fprint(stdout, email.HTML)
			return nil
		}
		fmt.Fprintf(stdout, "Subject: %s\n\n%s", email.Subject, email.Text)
		return nil
	default:
		fmt.Fprintf(stderr, "lifecycle email: unknown command %q\n%s", args[0], emailUsage)
		return errUsage
	}
}
