package companion_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/companion"
	"github.com/dialtone/dialtone/storetest"
	"github.com/dialtone/dialtone/switch/guard"
)

// TestLocalBus: every subscriber gets every message, and all of them in
// the same order, even from concurrent publishers.
func TestLocalBus(t *testing.T) {
	b := companion.NewLocalBus()
	var mu sync.Mutex
	got := make([][]string, 3)
	for i := range got {
		b.Subscribe(func(msg []byte) {
			mu.Lock()
			got[i] = append(got[i], string(msg))
			mu.Unlock()
		}, func() { t.Errorf("subscriber %d: resync called on an in-process bus", i) })
	}
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 50 {
				if err := b.Publish(context.Background(), []byte(fmt.Sprintf("%d-%d", p, n))); err != nil {
					t.Errorf("Publish = %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if len(got[0]) != 200 {
		t.Fatalf("subscriber 0 got %d messages, want 200", len(got[0]))
	}
	for i := 1; i < len(got); i++ {
		if !slices.Equal(got[i], got[0]) {
			t.Errorf("subscriber %d got another order than subscriber 0", i)
		}
	}
	// Each publisher's own messages arrive in the order it sent them.
	last := map[string]int{}
	for _, m := range got[0] {
		p, num, _ := strings.Cut(m, "-")
		n, _ := strconv.Atoi(num)
		if prev, ok := last[p]; ok && n != prev+1 {
			t.Errorf("publisher %s: %d after %d", p, n, prev)
		}
		last[p] = n
	}
}

// node is one API server of a test "cluster": its own Server and
// listener over a store and a bus shared with the other nodes.
func nodes(t *testing.T, bus companion.Bus, n int) []*api {
	t.Helper()
	st := storetest.Stores()["sqlite"](t)
	c := &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	var out []*api
	for range n {
		g, err := guard.New(guard.Defaults(), guard.NewMemoryStore(), nil, slog.New(slog.DiscardHandler), c.now)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		cfg := companion.DefaultSettings().Config(nil, dialtone.DefaultLimits())
		cfg.Signup, cfg.Bus = "open", bus
		srv := httptest.NewServer(companion.New(cfg, st, accounts{st}, g, c.now, slog.New(slog.DiscardHandler)).Handler())
		t.Cleanup(srv.Close)
		out = append(out, &api{t: t, url: srv.URL, st: st, clock: c, guard: g})
	}
	return out
}

// TestLiveAcrossNodes: two API nodes on one bus. A message posted on node
// A reaches the sockets on both nodes, each exactly once.
func TestLiveAcrossNodes(t *testing.T) {
	ns := nodes(t, companion.NewLocalBus(), 2)
	a, b := ns[0], ns[1]
	alice, _ := a.quickUser("alice")
	bob, _ := a.quickUser("bob")
	code, conv := a.do("POST", "/api/v1/conversations", alice, map[string]any{"kind": "direct", "members": []string{"bob"}})
	if code != 201 {
		t.Fatalf("create conversation = %d %v", code, conv)
	}
	id := fmt.Sprint(conv["id"])
	onA, onB := a.listen(bob), b.listen(bob)
	aliceOnB := b.listen(alice)
	time.Sleep(50 * time.Millisecond) // registered
	for _, text := range []string{"one", "two"} {
		if code, out := a.do("POST", "/api/v1/conversations/"+id+"/messages", alice, map[string]any{"kind": "text", "body": map[string]string{"text": text}}); code != 201 {
			t.Fatalf("post = %d %v", code, out)
		}
	}
	for name, ws := range map[string]*websocket.Conn{"bob on A": onA, "bob on B": onB, "alice on B": aliceOnB} {
		for _, want := range []string{"one", "two"} { // "two" right after "one": no duplicate in between
			ev := next(t, ws)
			m, _ := ev["message"].(map[string]any)
			if body, _ := m["body"].(map[string]any); ev["type"] != "message" || body["text"] != want {
				t.Errorf("%s got %v, want the message %q", name, ev, want)
			}
		}
	}
}

// resyncBus is an in-process bus that can say it lost messages, as a bus
// over a network does when its connection comes back.
type resyncBus struct {
	*companion.LocalBus
	mu      sync.Mutex
	resyncs []func()
}

func (b *resyncBus) Subscribe(deliver func([]byte), resync func()) {
	b.LocalBus.Subscribe(deliver, resync)
	b.mu.Lock()
	b.resyncs = append(b.resyncs, resync)
	b.mu.Unlock()
}

func (b *resyncBus) lost() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range b.resyncs {
		f()
	}
}

// TestLiveResync: when the bus may have lost events, the live sockets are
// closed with 1012 so that their clients fetch the history; a new socket
// then gets events again. Garbage on the bus is dropped.
func TestLiveResync(t *testing.T) {
	bus := &resyncBus{LocalBus: companion.NewLocalBus()}
	a := nodes(t, bus, 1)[0]
	alice, _ := a.quickUser("alice")
	a.quickUser("bob")
	_, conv := a.do("POST", "/api/v1/conversations", alice, map[string]any{"kind": "direct", "members": []string{"bob"}})
	id := fmt.Sprint(conv["id"])
	ws := a.listen(alice)
	time.Sleep(50 * time.Millisecond)
	for _, junk := range []string{"", "{", `{"accounts":[1]}`, `{"accounts":"x","event":{}}`, `[]`} {
		if err := bus.Publish(context.Background(), []byte(junk)); err != nil {
			t.Fatal(err)
		}
	}
	bus.lost()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := ws.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusServiceRestart {
		t.Fatalf("after a resync, read = %q, %v; want a close with 1012", b, err)
	}
	ws = a.listen(alice)
	time.Sleep(50 * time.Millisecond)
	if code, _ := a.do("POST", "/api/v1/conversations/"+id+"/messages", alice, map[string]any{"kind": "text", "body": map[string]string{"text": "back"}}); code != 201 {
		t.Fatalf("post = %d", code)
	}
	if ev := next(t, ws); ev["type"] != "message" {
		t.Errorf("after reconnecting, got %v, want the message", ev)
	}
}
