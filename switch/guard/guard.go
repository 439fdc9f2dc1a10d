// Package guard protects the SIP front door (and, through the same
// methods, any other sign-in) from password guessing, user enumeration
// and floods. It owns the rules: authentication failures counted per
// source address and per username, bans that grow on each repeat, a
// token bucket of requests per source, the allow-list that none of this
// applies to, and the bans' persistence through a Store.
//
// It is pure logic over an injected clock; conn.go adapts it to the
// sockets sipgo reads (a net.PacketConn that drops a refused source's
// datagrams before they are parsed, a net.Listener that refuses a banned
// source's connections), and log.go bounds what an attacker can make the
// log say.
//
// Concurrency: a Guard is safe for concurrent use. One mutex guards its
// maps and is held only for map work, never for I/O. Store reads and
// writes run on one goroutine the Guard owns, in order; Close stops it and
// waits for it.
package guard

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/dialtone/dialtone"
)

// Guard counts failures and requests per source and username and decides
// who is refused.
type Guard struct {
	cfg     Config
	now     func() time.Time
	store   Store
	feed    dialtone.BanFeed // nil: the store is this node's only
	mark    time.Time        // the feed was read up to here (the run goroutine's)
	metrics *Metrics
	log     *slog.Logger

	mu      sync.Mutex
	allow   []netip.Prefix
	sources map[netip.Addr]*source
	users   map[string]*user
	bans    map[netip.Addr]Ban // active and recently ended, for escalation
	conns   map[netip.Addr]int // open stream connections by source

	writes chan write
	done   chan struct{}
	closed sync.Once
	wg     sync.WaitGroup
}

// source is what the guard knows of one address.
type source struct {
	tokens   *rate.Limiter
	failures window
	stale    window
	excess   window // requests over the rate
	seen     time.Time
}

// user is what the guard knows of one username.
type user struct {
	failures window
	attacked time.Time     // under attack until
	tokens   *rate.Limiter // attempts let through while under attack
	seen     time.Time
}

// window counts events in a fixed window that starts at the first event.
type window struct {
	start time.Time
	n     int
}

func (w *window) add(now time.Time, span time.Duration) int {
	if now.Sub(w.start) >= span {
		w.start, w.n = now, 0
	}
	w.n++
	return w.n
}

type write struct {
	ban    Ban
	delete bool
	lift   bool      // an unban, recorded for the other nodes to read
	at     time.Time // of the lift
}

// sweepEvery is how often idle entries are forgotten and the store's bans
// read again (bans other nodes made).
const sweepEvery = time.Minute

// pollEvery is how often a store shared by nodes is asked for the bans
// and unbans made since the last poll; pollOverlap is read again each
// time, so that a change committed late or stamped by a clock a little
// behind is not missed (reading a change twice changes nothing).
const (
	pollEvery   = 2 * time.Second
	pollOverlap = 10 * time.Second
)

// storeTimeout bounds one call to the store.
const storeTimeout = 5 * time.Second

