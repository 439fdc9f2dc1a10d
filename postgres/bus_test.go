package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone/postgres"
	"github.com/dialtone/dialtone/storetest"
)

// node is one switch node's bus: its own pool and listening connection.
type node struct {
	bus     *postgres.Bus
	db      *postgres.DB
	got     chan string
	resyncs chan struct{}
}

func startNode(t *testing.T, url string) *node {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	// Pinged after 50 ms of silence: the pings run between notifications.
	bus, err := postgres.NewBusIdle(ctx, db.Pool(), slog.New(slog.DiscardHandler), 50*time.Millisecond)
	if err != nil {
		t.Fatalf("NewBus = %v", err)
	}
	t.Cleanup(bus.Close)
	n := &node{bus: bus, db: db, got: make(chan string, 100), resyncs: make(chan struct{}, 10)}
	bus.Subscribe(func(msg []byte) { n.got <- string(msg) }, func() { n.resyncs <- struct{}{} })
	return n
}

// next is the next message the node delivers.
func (n *node) next(t *testing.T) string {
	t.Helper()
	select {
	case m := <-n.got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
		return ""
	}
}

func (n *node) publish(t *testing.T, msg string) {
	t.Helper()
	if err := n.bus.Publish(context.Background(), []byte(msg)); err != nil {
		t.Fatalf("Publish(%.20q) = %v", msg, err)
	}
}

// TestBus: two nodes on one database. What one publishes reaches both,
// once each and in order, large messages too; another schema hears
// nothing; a node whose listening connection is killed listens again,
// says it may have missed messages, and receives again.
func TestBus(t *testing.T) {
	url := storetest.PostgresURL(t)
	a, b := startNode(t, url), startNode(t, url)
	big := strings.Repeat("né€ ", 6000) // over 8000 bytes: sent in chunks
	msgs := []string{"one", big, "two"}
	for i := range 10 {
		msgs = append(msgs, fmt.Sprintf("n%d", i))
	}
	for _, m := range msgs {
		a.publish(t, m)
	}
	b.publish(t, "from b")
	for name, n := range map[string]*node{"a": a, "b": b} {
		for _, want := range append(msgs, "from b") { // "from b" right after: nothing twice
			if got := n.next(t); got != want {
				t.Fatalf("node %s got %.30q (%d bytes), want %.30q (%d bytes)", name, got, len(got), want, len(want))
			}
		}
	}

	// Silent for several pings, the connections stay up and deliver.
	time.Sleep(300 * time.Millisecond)
	b.publish(t, "after the silence")
	for name, n := range map[string]*node{"a": a, "b": b} {
		if got := n.next(t); got != "after the silence" {
			t.Fatalf("node %s got %q after the silence", name, got)
		}
		if len(n.resyncs) != 0 {
			t.Fatalf("node %s lost its connection while silent", name)
		}
	}

	// Another schema of the same database is another channel.
	other := startNode(t, storetest.PostgresURL(t))
	a.publish(t, "not for other")
	other.publish(t, "other's own")
	if got := other.next(t); got != "other's own" {
		t.Errorf("a node of another schema got %q", got)
	}

	for _, bad := range [][]byte{[]byte("nul\x00"), {0xff, 0xfe}, make([]byte, postgres.MaxBusMessage+1)} {
		if err := a.bus.Publish(context.Background(), bad); !errors.Is(err, postgres.ErrBusMessage) {
			t.Errorf("Publish(%d bytes of bad text) = %v, want ErrBusMessage", len(bad), err)
		}
	}

	// Kill b's listening connection from a's pool.
	pid := b.bus.ListenPID()
	var killed bool
	if err := a.db.Pool().QueryRow(context.Background(), `SELECT pg_terminate_backend($1)`, int32(pid)).Scan(&killed); err != nil || !killed {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, killed, err)
	}
	select {
	case <-b.resyncs:
	case <-time.After(20 * time.Second):
		t.Fatal("b did not listen again within 20s")
	}
	if again := b.bus.ListenPID(); again == 0 || again == pid {
		t.Errorf("b listens on backend %d after %d was killed", again, pid)
	}
	// Drain what a received meanwhile ("not for other").
	if got := a.next(t); got != "not for other" {
		t.Fatalf("a got %q", got)
	}
	for len(b.got) > 0 {
		<-b.got // may or may not have got it before the kill
	}
	a.publish(t, "after the kill")
	b.publish(t, "b again")
	for name, n := range map[string]*node{"a": a, "b": b} {
		for _, want := range []string{"after the kill", "b again"} {
			if got := n.next(t); got != want {
				t.Errorf("node %s got %q, want %q", name, got, want)
			}
		}
	}
	if len(a.resyncs) != 0 {
		t.Errorf("a was told to resync without losing its connection")
	}
}
