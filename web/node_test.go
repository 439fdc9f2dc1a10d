package web

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// requireNode returns the path of node, or skips (fails with
// DIALTONE_REQUIRE_ALL=1) when Node.js is not installed.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("DIALTONE_REQUIRE_ALL") == "1" {
			t.Fatal("node is required (DIALTONE_REQUIRE_ALL=1): run make deps")
		}
		t.Skip("node is not installed: run make deps")
	}
	return node
}

// TestDriverSyntax checks that the browser test driver and the WAV writer
// parse, so an e2e test does not learn it first.
func TestDriverSyntax(t *testing.T) {
	node := requireNode(t)
	for _, script := range []string{"test/call.mjs", "test/sipjs.mjs", "test/money.mjs", "test/browser.mjs", "test/tone.mjs"} {
		if out, err := exec.Command(node, "--check", script).CombinedOutput(); err != nil {
			t.Errorf("node --check %s: %v\n%s", script, err, out)
		}
	}
}

// TestPageUnits runs the unit tests of the page's pure modules (SDP
// munging, plain-word reasons, digest challenges, the WebSocket URL).
func TestPageUnits(t *testing.T) {
	node := requireNode(t)
	if out, err := exec.Command(node, "--test", "test/units.test.mjs").CombinedOutput(); err != nil {
		t.Errorf("node --test test/units.test.mjs: %v\n%s", err, out)
	}
}

// TestToneWAV writes a WAV with tone.mjs and checks its header: 16-bit
// PCM mono at the asked rate, as Chromium's fake microphone wants.
func TestToneWAV(t *testing.T) {
	node := requireNode(t)
	path := filepath.Join(t.TempDir(), "tone.wav")
	if out, err := exec.Command(node, "test/tone.mjs", path, "700", "1", "8000").CombinedOutput(); err != nil {
		t.Fatalf("node test/tone.mjs: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le16 := func(i int) int { return int(b[i]) | int(b[i+1])<<8 }
	le32 := func(i int) int { return le16(i) | le16(i+2)<<16 }
	if len(b) != 44+2*8000 || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Fatalf("tone.mjs wrote %d bytes starting %q, want a 44-byte WAV header and 8000 samples", len(b), b[:min(len(b), 44)])
	}
	if format, channels, rate, bits := le16(20), le16(22), le32(24), le16(34); format != 1 || channels != 1 || rate != 8000 || bits != 16 {
		t.Errorf("tone.mjs header: format %d, channels %d, rate %d, bits %d; want 1, 1, 8000, 16", format, channels, rate, bits)
	}
}
