package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone/trunks"
)

// runCLI runs the command line in-process, as main does, and returns the
// exit status and what went to standard output and standard error.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(""))
	code := execute(context.Background(), root, args, &errOut)
	return code, out.String(), errOut.String()
}

// TestCLIConventions: each invocation's exit status and what it prints.
func TestCLIConventions(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dialtone.yaml")
	// A stand-in for the running switch's admin listener: one carrier
	// without limits.
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/admin/trunks" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode([]trunks.Status{{Name: "demo", Address: "127.0.0.1:5070", Transport: "udp", Up: true, Since: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}})
	}))
	defer admin.Close()
	text := fmt.Sprintf("store: {url: %q}\nhttp: {listen: %q}\n", "sqlite://"+filepath.Join(dir, "d.db"), strings.TrimPrefix(admin.URL, "http://"))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c := []string{"-c", cfg}
	if code, _, stderr := runCLI(t, append(c, "account", "create", "demo", "--password", "demo1")...); code != 0 {
		t.Fatalf("account create demo = %d %s", code, stderr)
	}

	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string   // must contain; "-" must be empty
		stderr     []string // must contain each
		notStderr  string   // must not contain
		stderrOnce string   // must appear exactly once
	}{
		{name: "missing argument prints usage", args: []string{"account", "show"}, code: 2, stdout: "-",
			stderr: []string{"dialtone: account show: accepts 1 arg(s), received 0\n", "Usage:\n  dialtone account show USERNAME"}},
		{name: "too many arguments", args: []string{"wallet", "topup", "demo", "5", "6"}, code: 2,
			stderr: []string{"dialtone: wallet topup: accepts 2 arg(s), received 3\n", "Usage:\n  dialtone wallet topup USERNAME AMOUNT"}},
		{name: "unknown subcommand", args: []string{"account", "frob"}, code: 2, stdout: "-",
			stderr: []string{`dialtone: unknown command "frob" for "dialtone account"`, "Available Commands:"}},
		{name: "unknown command", args: []string{"frob"}, code: 2, stdout: "-",
			stderr: []string{`dialtone: unknown command "frob" for "dialtone"`}},
		{name: "near miss suggests", args: []string{"acount"}, code: 2,
			stderr: []string{`unknown command "acount" for "dialtone" (did you mean account?)`}},
		{name: "help of an unknown command", args: []string{"help", "frob"}, code: 2, stdout: "-",
			stderr: []string{`dialtone: help: unknown command "frob"`}},
		{name: "help of an unknown subcommand", args: []string{"help", "account", "frob"}, code: 2, stdout: "-",
			stderr: []string{`dialtone: help: unknown command "account frob"`}},
		{name: "help of a command", args: []string{"help", "wallet", "topup"}, code: 0, stdout: "dialtone wallet topup USERNAME AMOUNT"},
		{name: "group alone shows its help", args: []string{"account"}, code: 0, stdout: "Available Commands:"},
		{name: "unknown flag prints usage", args: []string{"wallet", "topup", "demo", "5", "--frob"}, code: 2,
			stderr: []string{"dialtone: unknown flag: --frob\n", "Usage:\n  dialtone wallet topup"}},
		{name: "negative amount is an argument", args: []string{"wallet", "topup", "demo", "-5"}, code: 1, stdout: "-",
			stderr: []string{"dialtone: amount -5: must be positive\n"}, notStderr: "shorthand"},
		{name: "negative amount before a flag", args: []string{"wallet", "topup", "demo", "-0.50", "--key", "k1"}, code: 1,
			stderr: []string{"dialtone: amount -0.5: must be positive\n"}, notStderr: "Usage:"},
		{name: "negative flag value", args: []string{"wallet", "history", "demo", "--limit", "-5"}, code: 1, stdout: "-",
			stderr: []string{"dialtone: --limit -5: want 1-1000\n"}},
		{name: "chart refused before the CSV", args: []string{"cdr", "summary", "--from", "2026-01-01", "--to", "2027-01-01", "--chart", "c.jpg"}, code: 1, stdout: "-",
			stderr: []string{"dialtone: --chart c.jpg: want a .svg or .png file\n"}},
		{name: "one layer of context", args: []string{"account", "create", "demo", "--password", "demo1"}, code: 1,
			stderr: []string{"dialtone: create account \"demo\": already exists\n"}, stderrOnce: "create account"},
		{name: "plan named once", args: []string{"account", "plan", "demo", "nope"}, code: 1,
			stderr: []string{`dialtone: rate plan "nope": not found (import it with: dialtone rates import --plan nope FILE)`}, stderrOnce: `"nope"`},
		{name: "not an IP", args: []string{"guard", "unban", "nowhere"}, code: 1,
			stderr: []string{`dialtone: unban: "nowhere" is not an IP address`}},
		{name: "runtime errors print no usage", args: []string{"account", "show", "nobody"}, code: 1,
			stderr: []string{"dialtone: account \"nobody\": not found\n"}, notStderr: "Usage:"},
		{name: "unlimited carrier", args: []string{"trunks", "status"}, code: 0, stdout: "0/unlimited  unlimited"},
		{name: "success", args: []string{"wallet", "topup", "demo", "5"}, code: 0, stdout: "5.00 USD to demo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append(slices.Clone(c), tt.args...)...)
			if code != tt.code {
				t.Errorf("dialtone %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(tt.args, " "), code, tt.code, stdout, stderr)
			}
			switch {
			case tt.stdout == "-" && stdout != "":
				t.Errorf("dialtone %s: stdout %q, want nothing", strings.Join(tt.args, " "), stdout)
			case tt.stdout != "-" && !strings.Contains(stdout, tt.stdout):
				t.Errorf("dialtone %s: stdout %q, want %q in it", strings.Join(tt.args, " "), stdout, tt.stdout)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("dialtone %s: stderr %q, want %q in it", strings.Join(tt.args, " "), stderr, want)
				}
			}
			if tt.notStderr != "" && strings.Contains(stderr, tt.notStderr) {
				t.Errorf("dialtone %s: stderr %q, want no %q", strings.Join(tt.args, " "), stderr, tt.notStderr)
			}
			if tt.stderrOnce != "" && strings.Count(stderr, tt.stderrOnce) != 1 {
				t.Errorf("dialtone %s: stderr %q names %q %d times, want once", strings.Join(tt.args, " "), stderr, tt.stderrOnce, strings.Count(stderr, tt.stderrOnce))
			}
		})
	}
}

func TestNegativesAsArgs(t *testing.T) {
	root := newRootCmd()
	tests := []struct{ in, want string }{
		{"wallet topup demo -5", "wallet topup demo -- -5"},
		{"-c x.yaml wallet topup demo -5 --key k", "-c x.yaml wallet topup demo --key k -- -5"},
		{"wallet topup --key -5 demo 5", "wallet topup --key -5 demo 5"}, // a flag's value stays
		{"wallet topup --key=k demo -1.5", "wallet topup --key=k demo -- -1.5"},
		{"wallet topup demo -- -5", "wallet topup demo -- -5"},
		{"wallet history demo --limit -5", "wallet history demo --limit -5"},
		{"account list", "account list"},
	}
	for _, tt := range tests {
		if got := strings.Join(negativesAsArgs(root, strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("negativesAsArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
