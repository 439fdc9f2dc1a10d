package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dialtone/dialtone"
)

// LeaseStore is what the lease loop needs from storage (see
// dialtone.LeaseStore).
type LeaseStore interface {
	Heartbeat(ctx context.Context, node string) (dialtone.Lease, error)
	DropLease(ctx context.Context, node string) error
	LapsedLeases(ctx context.Context, except string, lapse time.Duration) ([]dialtone.Lease, error)
	ClaimSessions(ctx context.Context, dead, by string, lapse time.Duration) ([]*dialtone.CallSession, error)
}

// settleTimeout bounds a sweep's claim and the settling of what it
// claimed, and the giving up of this node's calls others took over.
const settleTimeout = 30 * time.Second

// LeaseConfig tunes a node's lease.
type LeaseConfig struct {
	Heartbeat time.Duration // how often the node renews its lease and looks for lapsed ones
	Lapse     time.Duration // a lease not renewed for this long is a dead node's
}

// Leases keeps this node's lease in the store and settles the calls of
// nodes whose lease lapsed. Start runs two loops, one goroutine each, which
// Close stops and waits for: the heartbeats, and the sweeps, so that a slow
// sweep never delays a heartbeat.
//
// Each heartbeat renews the lease at the database's time; then the node
// claims the calls of every node whose lease lapsed (the store hands each
// call to one claimer) and settles them, charged up to the dead node's last
// heartbeat. A node that finds, at a heartbeat, that others claimed its
// calls (it was taken for dead: a long pause, a partition from the
// database) hangs those calls up at once (Call.OnTakenOver), stops billing
// them and does not settle them again.
type Leases struct {
	cfg   LeaseConfig
	store LeaseStore
	ctl   *Controller
	log   *slog.Logger

	beatMu  sync.Mutex // one heartbeat at a time; guards claims
	claims  int64      // the lease's claims count last seen
	sweepMu sync.Mutex // one sweep at a time; guards retry
	retry   bool       // a claimed call was left unsettled: settle it at the next sweep
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// NewLeases returns the lease keeper of ctl's node.
func NewLeases(cfg LeaseConfig, store LeaseStore, ctl *Controller, log *slog.Logger) (*Leases, error) {
	if cfg.Heartbeat <= 0 || cfg.Lapse <= cfg.Heartbeat {
		return nil, fmt.Errorf("leases: %w: heartbeat %v must be positive and below the lapse %v", dialtone.ErrInvalid, cfg.Heartbeat, cfg.Lapse)
	}
	return &Leases{cfg: cfg, store: store, ctl: ctl, log: log.With("node", ctl.cfg.Node)}, nil
}

// Start renews the lease, so that no other node claims this node's calls
// from now on, and runs the loop until Close. It returns the lease: its
// Previous is the last heartbeat of this node's previous run, up to which
// Controller.Recover charges the calls that run left open.
func (l *Leases) Start(ctx context.Context) (dialtone.Lease, error) {
	lease, err := l.store.Heartbeat(ctx, l.ctl.cfg.Node)
	if err != nil {
		return lease, fmt.Errorf("start lease: %w", err)
	}
	l.beatMu.Lock()
	l.claims = lease.Claims
	l.beatMu.Unlock()
	loop, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	for _, round := range []func(context.Context){l.beat, l.sweep} {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.every(loop, round)
		}()
	}
	return lease, nil
}

// Close stops the loop and, when drop is set (a clean shutdown, after the
// node's calls were all finished), drops the lease so that other nodes
// settle at once anything left.
func (l *Leases) Close(ctx context.Context, drop bool) error {
	if l.cancel != nil {
		l.cancel()
		l.wg.Wait()
	}
	if !drop {
		return nil
	}
	return l.store.DropLease(ctx, l.ctl.cfg.Node)
}

// every runs round each heartbeat period until ctx ends.
func (l *Leases) every(ctx context.Context, round func(context.Context)) {
	t := time.NewTicker(l.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		round(ctx)
	}
}

// Tick runs one round of each loop now: a heartbeat, then a sweep of the
// lapsed leases. It waits for rounds under way.
func (l *Leases) Tick(ctx context.Context) {
	l.beat(ctx)
	l.sweep(ctx)
}

// beat renews the lease and, when other nodes claimed this node's calls
// since the last beat, gives up the calls they took.
func (l *Leases) beat(ctx context.Context) {
	l.beatMu.Lock()
	defer l.beatMu.Unlock()
	hctx, cancel := context.WithTimeout(ctx, l.cfg.Heartbeat)
	defer cancel()
	lease, err := l.store.Heartbeat(hctx, l.ctl.cfg.Node)
	if err != nil {
		if ctx.Err() == nil { // not Close stopping the loop
			l.ctl.cfg.Metrics.heartbeatFailed()
			l.log.Warn("lease not renewed: past billing.lease_lapse other nodes settle this node's calls", "error", err)
		}
		return
	}
	if lease.Claims == l.claims {
		return
	}
	l.claims = lease.Claims
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	n, err := l.ctl.Lost(lctx)
	l.log.Error("this node's lease lapsed and other nodes took its calls over: they are not billed or settled here again",
		"calls_lost", n, "error", err)
}

