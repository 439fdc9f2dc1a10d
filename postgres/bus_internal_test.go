package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"
)

// NewBusIdle is NewBus with another silence before a ping.
func NewBusIdle(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, idle time.Duration) (*Bus, error) {
	return newBus(ctx, pool, log, idle)
}

// ListenPID is the backend process id of the bus's listening connection,
// 0 while there is none.
func (b *Bus) ListenPID() uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn == nil {
		return 0
	}
	return b.conn.PgConn().PID()
}

// TestJoiner: chunks join in any order; hostile payloads are errors, never
// a panic, and what is pending stays bounded.
func TestJoiner(t *testing.T) {
	var j joiner
	msg := strings.Repeat("né€", 5000) // multi-byte runes across chunk edges
	chunks := split([]byte(msg), maxPayload)
	if len(chunks) < 3 {
		t.Fatalf("split = %d chunks, want several", len(chunks))
	}
	for i, c := range chunks {
		if len(c) > maxPayload || !utf8.ValidString(c) {
			t.Errorf("chunk %d: %d bytes, valid UTF-8 %v", i, len(c), utf8.ValidString(c))
		}
	}
	order := []int{2, 0}
	for i := 3; i < len(chunks); i++ {
		order = append(order, i)
	}
	order = append(order, 1)
	for k, i := range order {
		got, err := j.add(fmt.Sprintf("ab.7.%d.%d|%s", i, len(chunks), chunks[i]))
		if err != nil {
			t.Fatalf("add chunk %d = %v", i, err)
		}
		if last := k == len(order)-1; last != (got != nil) || last && string(got) != msg {
			t.Fatalf("after chunk %d (%d of %d): got %d bytes", i, k+1, len(order), len(got))
		}
	}
	for _, bad := range []string{"", "nobar", "x|y", "a.b|c", "a.1.0.1|x", "a.1.2.2|x", "a.1.-1.2|x", "a.1.0.99999|x",
		"a.1.x.2|x", "a.1.0.2|" + strings.Repeat("x", maxPayload+1)} {
		if _, err := j.add(bad); err == nil {
			t.Errorf("add(%.30q) = nil error", bad)
		}
	}
	for n := range 1000 {
		if _, err := j.add(fmt.Sprintf("z.%d.0.2|x", n)); err != nil {
			t.Fatal(err)
		}
	}
	if len(j.pending) > maxPending {
		t.Errorf("%d messages pending, want at most %d", len(j.pending), maxPending)
	}
	if _, err := j.add("z.999.0.3|x"); err == nil {
		t.Errorf("a chunk count that changes mid-message was accepted")
	}
}
