package edge

import (
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// conns watches the TCP, TLS and WebSocket connections the edge accepts
// and closes the ones nobody uses, so that a peer cannot hold sockets
// (and the goroutines sipgo reads them with) by opening connections and
// saying nothing:
//
//   - A connection must carry its first SIP request within the handshake
//     time of being accepted: the TLS handshake, the WebSocket upgrade and
//     the first message all fit in it. CRLF keep-alives are not requests.
//   - After that it is closed once the idle time has passed since its last
//     SIP request and since the end of the last registration made over it
//     (a browser or phone keeps its registered socket open without saying
//     anything but keep-alives, and is never closed while registered).
//   - A connection over which an authenticated INVITE came is kept for as
//     long as that call can last (callHold: ring time plus the longest
//     call billing allows; forever when zero), plus the idle time: a call
//     sends no SIP for as long as it lasts, and its BYE has to go back over
//     that connection.
//
// TCP keep-alives find a peer that went away, and the guard's cap on
// connections per source bounds how many one address keeps.
//
// Connections are found by transport and remote address, which is what
// sipgo writes in a request's Source. Safe for concurrent use.
type conns struct {
	handshake, idle, callHold time.Duration
	now                       func() time.Time
	log                       *slog.Logger

	mu   sync.Mutex
	open map[connKey]*watched
}

type connKey struct {
	transport string // lower case: tcp, tls, ws, wss
	remote    string // IP:port
}

func newConns(handshake, idle, callHold time.Duration, now func() time.Time, log *slog.Logger) *conns {
	if now == nil {
		now = time.Now
	}
	return &conns{handshake: handshake, idle: idle, callHold: callHold, now: now, log: log, open: map[connKey]*watched{}}
}

// watched is one accepted connection. Its fields after conn are guarded
// by conns.mu.
type watched struct {
	net.Conn
	cs  *conns
	key connKey

	heard      time.Time // last SIP request; zero: none yet
	registered time.Time // end of the last registration made over it
	called     time.Time // last authenticated INVITE; zero: none
	timer      *time.Timer
	closed     bool
}

// listener wraps l so that each connection it accepts is watched.
func (cs *conns) listener(l net.Listener, transport string) net.Listener {
	return &watchListener{Listener: l, cs: cs, transport: transport}
}

type watchListener struct {
	net.Listener
	cs        *conns
	transport string
}

func (l *watchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.cs.watch(c, l.transport), nil
}

func (cs *conns) watch(c net.Conn, transport string) *watched {
	w := &watched{Conn: c, cs: cs, key: connKey{transport: transport, remote: c.RemoteAddr().String()}}
	cs.mu.Lock()
	cs.open[w.key] = w
	w.timer = time.AfterFunc(cs.handshake, func() { cs.check(w) })
	cs.mu.Unlock()
	return w
}

// check runs when w's timer fires: it closes w if it is idle, or sets the
// timer for when it may be.
func (cs *conns) check(w *watched) {
	now := cs.now()
	cs.mu.Lock()
	if w.closed || (!w.called.IsZero() && cs.callHold == 0) {
		cs.mu.Unlock()
		return
	}
	why := ""
	if w.heard.IsZero() {
		why = "no SIP request within the handshake time"
	} else if until := maxTime(maxTime(w.heard, w.registered), w.callEnd(cs.callHold)).Add(cs.idle); now.Before(until) {
		w.timer.Reset(until.Sub(now))
	} else {
		why = "idle"
	}
	cs.mu.Unlock()
	if why != "" {
		cs.log.Debug("connection closed", "why", why, "transport", w.key.transport, "source", w.key.remote)
		w.Close()
	}
}

// Close stops watching the connection and closes it.
func (w *watched) Close() error {
	cs := w.cs
	cs.mu.Lock()
	if !w.closed {
		w.closed = true
		w.timer.Stop()
		if cs.open[w.key] == w {
			delete(cs.open, w.key)
		}
	}
	cs.mu.Unlock()
	return w.Conn.Close()
}

// find returns the open connection a request came over; nil for UDP and
// for one already closed.
func (cs *conns) findLocked(transport, source string) *watched {
	return cs.open[connKey{transport: strings.ToLower(transport), remote: source}]
}

// heard notes a SIP request over a connection.
func (cs *conns) heard(transport, source string) {
	now := cs.now()
	cs.mu.Lock()
	if w := cs.findLocked(transport, source); w != nil {
		w.heard = now
	}
	cs.mu.Unlock()
}

// registeredUntil notes that the registrations made over a connection
// end at until (zero: none is left).
func (cs *conns) registeredUntil(transport, source string, until time.Time) {
	cs.mu.Lock()
	if w := cs.findLocked(transport, source); w != nil {
		w.registered = until
	}
	cs.mu.Unlock()
}

// called keeps a connection that carried an authenticated INVITE open
// for as long as the call can last.
func (cs *conns) called(transport, source string) {
	now := cs.now()
	cs.mu.Lock()
	if w := cs.findLocked(transport, source); w != nil {
		w.called = now
	}
	cs.mu.Unlock()
}

// callEnd is the latest a call made over w can end; zero when none was.
func (w *watched) callEnd(hold time.Duration) time.Time {
	if w.called.IsZero() {
		return time.Time{}
	}
	return w.called.Add(hold)
}

// count is how many connections are watched.
func (cs *conns) count() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.open)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
