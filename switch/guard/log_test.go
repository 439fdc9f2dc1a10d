package guard

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogHandler(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	cfg := DefaultLog()
	log := slog.New(NewLogHandler(slog.NewTextHandler(&buf, nil), cfg, c.now))
	h := log.Handler().(*LogHandler)

	junk := strings.Repeat("INVITE \x00\r\n", 4000) // 40 KB of a malformed message
	for range 100 {
		log.Error("failed to parse", "data", junk, "source", "203.0.113.7:5060")
	}
	log.Error("failed to parse", "data", "short", "source", "198.51.100.9:5060")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != cfg.Burst+1 {
		t.Fatalf("100 lines from one source and 1 from another wrote %d lines, want %d", len(lines), cfg.Burst+1)
	}
	if n := len(lines[0]); n > 2*cfg.MaxValue+200 {
		t.Errorf("a line with a 40 KB value is %d bytes long, want at most about %d", n, cfg.MaxValue)
	}
	if !strings.Contains(lines[0], `\x00\r\n`) || !strings.Contains(lines[0], "(40000 bytes)") {
		t.Errorf("line = %s, want the value escaped and cut with its length", lines[0])
	}
	buf.Reset()
	c.add(cfg.Every)
	h.Flush(context.Background())
	out := buf.String()
	if !strings.Contains(out, "suppressed similar log lines") || !strings.Contains(out, "suppressed=95") || !strings.Contains(out, "source=203.0.113.7") {
		t.Errorf("Flush wrote %q, want the 95 suppressed lines of 203.0.113.7 counted", out)
	}
	buf.Reset()
	log.Error("failed to parse", "data", "again", "source", "203.0.113.7:5060")
	if strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("a line after the window wrote %q, want it alone", buf.String())
	}
}