// sweep claims and settles the calls of the nodes whose lease lapsed.
func (l *Leases) sweep(ctx context.Context) {
	l.sweepMu.Lock()
	defer l.sweepMu.Unlock()
	if l.retry {
		l.retry = false
		l.settleClaimed(ctx)
	}
	rctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	dead, err := l.store.LapsedLeases(rctx, l.ctl.cfg.Node, l.cfg.Lapse)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Warn("lapsed leases not read", "error", err)
		}
		return
	}
	for _, d := range dead {
		if ctx.Err() != nil {
			return
		}
		n, err := l.settle(ctx, d)
		if err != nil {
			l.retry = true
		}
		if n > 0 || err != nil {
			l.log.Warn("settled the calls of a switch node whose lease lapsed", "dead_node", d.Node, "last_heartbeat", d.HeartbeatAt,
				"stopped", d.Stopped, "calls", n, "error", err)
		}
	}
}

// settle claims dead's calls and settles them; it returns how many.
func (l *Leases) settle(ctx context.Context, dead dialtone.Lease) (int, error) {
	// The claim waits for the dead node's locks; a node stalled inside a
	// transaction holds them until the store ends it (see the postgres
	// package). This loop is not the heartbeats': the wait delays no
	// heartbeat, and it is bounded.
	cctx, cancel := context.WithTimeout(ctx, settleTimeout)
	claimed, err := l.store.ClaimSessions(cctx, dead.Node, l.ctl.cfg.Node, l.cfg.Lapse)
	cancel()
	if err != nil {
		return 0, err
	}
	if len(claimed) > 0 {
		l.ctl.cfg.Metrics.claimed()
	}
	// Settled even when Close stops the loop meanwhile, within a bound: a
	// claimed call left unsettled stays this node's, settled at its next
	// start or claimed by another node if this one dies.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	n := 0
	var errs []error
	for _, s := range claimed {
		ok, err := l.ctl.settleLeft(sctx, s, time.Time{})
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			n++
			l.ctl.cfg.Metrics.settledForDead()
		}
	}
	return n, errors.Join(errs...)
}

// settleClaimed settles again the calls this node claimed and could not
// settle at their sweep (the store failed meanwhile).
func (l *Leases) settleClaimed(ctx context.Context) {
	open, err := l.ctl.store.OpenSessions(ctx, l.ctl.cfg.Node)
	if err != nil {
		l.retry = true
		return
	}
	for _, s := range open {
		if s.Settler != l.ctl.cfg.Node { // this node's own: a call in progress here
			continue
		}
		ok, err := l.ctl.settleLeft(ctx, s, time.Time{})
		if err != nil {
			l.retry = true
			l.log.Warn("claimed call not settled: retried at the next sweep", "call_id", s.ID, "dead_node", s.Node, "error", err)
		}
		if ok {
			l.ctl.cfg.Metrics.settledForDead()
		}
	}
}

// Lost checks this node's calls in progress after its lease lapsed and
// others claimed its calls: each that another node took over is marked
// lost, so that it is no longer extended and its Finish settles nothing,
// and its OnTakenOver function is told, so that the call ends at once. It
// returns how many.
func (c *Controller) Lost(ctx context.Context) (int, error) {
	c.mu.Lock()
	live := make([]*Call, 0, len(c.live))
	for _, k := range c.live {
		live = append(live, k)
	}
	c.mu.Unlock()
	n := 0
	var errs []error
	for _, k := range live {
		k.mu.Lock()
		id := k.session.ID
		k.mu.Unlock()
		err := c.store.Confirm(ctx, id, c.now(), nil)
		if err == nil {
			continue
		}
		if !errors.Is(err, dialtone.ErrConflict) {
			errs = append(errs, err)
			continue
		}
		k.mu.Lock()
		taken := k.markLost()
		k.mu.Unlock()
		if taken {
			n++
			c.cfg.Metrics.lostCall()
			c.log.Warn("call taken over by another switch node: it is no longer billed here", "call_id", id, "account", k.account.Username)
		}
	}
	return n, errors.Join(errs...)
}

// forget drops a finished call from the live calls.
func (c *Controller) forget(k *Call) {
	k.mu.Lock()
	id := k.session.ID
	k.mu.Unlock()
	c.mu.Lock()
	delete(c.live, id)
	c.mu.Unlock()
}
