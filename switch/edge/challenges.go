package edge

import (
	"log/slog"
	"strings"
	"sync"
	"time"
)

// A client that cannot answer a digest challenge usually gives up without
// a word to the switch: a softphone that knows only MD5 and reads every
// challenge may refuse one it does not know (baresip 1.0.0 says "Function
// not implemented" and sends nothing). challengeWatch remembers each
// challenge for a while by the request's Call-ID (RFC 3261 section 22.2:
// the retry keeps it); a request with credentials and the same Call-ID
// settles it, and one still waiting after the window is logged once, so
// the operator sees which client went quiet and what it was offered.
//
// Memory is bounded: at most limit challenges are watched at once, and a
// challenge sent while that many wait is not watched. Lines go through
// the log's per-source bound (guard.LogHandler keys on "source").
//
// Concurrency: safe for concurrent use. One timer, re-armed for the oldest
// challenge, does the logging; Close stops it.
type challengeWatch struct {
	wait  time.Duration
	limit int
	log   *slog.Logger

	mu      sync.Mutex
	pending map[string]*challengeSent // by Call-ID
	queue   []*challengeSent          // in the order sent, so by deadline
	timer   *time.Timer
	closed  bool
}

// challengeSent is one challenge that waits for its answer.
type challengeSent struct {
	callID    string
	method    string
	source    string
	transport string
	userAgent string
	offered   string // the algorithms, in the order offered
	deadline  time.Time
	answered  bool
}

// Defaults of the watch: a client answers a challenge within a round
// trip, so a few seconds are plenty.
const (
	challengeWait  = 5 * time.Second
	challengeLimit = 4096

	// What one watched challenge keeps of what the peer sent.
	maxWatchedCallID    = 256
	maxWatchedUserAgent = 128
)

func newChallengeWatch(wait time.Duration, limit int, log *slog.Logger) *challengeWatch {
	return &challengeWatch{wait: wait, limit: limit, log: log, pending: map[string]*challengeSent{}}
}

// sent records a challenge; a second one for the same Call-ID (a stale
// nonce, a retransmission) keeps the first.
func (w *challengeWatch) sent(c challengeSent, now time.Time) {
	if c.callID == "" || len(c.callID) > maxWatchedCallID {
		return
	}
	if len(c.userAgent) > maxWatchedUserAgent {
		c.userAgent = c.userAgent[:maxWatchedUserAgent]
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || len(w.pending) >= w.limit {
		return
	}
	if _, ok := w.pending[c.callID]; ok {
		return
	}
	c.deadline = now.Add(w.wait)
	p := &c
	w.pending[c.callID] = p
	w.queue = append(w.queue, p)
	if w.timer == nil && w.log != nil {
		w.timer = time.AfterFunc(w.wait, w.fire)
	}
}

// answered settles the challenge of callID: a request with credentials came.
func (w *challengeWatch) answered(callID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p, ok := w.pending[callID]; ok {
		p.answered = true
		delete(w.pending, callID)
	}
}

// expire removes and returns the challenges whose window ended by now
// unanswered, oldest first.
func (w *challengeWatch) expire(now time.Time) []challengeSent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.expireLocked(now)
}

func (w *challengeWatch) expireLocked(now time.Time) []challengeSent {
	var out []challengeSent
	i := 0
	for ; i < len(w.queue) && !w.queue[i].deadline.After(now); i++ {
		p := w.queue[i]
		if !p.answered {
			delete(w.pending, p.callID)
			out = append(out, *p)
		}
		w.queue[i] = nil
	}
	w.queue = w.queue[i:]
	// Answered ones at the head are dropped too, so the queue is never
	// longer than what is pending plus what was answered within the window.
	for len(w.queue) > 0 && w.queue[0].answered {
		w.queue[0] = nil
		w.queue = w.queue[1:]
	}
	return out
}

// fire logs what expired and re-arms the timer for the next deadline.
func (w *challengeWatch) fire() {
	now := time.Now()
	w.mu.Lock()
	out := w.expireLocked(now)
	w.timer = nil
	closed := w.closed
	if len(w.queue) > 0 && !closed {
		w.timer = time.AfterFunc(max(w.queue[0].deadline.Sub(now), time.Millisecond), w.fire)
	}
	w.mu.Unlock()
	if closed {
		return
	}
	for _, c := range out {
		w.log.Info("digest challenge not answered: the client sent no request with credentials for it; does it support the algorithms offered (sip.auth_algorithms)?",
			"method", c.method, "source", c.source, "transport", c.transport, "call_id", c.callID,
			"user_agent", c.userAgent, "offered", c.offered, "waited", w.wait)
	}
}

// Close stops the timer; nothing is logged after it.
func (w *challengeWatch) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}

// offeredAlgorithms reads the algorithm of each challenge header value.
func offeredAlgorithms(challenges []string) string {
	var algs []string
	for _, c := range challenges {
		for _, part := range strings.Split(c, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "algorithm") {
				algs = append(algs, strings.Trim(strings.TrimSpace(v), `"`))
			}
		}
	}
	return strings.Join(algs, ",")
}
