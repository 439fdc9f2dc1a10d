package guard

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
	"unicode/utf8"
)

// LogConfig bounds what the log says under attack.
type LogConfig struct {
	MaxValue int           // longest string value kept, in bytes; longer ones are cut
	Burst    int           // lines of one kind from one source per Every
	Every    time.Duration //
	MaxKeys  int           // kinds of line tracked at once
}

// DefaultLog keeps 200 bytes of a value (enough for the start line and a
// header of a malformed message) and five lines of one kind from one
// source each ten seconds.
func DefaultLog() LogConfig {
	return LogConfig{MaxValue: 200, Burst: 5, Every: 10 * time.Second, MaxKeys: 10_000}
}

// LogHandler wraps a slog.Handler so that an attacker cannot flood the
// log: each string value (sipgo logs a malformed message's bytes whole)
// is cut to MaxValue bytes, and lines with the same level and message
// from the same source (the source, raddr or addr attribute) pass Burst
// times each Every; the rest are counted and reported once as
// "suppressed similar log lines" with their count.
//
// Concurrency: safe for concurrent use; handlers made by WithAttrs and
// WithGroup share the counts.
type LogHandler struct {
	next slog.Handler
	st   *logState
}

type logState struct {
	cfg  LogConfig
	now  func() time.Time
	mu   sync.Mutex
	keys map[logKey]*logCount
}

type logKey struct {
	level  slog.Level
	msg    string
	source string
}

type logCount struct {
	start      time.Time
	n          int
	suppressed int
	next       slog.Handler // where the summary goes
}

// NewLogHandler wraps next; a nil now is time.Now.
func NewLogHandler(next slog.Handler, cfg LogConfig, now func() time.Time) *LogHandler {
	if now == nil {
		now = time.Now
	}
	return &LogHandler{next: next, st: &logState{cfg: cfg, now: now, keys: map[logKey]*logCount{}}}
}

func (h *LogHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *LogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	clipped := make([]slog.Attr, len(as))
	for i, a := range as {
		clipped[i] = h.st.clip(a)
	}
	return &LogHandler{next: h.next.WithAttrs(clipped), st: h.st}
}

func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{next: h.next.WithGroup(name), st: h.st}
}

func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	k := logKey{level: r.Level, msg: r.Message}
	long := false
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "source", "raddr", "addr":
			if k.source == "" {
				k.source = host(a.Value.String())
			}
		}
		if a.Value.Kind() == slog.KindString && len(a.Value.String()) > h.st.cfg.MaxValue || a.Value.Kind() == slog.KindAny {
			long = true
		}
		return true
	})
	pass, summary := h.st.take(k, h.next)
	if summary != nil {
		if err := summary.next.Handle(ctx, h.st.summary(k, summary.suppressed)); err != nil {
			return err
		}
	}
	if !pass {
		return nil
	}
	if long {
		out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
		r.Attrs(func(a slog.Attr) bool {
			out.AddAttrs(h.st.clip(a))
			return true
		})
		r = out
	}
	return h.next.Handle(ctx, r)
}

// Flush reports the lines suppressed in windows that have ended and
// forgets kinds of line not seen for a window. Call it now and then (the
// suppressed lines of a source that went quiet are reported only here).
func (h *LogHandler) Flush(ctx context.Context) {
	now := h.st.now()
	type pending struct {
		k logKey
		c logCount
	}
	var out []pending
	h.st.mu.Lock()
	for k, c := range h.st.keys {
		if now.Sub(c.start) < h.st.cfg.Every {
			continue
		}
		if c.suppressed > 0 {
			out = append(out, pending{k, *c})
		}
		delete(h.st.keys, k)
	}
	h.st.mu.Unlock()
	for _, p := range out {
		_ = p.c.next.Handle(ctx, h.st.summary(p.k, p.c.suppressed))
	}
}

// take counts one line of kind k and reports whether it passes; summary
// is the count of the window that just ended, when it suppressed lines.
func (s *logState) take(k logKey, next slog.Handler) (pass bool, summary *logCount) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.keys[k]
	if !ok {
		if len(s.keys) >= s.cfg.MaxKeys {
			clear(s.keys) // a flood of distinct lines: start counting again
		}
		c = &logCount{start: now}
		s.keys[k] = c
	}
	if now.Sub(c.start) >= s.cfg.Every {
		if c.suppressed > 0 {
			ended := *c
			summary = &ended
		}
		c.start, c.n, c.suppressed = now, 0, 0
	}
	c.next = next
	c.n++
	if c.n > s.cfg.Burst {
		c.suppressed++
		return false, summary
	}
	return true, summary
}

func (s *logState) summary(k logKey, n int) slog.Record {
	r := slog.NewRecord(s.now(), k.level, "suppressed similar log lines", 0)
	r.AddAttrs(slog.String("line", k.msg), slog.Int("suppressed", n))
	if k.source != "" {
		r.AddAttrs(slog.String("source", k.source))
	}
	return r
}

// clip cuts a string value, or an error's text, to MaxValue bytes.
func (s *logState) clip(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	var str string
	switch v.Kind() {
	case slog.KindString:
		str = v.String()
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			str = x.Error()
		case fmt.Stringer:
			str = x.String()
		default:
			return a
		}
	default:
		return a
	}
	if len(str) <= s.cfg.MaxValue {
		return a
	}
	cut := s.cfg.MaxValue
	for cut > 0 && !utf8.RuneStart(str[cut]) {
		cut--
	}
	return slog.String(a.Key, fmt.Sprintf("%s... (%d bytes)", str[:cut], len(str)))
}

// host is the host part of host:port, or s itself.
func host(s string) string {
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return s
}