// New returns a guard that starts with the bans st keeps. cfg must have
// passed Validate. A nil now is time.Now; a nil m counts nothing.
func New(cfg Config, st Store, m *Metrics, log *slog.Logger, now func() time.Time) (*Guard, error) {
	allow, err := dialtone.ParsePrefixes(cfg.Allow)
	if err != nil {
		return nil, fmt.Errorf("guard.allow: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	g := &Guard{cfg: cfg, now: now, store: st, metrics: m, log: log, allow: allow,
		sources: map[netip.Addr]*source{}, users: map[string]*user{}, bans: map[netip.Addr]Ban{},
		conns:  map[netip.Addr]int{},
		writes: make(chan write, 1024), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	bans, err := st.Bans(ctx)
	if err != nil {
		return nil, fmt.Errorf("load bans: %w", err)
	}
	g.merge(bans)
	if f, ok := st.(dialtone.BanFeed); ok {
		g.feed, g.mark = f, now()
	}
	m.watch(g)
	g.wg.Add(1)
	go g.run()
	return g, nil
}

// Close stops the store goroutine after it has written what is queued.
// Closing twice is harmless.
func (g *Guard) Close() error {
	g.closed.Do(func() { close(g.done) })
	g.wg.Wait()
	return nil
}

// SetAllow makes the allow-list the configured one plus extra (the
// trunks' addresses).
func (g *Guard) SetAllow(extra []netip.Prefix) {
	allow, _ := dialtone.ParsePrefixes(g.cfg.Allow) // checked by New
	allow = append(allow, extra...)
	g.mu.Lock()
	g.allow = allow
	g.mu.Unlock()
}

func (g *Guard) allowedLocked(a netip.Addr) bool {
	for _, p := range g.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Admit takes one request (one datagram on UDP) from src off its token
// bucket. It reports false for a banned source and for one over the rate;
// a source that stays over the rate is banned.
func (g *Guard) Admit(src netip.Addr, transport string) bool {
	src = src.Unmap()
	now := g.now()
	g.mu.Lock()
	if g.allowedLocked(src) {
		g.mu.Unlock()
		return true
	}
	if b, ok := g.bans[src]; ok && b.Active(now) {
		g.mu.Unlock()
		g.metrics.drop(transport, "banned")
		return false
	}
	s := g.sourceLocked(src, now)
	if s.tokens.AllowN(now, 1) {
		g.mu.Unlock()
		return true
	}
	var ban Ban
	if n := s.excess.add(now, g.cfg.Window); n >= g.cfg.FloodBan {
		ban = g.banLocked(src, ReasonFlood, n, now)
	}
	g.mu.Unlock()
	g.metrics.drop(transport, "throttled")
	g.banned(ban)
	return false
}

// Banned reports whether src is banned now.
func (g *Guard) Banned(src netip.Addr) bool {
	src = src.Unmap()
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	b, ok := g.bans[src]
	return ok && b.Active(now) && !g.allowedLocked(src)
}

// AuthFailed counts a failed authentication from src (a wrong password, an
// unknown user, a forged nonce) for username, which is empty when the
// failure came before a username was read. transport labels the metric:
// udp, tcp, tls, ws, wss, or api for the companion API's sign-in.
func (g *Guard) AuthFailed(src netip.Addr, username, transport string) {
	g.metrics.failure(transport)
	src = src.Unmap()
	now := g.now()
	g.mu.Lock()
	if username != "" {
		u := g.userLocked(username, now)
		if u.failures.add(now, g.cfg.Window) >= g.cfg.UserFailures {
			if !now.Before(u.attacked) { // a new attack: a fresh bucket
				u.tokens = rate.NewLimiter(rate.Limit(g.cfg.UserRate), 1)
			}
			u.attacked = now.Add(g.cfg.UserSlow)
		}
	}
	var ban Ban
	if !g.allowedLocked(src) && !g.bans[src].Active(now) {
		s := g.sourceLocked(src, now)
		if n := s.failures.add(now, g.cfg.Window); n >= g.cfg.Failures {
			ban = g.banLocked(src, ReasonAuth, n, now)
		}
	}
	g.mu.Unlock()
	g.banned(ban)
}

// StaleNonce counts an answer to an expired nonce from src: the first
// StaleNonces within the window are a client's normal retry, each one
// past them is a failure.
func (g *Guard) StaleNonce(src netip.Addr, transport string) {
	src = src.Unmap()
	now := g.now()
	g.mu.Lock()
	n := g.sourceLocked(src, now).stale.add(now, g.cfg.Window)
	g.mu.Unlock()
	if n > g.cfg.StaleNonces {
		g.AuthFailed(src, "", transport)
	}
}

// UserAllowed reports whether an attempt to authenticate as username may
// be checked now. It is false only while the username is under attack
// and its attempts are over UserRate; the caller refuses such an attempt
// as it refuses a wrong password, without counting it as a failure.
func (g *Guard) UserAllowed(username string) bool {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	u, ok := g.users[username]
	if !ok || !now.Before(u.attacked) {
		return true
	}
	return u.tokens.AllowN(now, 1)
}

// Bans returns the bans in force, oldest first.
func (g *Guard) Bans() []Ban {
	now := g.now()
	g.mu.Lock()
	out := make([]Ban, 0, len(g.bans))
	for _, b := range g.bans {
		if b.Active(now) {
			out = append(out, b)
		}
	}
	g.mu.Unlock()
	slices.SortFunc(out, func(a, b Ban) int { return a.Since.Compare(b.Since) })
	return out
}

// Unban lifts src's ban and forgets its history and counts. It reports
// whether a ban was in force.
func (g *Guard) Unban(src netip.Addr) bool {
	src = src.Unmap()
	now := g.now()
	g.mu.Lock()
	b, ok := g.bans[src]
	delete(g.bans, src)
	delete(g.sources, src)
	g.mu.Unlock()
	if ok {
		g.enqueue(write{ban: b, delete: g.feed == nil, lift: g.feed != nil, at: now})
		g.log.Info("source unbanned", "source", src, "reason", b.Reason)
	}
	return ok && b.Active(now)
}

// sourceLocked returns src's entry, making one; past MaxSources an
// arbitrary entry is forgotten first.
func (g *Guard) sourceLocked(src netip.Addr, now time.Time) *source {
	s, ok := g.sources[src]
	if !ok {
		evictOne(g.sources, g.cfg.MaxSources)
		s = &source{tokens: rate.NewLimiter(rate.Limit(g.cfg.Rate), g.cfg.Burst)}
		g.sources[src] = s
	}
	s.seen = now
	return s
}

func (g *Guard) userLocked(name string, now time.Time) *user {
	u, ok := g.users[name]
	if !ok {
		evictOne(g.users, g.cfg.MaxSources)
		u = &user{}
		g.users[name] = u
	}
	u.seen = now
	return u
}

// evictOne forgets an arbitrary entry of m when it holds max or more, so
// that a new one keeps it within max.
func evictOne[K comparable, V any](m map[K]V, max int) {
	if len(m) < max {
		return
	}
	for k := range m {
		delete(m, k)
		return
	}
}

// banLocked bans src for BanTime, doubled for each ban it had before
// (while the last one is remembered), up to MaxBanTime.
func (g *Guard) banLocked(src netip.Addr, reason Reason, n int, now time.Time) Ban {
	count := 1
	if prev, ok := g.bans[src]; ok {
		count = prev.Count + 1
	}
	d := g.cfg.BanTime
	for i := 1; i < count && d < g.cfg.MaxBanTime; i++ {
		d *= 2
	}
	b := Ban{Addr: src, Reason: reason, Since: now, Until: now.Add(min(d, g.cfg.MaxBanTime)), Failures: n, Count: count}
	if _, ok := g.bans[src]; !ok && len(g.bans) >= g.cfg.MaxSources {
		g.evictBanLocked()
	}
	g.bans[src] = b
	if s, ok := g.sources[src]; ok { // counting starts again when the ban ends
		s.failures, s.stale, s.excess = window{}, window{}, window{}
	}
	return b
}

// evictBanLocked forgets the ban that ends first.
func (g *Guard) evictBanLocked() {
	var first netip.Addr
	var until time.Time
	for a, b := range g.bans {
		if !first.IsValid() || b.Until.Before(until) {
			first, until = a, b.Until
		}
	}
	delete(g.bans, first)
}

// banned logs, counts and saves a ban just made; a zero b is no ban.
func (g *Guard) banned(b Ban) {
	if !b.Addr.IsValid() {
		return
	}
	g.metrics.banned(b.Reason)
	g.log.Warn("source banned", "source", b.Addr, "reason", b.Reason, "failures", b.Failures, "until", b.Until, "count", b.Count)
	g.enqueue(write{ban: b})
}

func (g *Guard) enqueue(w write) {
	select {
	case g.writes <- w:
	default:
		g.log.Warn("ban store queue full: ban not saved", "source", w.ban.Addr)
	}
}

// Sweep forgets sources and usernames idle for a window, and bans ended
// longer ago than the longest ban (their escalation is over).
func (g *Guard) Sweep() {
	now := g.now()
	var ended []Ban
	g.mu.Lock()
	for a, s := range g.sources {
		if now.Sub(s.seen) >= g.cfg.Window {
			delete(g.sources, a)
		}
	}
	for name, u := range g.users {
		if now.Sub(u.seen) >= g.cfg.Window && !now.Before(u.attacked) {
			delete(g.users, name)
		}
	}
	for a, b := range g.bans {
		if now.Sub(b.Until) >= g.cfg.MaxBanTime {
			delete(g.bans, a)
			ended = append(ended, b)
		}
	}
	g.mu.Unlock()
	for _, b := range ended {
		g.enqueue(write{ban: b, delete: true})
	}
}

// merge adds bans read from the store that are newer than the ones held.
func (g *Guard) merge(bans []Ban) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, b := range bans {
		if now.Sub(b.Until) >= g.cfg.MaxBanTime {
			continue
		}
		if cur, ok := g.bans[b.Addr]; !ok || b.Until.After(cur.Until) {
			g.bans[b.Addr] = b
		}
	}
}

// run writes to the store in order, and sweeps and re-reads it each
// sweepEvery, and reads the other nodes' changes each pollEvery, until
// Close.
func (g *Guard) run() {
	defer g.wg.Done()
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	var poll <-chan time.Time
	if g.feed != nil {
		p := time.NewTicker(pollEvery)
		defer p.Stop()
		poll = p.C
	}
	for {
		select {
		case w := <-g.writes:
			g.write(w)
		case <-poll:
			g.flush() // this node's own changes first: a poll must not undo them
			g.poll()
		case <-t.C:
			g.Sweep()
			g.reload()
		case <-g.done:
			for {
				select {
				case w := <-g.writes:
					g.write(w)
				default:
					return
				}
			}
		}
	}
}

func (g *Guard) write(w write) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	var err error
	switch {
	case w.lift:
		err = g.feed.LiftBan(ctx, w.ban.Addr, w.at)
	case w.delete:
		err = g.store.DeleteBan(ctx, w.ban.Addr)
	default:
		err = g.store.SaveBan(ctx, w.ban)
	}
	if err != nil {
		g.log.Error("ban store write", "source", w.ban.Addr, "delete", w.delete, "error", err)
	}
}

// flush writes what is queued.
func (g *Guard) flush() {
	for {
		select {
		case w := <-g.writes:
			g.write(w)
		default:
			return
		}
	}
}

// poll applies the bans and unbans written since the last poll (this
// node's own included, which changes nothing).
func (g *Guard) poll() {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	changes, err := g.feed.BanChanges(ctx, g.mark.Add(-pollOverlap))
	if err != nil {
		g.log.Error("ban store read", "error", err)
		return
	}
	var bans []Ban
	for _, c := range changes {
		if c.At.After(g.mark) {
			g.mark = c.At
		}
		if !c.Lifted {
			bans = append(bans, c.Ban)
			continue
		}
		g.mu.Lock()
		b, ok := g.bans[c.Addr]
		lift := ok && !b.Since.After(c.At) // a ban made after the unban stays
		if lift {
			delete(g.bans, c.Addr)
			delete(g.sources, c.Addr)
		}
		g.mu.Unlock()
		if lift {
			g.log.Info("source unbanned on another node", "source", c.Addr, "reason", b.Reason)
		}
	}
	g.merge(bans)
}

func (g *Guard) reload() {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	bans, err := g.store.Bans(ctx)
	if err != nil {
		g.log.Error("ban store read", "error", err)
		return
	}
	g.merge(bans)
}
