package dialtone

import (
	"context"
	"time"
)

// Lease is a switch node's heartbeat in the store. Times are the
// database's, so that nodes whose clocks disagree still agree on whose
// lease has lapsed.
type Lease struct {
	Node        string
	HeartbeatAt time.Time // the last heartbeat
	// Previous is the heartbeat before this one (zero for a node never seen):
	// at start-up, the last time the node's previous run was known alive.
	Previous time.Time
	// Claims counts the times other nodes took over the node's calls after
	// its lease lapsed. A node that sees it grow while it runs was taken for
	// dead (a long pause, a partition from the database).
	Claims  int64
	Stopped bool // the node dropped its lease on a clean shutdown
}

// LeaseStore keeps the nodes' leases and hands a dead node's calls to a
// survivor, exactly once.
type LeaseStore interface {
	// Heartbeat renews node's lease at the database's time, creating it on
	// the first call, and returns it.
	Heartbeat(ctx context.Context, node string) (Lease, error)
	// DropLease marks node stopped (a clean shutdown): its calls are all
	// settled, and no other node needs to wait for its lease to lapse.
	DropLease(ctx context.Context, node string) error
	// LapsedLeases lists the leases, other than except's, not renewed for
	// lapse by the database's clock or dropped, whose node still has calls
	// to settle or call slots open (see SlotStore).
	LapsedLeases(ctx context.Context, except string, lapse time.Duration) ([]Lease, error)
	// ClaimSessions makes by the settler of every unsettled session that
	// dead settles (its own, and those it claimed and did not settle), if
	// dead's lease has lapsed by lapse, all in one transaction: of several
	// nodes claiming at once, one gets each session. Each claimed session's
	// LapsedAt is set, once, to dead's last heartbeat (the call is charged up
	// to there), and the sessions are returned. The same transaction closes
	// dead's open call slots, so that its accounts and carriers may call
	// again as soon as its calls are taken over. A lease renewed in time
	// gives nothing and closes nothing.
	ClaimSessions(ctx context.Context, dead, by string, lapse time.Duration) ([]*CallSession, error)
}
