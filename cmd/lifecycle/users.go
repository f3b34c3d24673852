package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/store"
)

const usersUsage = `Usage:
  lifecycle users add --email EMAIL --name NAME --role ROLE
                                  add a person; prints their API key, once
  lifecycle users list            everyone: email, name, role, key hint, when added
  lifecycle users remove EMAIL    remove a person: their key stops working at once
  lifecycle users rotate EMAIL    a new key for a person, printed once; the old one
                                  stops working at once

A person signs in to the dashboard, and calls the API, with their own key;
what they do is recorded under their name ("Grace Hopper <grace@example.com>")
instead of a role. Roles: sales, csm, integration, admin (the dashboard takes csm
and admin). The store keeps only each key's hash and first characters: a lost
key is replaced (rotate), never shown again.

A key is printed alone on stdout, so a script can take it:
  KEY=$(lifecycle users add --email grace@example.com --name "Grace Hopper" --role csm)

Every command reads the store as the API does (--database-url / DATABASE_URL,
else SQLite in --data-dir / LIFECYCLE_DATA_DIR); 'lifecycle users add --help'
lists the flags.
`

// usersSettings names the settings the users commands read: the store's.
var usersSettings = []string{"LIFECYCLE_DATA_DIR", "DATABASE_URL"}

func usersCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usersUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	switch args[0] {
	case "add":
		return usersAdd(ctx, args[1:], stdout, stderr)
	case "list", "ls":
		return usersList(ctx, args[1:], stdout, stderr)
	case "remove", "rm":
		return usersRemove(ctx, args[1:], stdout, stderr)
	case "rotate":
		return usersRotate(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "lifecycle users: unknown command %q\n%s", args[0], usersUsage)
		return errUsage
	}
}

// usersFlags is a subcommand's flag set with the store's settings; open
// opens the store they name (a new SQLite file only when create is set).
type usersFlags struct {
	fs   *flag.FlagSet
	vals map[string]*string
}

