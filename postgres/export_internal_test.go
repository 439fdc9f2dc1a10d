package postgres

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dialtone/dialtone"
)

func TestUnescapeCopy(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, ``},
		{`plain`, `plain`},
		{`a\\b`, `a\b`},
		{`\b\f\n\r\t\v`, "\b\f\n\r\t\v"},
		{`\101\7\0101`, "A\a\b1"},
		{`\x41\x4g\xz`, "A\x04gxz"},
		{`\"\N`, `"N`},
		{`end\`, `end\`},
		{`Zoë\t😀`, "Zoë\t😀"},
	} {
		if got := string(unescapeCopy(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("unescapeCopy(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// copyRow is one row of COPY's text format with the given fields, the
// first of them escaped as PostgreSQL escapes them.
func copyRow(first string, null bool) string {
	f := make([]string, len(dialtone.ExportColumns))
	for i := range f {
		f[i] = "7"
	}
	r := strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\b", `\b`, "\f", `\f`, "\v", `\v`)
	f[0] = r.Replace(first)
	if null {
		f[13] = `\N`
	}
	return strings.Join(f, "\t") + "\n"
}

func TestCopyJSONLSplitWrites(t *testing.T) {
	in := copyRow("a\tb\nc\\d \"q\" <x>", false) + copyRow(`\N`, true) + copyRow("Zoë😀\u2028", false)
	var whole bytes.Buffer
	j := &copyJSONL{w: &whole}
	if _, err := j.Write([]byte(in)); err != nil {
		t.Fatalf("Write = %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if got := strings.Count(whole.String(), "\n"); got != 3 {
		t.Fatalf("Write(3 rows) = %d lines:\n%s", got, whole.String())
	}
	if !strings.Contains(whole.String(), `{"id":"a\tb\nc\\d \"q\" \u003cx\u003e",`) ||
		!strings.Contains(whole.String(), `{"id":"\\N",`) || !strings.Contains(whole.String(), `"ringing_at":"",`) {
		t.Errorf("Write() =\n%s", whole.String())
	}
	for _, size := range []int{1, 2, 3, 7, 64, 1000} {
		var got bytes.Buffer
		j := &copyJSONL{w: &got}
		for p := in; len(p) > 0; {
			n := min(size, len(p))
			if _, err := j.Write([]byte(p[:n])); err != nil {
				t.Fatalf("Write(%d-byte pieces) = %v", size, err)
			}
			p = p[n:]
		}
		if err := j.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		if got.String() != whole.String() {
			t.Errorf("Write(%d-byte pieces) =\n%s\nwant\n%s", size, got.String(), whole.String())
		}
	}
}

func TestCopyJSONLBadRows(t *testing.T) {
	for _, in := range []string{"a\tb\n", strings.Repeat("x\t", len(dialtone.ExportColumns)) + "x\n"} {
		var out bytes.Buffer
		if _, err := (&copyJSONL{w: &out}).Write([]byte(in)); err == nil {
			t.Errorf("Write(%q) = nil error, want one", in)
		}
	}
	j := &copyJSONL{w: &bytes.Buffer{}}
	if _, err := j.Write([]byte("no newline")); err != nil {
		t.Fatalf("Write = %v", err)
	}
	if err := j.Close(); err == nil {
		t.Error("Close() after a cut row = nil error, want one")
	}
}
