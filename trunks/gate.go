package trunks

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Reasons a carrier is skipped for a call.
var (
	ErrDown    = errors.New("down")     // health checks failed
	ErrFull    = errors.New("full")     // all its channels are in use
	ErrTooFast = errors.New("over cps") // it took its calls per second already
)

// Gate guards one carrier: its concurrent channels, its calls per second
// (a token bucket refilled continuously, holding one second's calls and at
// least one, so that a rate below one a second still lets calls through)
// and its health. It is safe for concurrent use.
type Gate struct {
	maxChannels int     // 0: unlimited
	maxCPS      float64 // 0: unlimited
	now         func() time.Time

	mu       sync.Mutex
	channels int
	tokens   float64
	last     time.Time
	up       bool
	reason   string // why it is down
	since    time.Time
}

// NewGate returns a gate that starts up.
func NewGate(maxChannels int, maxCPS float64, now func() time.Time) *Gate {
	t := now()
	return &Gate{maxChannels: maxChannels, maxCPS: maxCPS, now: now, tokens: max(maxCPS, 1), last: t, up: true, since: t}
}

// Acquire takes a channel and a call-per-second token, or says why not.
// The release func gives the channel back; call it once.
func (g *Gate) Acquire() (release func(), err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.up {
		return nil, ErrDown
	}
	if g.maxChannels > 0 && g.channels >= g.maxChannels {
		return nil, ErrFull
	}
	if g.maxCPS > 0 {
		if now := g.now(); now.After(g.last) { // a clock that steps back earns nothing
			g.tokens = min(max(g.maxCPS, 1), g.tokens+now.Sub(g.last).Seconds()*g.maxCPS)
			g.last = now
		}
		if g.tokens < 1 {
			return nil, ErrTooFast
		}
		g.tokens--
	}
	g.channels++
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.channels--
			g.mu.Unlock()
		})
	}, nil
}

// Channels counts a carrier's channels in use on every node of a shared
// store: Take calls admit with the scope's channels open on all nodes and
// opens one more when admit returns nil (see limits.Shared.TakeScope).
type Channels interface {
	TakeScope(ctx context.Context, scope string, now time.Time, admit func(open, recent int) error) (release func(), err error)
}

// AcquireShared is Acquire, then, for a carrier with max channels, one of
// its channels counted across the nodes by ch: a carrier with
// max_channels 2 carries 2 calls in total, whichever nodes place them.
// This node's own count stays a bound too. An error of the store refuses
// the carrier for this call.
func (g *Gate) AcquireShared(ctx context.Context, ch Channels, carrier string) (release func(), err error) {
	local, err := g.Acquire()
	if err != nil || ch == nil || g.maxChannels <= 0 {
		return local, err
	}
	shared, err := ch.TakeScope(ctx, "carrier:"+carrier, g.now(), func(open, _ int) error {
		if open >= g.maxChannels {
			return ErrFull
		}
		return nil
	})
	if err != nil {
		local()
		return nil, err
	}
	return func() { shared(); local() }, nil
}

// Channels is the number of channels in use.
func (g *Gate) Channels() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.channels
}

// SetUp records the carrier's health; reason says why it is down.
func (g *Gate) SetUp(up bool, reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if up != g.up {
		g.since = g.now()
	}
	g.up, g.reason = up, reason
	if up {
		g.reason = ""
	}
}

// State reports health: up, why not, and since when.
func (g *Gate) State() (up bool, reason string, since time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.up, g.reason, g.since
}

// Health turns ping results into up and down: a carrier is marked down
// after DownAfter failures in a row and up again after UpAfter successes in
// a row. It is not safe for concurrent use: one goroutine pings a carrier.
type Health struct {
	DownAfter, UpAfter int
	fails, oks         int
}

// Record takes one ping result and returns whether the state changes, and to what.
func (h *Health) Record(ok bool, up bool) (changed, nowUp bool) {
	if ok {
		h.fails = 0
		h.oks++
		if !up && h.oks >= max(1, h.UpAfter) {
			return true, true
		}
		return false, up
	}
	h.oks = 0
	h.fails++
	if up && h.fails >= max(1, h.DownAfter) {
		return true, false
	}
	return false, up
}