func newUsersFlags(name, args, help string, stderr io.Writer) *usersFlags {
	fs := flag.NewFlagSet("lifecycle users "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &usersFlags{fs: fs, vals: map[string]*string{}}
	for _, s := range config.Settings {
		for _, env := range usersSettings {
			if s.Env == env {
				f.vals[env] = fs.String(s.Flag, "", fmt.Sprintf("%s (env %s, default %q)", s.Help, s.Env, s.Default))
			}
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: lifecycle users %s%s\n\n%s\n\nFlags (the store's also environment variables):\n", name, args, help)
		fs.PrintDefaults()
	}
	return f
}

// parse reads flags and arguments in any order ("remove EMAIL --data-dir
// d" as well as "remove --data-dir d EMAIL") and checks the count of
// arguments.
func (f *usersFlags) parse(args []string, want int) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		if f.fs.NArg() == 0 {
			break
		}
		pos = append(pos, f.fs.Arg(0))
		args = f.fs.Args()[1:]
	}
	if len(pos) != want {
		if want == 0 {
			fmt.Fprintf(f.fs.Output(), "%s: unexpected argument %q\n", f.fs.Name(), pos[0])
		} else {
			fmt.Fprintf(f.fs.Output(), "%s: want %d argument(s), got %d\n", f.fs.Name(), want, len(pos))
		}
		f.fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

// open opens the store the settings name, as the API would. An SQLite file
// that is not there yet is made only when create is set: a list or removal
// run in the wrong directory says so rather than reading an empty new store.
func (f *usersFlags) open(ctx context.Context, create bool, stderr io.Writer) (*store.Store, error) {
	cfg, err := config.Load(f.vals, "users") // no setting is checked for "users": store.Open checks what it reads
	if err != nil {
		return nil, err
	}
	where := "PostgreSQL (DATABASE_URL)"
	if cfg.DatabaseURL == "" {
		path, err := filepath.Abs(filepath.Join(cfg.DataDir, "lifecycle.db"))
		if err != nil {
			return nil, err
		}
		where = "SQLite " + path
		if _, err := os.Stat(path); err != nil {
			if !create {
				return nil, fmt.Errorf("no store at %s: run where the API keeps its data, or set --data-dir (LIFECYCLE_DATA_DIR) or --database-url (DATABASE_URL)", path)
			}
			where += " (new)"
		}
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "store: %s\n", where)
	return st, nil
}

func usersAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newUsersFlags("add", " --email EMAIL --name NAME --role ROLE [flags]",
		"Adds a person and prints their new API key on stdout, once: the store keeps\nonly its hash. Hand the key to them; a lost key is replaced with rotate.", stderr)
	email := f.fs.String("email", "", "the person's email address (required; the login, kept lower-cased)")
	name := f.fs.String("name", "", "the person's name as records show it, e.g. \"Grace Hopper\" (required, 1 to 100 characters)")
	role := f.fs.String("role", "", "the person's role (required): "+strings.Join(config.Roles, ", "))
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	var missing []string
	for _, m := range []struct{ flag, v string }{{"--email", *email}, {"--name", *name}, {"--role", *role}} {
		if strings.TrimSpace(m.v) == "" {
			missing = append(missing, m.flag)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "lifecycle users add: %s required\n", strings.Join(missing, ", "))
		f.fs.Usage()
		return errUsage
	}
	st, err := f.open(ctx, true, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	u, key, err := st.CreateUser(ctx, store.User{Email: *email, Name: *name, Role: *role})
	switch {
	case errors.Is(err, store.ErrUserExists):
		e, _ := store.NormalEmail(*email)
		return fmt.Errorf("%s is a user already (for a new key: lifecycle users rotate %s)", e, e)
	case err != nil:
		return userError(err)
	}
	fmt.Fprintf(stderr, "Added %s as %s. Their API key, shown only this once:\n", u.Who(), u.Role)
	fmt.Fprintln(stdout, key)
	fmt.Fprint(stderr, keyAdvice(u.Role))
	return nil
}

func usersList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newUsersFlags("list", " [flags]", "Lists everyone who has a key of their own, by email. Keys are shown by their\nfirst characters only.", stderr)
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	st, err := f.open(ctx, false, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	users, err := st.Users(ctx)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		fmt.Fprintln(stderr, `No users yet: lifecycle users add --email grace@example.com --name "Grace Hopper" --role csm`)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tNAME\tROLE\tKEY\tADDED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s…\t%s\n", u.Email, u.Name, u.Role, u.KeyHint, u.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return tw.Flush()
}

func usersRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return onUser(ctx, "remove", "Removes a person: their key is refused from the next request on, and their\ndashboard sessions end. What they recorded keeps their name.", args, stderr,
		func(st *store.Store, email string) error {
			if err := st.DeleteUser(ctx, email); err != nil {
				return noUser(err, email, "")
			}
			fmt.Fprintf(stdout, "Removed %s: their key no longer works and their dashboard sessions have ended.\n", email)
			return nil
		})
}

func usersRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return onUser(ctx, "rotate", "Gives a person a new API key, printed on stdout once. The old key is refused\nfrom the next request on, and the dashboard sessions it opened end.", args, stderr,
		func(st *store.Store, email string) error {
			u, key, err := st.RotateUserKey(ctx, email)
			if err != nil {
				return noUser(err, email, "; add them with lifecycle users add")
			}
			fmt.Fprintf(stderr, "New key for %s (%s); the old one no longer works. Shown only this once:\n", u.Who(), u.Role)
			fmt.Fprintln(stdout, key)
			fmt.Fprint(stderr, keyAdvice(u.Role))
			return nil
		})
}

// onUser runs a users command that takes one EMAIL: its flags, the store,
// then fn with the address as the store keeps it (trimmed, lower case).
func onUser(ctx context.Context, name, help string, args []string, stderr io.Writer, fn func(st *store.Store, email string) error) error {
	f := newUsersFlags(name, " EMAIL [flags]", help, stderr)
	pos, err := f.parse(args, 1)
	if err != nil {
		return err
	}
	st, err := f.open(ctx, false, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st, strings.ToLower(strings.TrimSpace(pos[0])))
}

// noUser says who is missing when the store knows no such person.
func noUser(err error, email, more string) error {
	if errors.Is(err, store.ErrNoUser) {
		return fmt.Errorf("no user %s (lifecycle users list shows who there is%s)", email, more)
	}
	return userError(err)
}

// keyAdvice says what the key is for, after it is printed.
func keyAdvice(role string) string {
	s := "Use it as: Authorization: Bearer <key>"
	if role == config.RoleCSM || role == config.RoleAdmin {
		s += ", or to sign in to the dashboard (/ui)"
	}
	return s + ".\n"
}

// userError puts the store's checks of a person's fields one a line.
func userError(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		return fmt.Errorf("invalid user:\n  %s", strings.ReplaceAll(msg, "\n", "\n  "))
	}
	return err
}
