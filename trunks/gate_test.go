package trunks_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dialtone/dialtone/trunks"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestGateChannels(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	g := trunks.NewGate(2, 0, c.now)
	r1, err1 := g.Acquire()
	r2, err2 := g.Acquire()
	if err1 != nil || err2 != nil {
		t.Fatalf("Acquire() x2 = %v, %v", err1, err2)
	}
	if _, err := g.Acquire(); !errors.Is(err, trunks.ErrFull) {
		t.Errorf("third Acquire() = %v, want %v", err, trunks.ErrFull)
	}
	r1()
	r1() // a second release is ignored
	if g.Channels() != 1 {
		t.Errorf("Channels() = %d after one release, want 1", g.Channels())
	}
	if _, err := g.Acquire(); err != nil {
		t.Errorf("Acquire() after a release = %v", err)
	}
	r2()
}

func TestGateCPS(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	g := trunks.NewGate(0, 2, c.now)
	got := 0
	for range 5 {
		if _, err := g.Acquire(); err == nil {
			got++
		} else if !errors.Is(err, trunks.ErrTooFast) {
			t.Fatal(err)
		}
	}
	if got != 2 {
		t.Errorf("5 calls in the same instant at 2 cps: %d taken, want 2", got)
	}
	c.add(500 * time.Millisecond)
	if _, err := g.Acquire(); err != nil {
		t.Errorf("after 0.5 s one token is back: %v", err)
	}
	if _, err := g.Acquire(); !errors.Is(err, trunks.ErrTooFast) {
		t.Errorf("but not two: %v", err)
	}
}

func TestGateDown(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	g := trunks.NewGate(0, 0, c.now)
	c.add(time.Minute)
	g.SetUp(false, "OPTIONS: timeout")
	if _, err := g.Acquire(); !errors.Is(err, trunks.ErrDown) {
		t.Errorf("Acquire() on a down carrier = %v, want %v", err, trunks.ErrDown)
	}
	up, reason, since := g.State()
	if up || reason != "OPTIONS: timeout" || !since.Equal(time.Unix(1060, 0)) {
		t.Errorf("State() = %v, %q, %v", up, reason, since)
	}
}

func TestHealth(t *testing.T) {
	h := trunks.Health{DownAfter: 3, UpAfter: 2}
	up := true
	steps := []struct {
		ok   bool
		want bool
	}{{false, true}, {false, true}, {true, true}, {false, true}, {false, true}, {false, false}, {true, false}, {false, false}, {true, false}, {true, true}}
	for i, s := range steps {
		_, up = h.Record(s.ok, up)
		if up != s.want {
			t.Errorf("step %d (ok=%v): up = %v, want %v", i, s.ok, up, s.want)
		}
	}
}

// A rate below one call a second still lets a call through now and then,
// and a clock that steps back does not drain the bucket.
func TestGateSlowRateAndClockSteps(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	g := trunks.NewGate(0, 0.5, c.now)
	if _, err := g.Acquire(); err != nil {
		t.Fatalf("first call at 0.5 cps = %v, want it through", err)
	}
	if _, err := g.Acquire(); !errors.Is(err, trunks.ErrTooFast) {
		t.Errorf("second call at once = %v, want %v", err, trunks.ErrTooFast)
	}
	c.add(-time.Hour)
	c.add(time.Hour + 2*time.Second)
	if _, err := g.Acquire(); err != nil {
		t.Errorf("a call 2 s later at 0.5 cps (after the clock stepped back and forth) = %v", err)
	}
}
