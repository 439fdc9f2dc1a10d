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
	bob, _ := a.quickUser("bob")
	_, conv := a.do("POST", "/api/v1/conversations", alice, map[string]any{"kind": "direct", "members": []string{"bob"}})
	id := fmt.Sprint(conv["id"])
	ws := a.listen(alice)
	time.Sleep(50 * time.Millisecond)
	say := func(token, text string) {
		t.Helper()
		if code, _ := a.do("POST", "/api/v1/conversations/"+id+"/messages", token, map[string]any{"kind": "text", "body": map[string]string{"text": text}}); code != 201 {
			t.Fatalf("post %q = %d", text, code)
		}
	}
	say(bob, "seen")
	seen := next(t, ws)["message"].(map[string]any)["id"] // the last message alice saw live
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
	say(bob, "while alice was away") // no socket of alice's hears it
	ws = a.listen(alice)
	time.Sleep(50 * time.Millisecond)
	// Reconnected, alice catches up from the last message she saw.
	code, missed := a.do("GET", fmt.Sprintf("/api/v1/messages?after=%v", seen), alice, nil)
	items, _ := missed["items"].([]any)
	if code != 200 || len(items) != 1 || fmt.Sprint(items[0].(map[string]any)["body"]) != "map[text:while alice was away]" {
		t.Errorf("GET /messages?after=%v = %d %v, want the message posted while her socket was closed", seen, code, missed)
	}
	say(alice, "back")
	if ev := next(t, ws); ev["type"] != "message" {
		t.Errorf("after reconnecting, got %v, want the message", ev)
	}
}

// TestMessagesAfter: GET /messages lists the messages of all the caller's
// conversations after a message id, oldest first, page by page, and none
// of others' conversations.
func TestMessagesAfter(t *testing.T) {
	eachStore(t, "open", func(t *testing.T, a *api) {
		alice, _ := a.quickUser("alice")
		bob, _ := a.quickUser("bob")
		carol, _ := a.quickUser("carol")
		conv := func(owner string, with ...string) string {
			kind := "direct"
			if len(with) > 1 {
				kind = "group"
			}
			code, c := a.do("POST", "/api/v1/conversations", owner, map[string]any{"kind": kind, "members": with})
			if code != 201 {
				t.Fatalf("create conversation = %d %v", code, c)
			}
			return fmt.Sprint(c["id"])
		}
		ab, bc := conv(alice, "bob"), conv(bob, "carol")
		var mine []string // alice's, in order
		for i, to := range []struct{ conv, by string }{{ab, bob}, {bc, carol}, {ab, alice}, {bc, bob}, {ab, bob}} {
			code, m := a.do("POST", "/api/v1/conversations/"+to.conv+"/messages", to.by, map[string]any{"kind": "text", "body": map[string]string{"text": fmt.Sprint(i)}})
			if code != 201 {
				t.Fatalf("post = %d %v", code, m)
			}
			if to.conv == ab {
				mine = append(mine, fmt.Sprint(m["id"]))
			}
		}
		list := func(query string) (int, []string, any) {
			code, out := a.do("GET", "/api/v1/messages"+query, alice, nil)
			var ids []string
			items, _ := out["items"].([]any)
			for _, it := range items {
				ids = append(ids, fmt.Sprint(it.(map[string]any)["id"]))
			}
			return code, ids, out["more"]
		}
		if code, ids, more := list("?limit=2"); code != 200 || fmt.Sprint(ids) != fmt.Sprint(mine[:2]) || more != true {
			t.Errorf("GET /messages?limit=2 = %d %v more %v, want %v more true", code, ids, more, mine[:2])
		}
		if code, ids, more := list("?limit=2&after=" + mine[1]); code != 200 || fmt.Sprint(ids) != fmt.Sprint(mine[2:]) || more != false {
			t.Errorf("GET /messages?after=%s = %d %v more %v, want %v more false", mine[1], code, ids, more, mine[2:])
		}
		if code, ids, _ := list("?after=" + mine[2]); code != 200 || len(ids) != 0 {
			t.Errorf("GET /messages after the newest = %d %v, want none", code, ids)
		}
		for _, q := range []string{"?after=x", "?after=-1", "?limit=0"} {
			if code, _, _ := list(q); code != 400 {
				t.Errorf("GET /messages%s = %d, want 400", q, code)
			}
		}
		if code, _ := a.do("GET", "/api/v1/messages", "", nil); code != 401 {
			t.Errorf("GET /messages without a token = %d, want 401", code)
		}
	})
}
