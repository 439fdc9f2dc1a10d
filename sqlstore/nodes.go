package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dialtone/dialtone"
)

// dbNow reads the database's clock inside tx.
func (s *Store) dbNow(ctx context.Context, tx tx) (time.Time, error) {
	var now time.Time
	if err := tx.QueryRow(ctx, `SELECT `+s.d.Now).Scan(st(&now)); err != nil {
		return time.Time{}, fmt.Errorf("database time: %w", err)
	}
	return now, nil
}

// lockLease reads node's lease and locks it until tx ends.
func (s *Store) lockLease(ctx context.Context, tx tx, node string) (dialtone.Lease, error) {
	l := dialtone.Lease{Node: node}
	err := tx.QueryRow(ctx, `SELECT heartbeat_at, claims, stopped FROM nodes WHERE name = ?`+s.d.ForUpdate, node).
		Scan(st(&l.HeartbeatAt), &l.Claims, &l.Stopped)
	return l, notFound(err)
}

// Heartbeat renews node's lease at the database's time (see dialtone.LeaseStore).
func (s *Store) Heartbeat(ctx context.Context, node string) (dialtone.Lease, error) {
	if node == "" {
		return dialtone.Lease{}, fmt.Errorf("heartbeat: %w: no node name", dialtone.ErrInvalid)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return dialtone.Lease{}, fmt.Errorf("heartbeat %s: %w", node, err)
	}
	defer tx.Rollback()
	l, err := s.lockLease(ctx, tx, node)
	fresh := errors.Is(err, dialtone.ErrNotFound)
	if err != nil && !fresh {
		return dialtone.Lease{}, fmt.Errorf("heartbeat %s: %w", node, err)
	}
	now, err := s.dbNow(ctx, tx)
	if err != nil {
		return dialtone.Lease{}, fmt.Errorf("heartbeat %s: %w", node, err)
	}
	if fresh {
		_, err = tx.Exec(ctx, `INSERT INTO nodes (name, started_at, heartbeat_at) VALUES (?, ?, ?)`, node, s.d.T(now), s.d.T(now))
	} else {
		_, err = tx.Exec(ctx, `UPDATE nodes SET heartbeat_at = ?, stopped = ? WHERE name = ?`, s.d.T(now), false, node)
	}
	if err != nil {
		return dialtone.Lease{}, fmt.Errorf("heartbeat %s: %w", node, err)
	}
	if err := tx.Commit(); err != nil {
		return dialtone.Lease{}, fmt.Errorf("heartbeat %s: %w", node, err)
	}
	return dialtone.Lease{Node: node, HeartbeatAt: now, Previous: l.HeartbeatAt, Claims: l.Claims}, nil
}

// DropLease marks node stopped (see dialtone.LeaseStore).
func (s *Store) DropLease(ctx context.Context, node string) error {
	if _, err := s.w().Exec(ctx, `UPDATE nodes SET stopped = ? WHERE name = ?`, true, node); err != nil {
		return fmt.Errorf("drop lease %s: %w", node, err)
	}
	return nil
}

// lapsed reports whether lease l has lapsed at now.
func lapsed(l dialtone.Lease, now time.Time, lapse time.Duration) bool {
	return l.Stopped || !l.HeartbeatAt.After(now.Add(-lapse))
}

// LapsedLeases lists the lapsed leases of nodes with calls to settle or
// call slots open (see dialtone.LeaseStore).
func (s *Store) LapsedLeases(ctx context.Context, except string, lapse time.Duration) ([]dialtone.Lease, error) {
	var now time.Time
	if err := s.r().QueryRow(ctx, `SELECT `+s.d.Now).Scan(st(&now)); err != nil {
		return nil, fmt.Errorf("lapsed leases: database time: %w", err)
	}
	rows, err := s.r().Query(ctx, `SELECT n.name, n.heartbeat_at, n.claims, n.stopped FROM nodes n
		WHERE n.name <> ? AND (`+s.d.Schema.IsTrue("n.stopped")+` OR n.heartbeat_at <= ?)
		AND (EXISTS (SELECT 1 FROM call_sessions c WHERE `+s.d.Schema.IsFalse("c.settled")+`
			AND (c.settler = n.name OR (c.settler IS NULL AND c.node = n.name)))
		OR EXISTS (SELECT 1 FROM call_slots o WHERE o.node = n.name AND o.ended_at IS NULL))
		ORDER BY n.name`, except, s.d.T(now.Add(-lapse)))
	if err != nil {
		return nil, fmt.Errorf("lapsed leases: %w", err)
	}
	defer rows.Close()
	var out []dialtone.Lease
	for rows.Next() {
		var l dialtone.Lease
		if err := rows.Scan(&l.Node, st(&l.HeartbeatAt), &l.Claims, &l.Stopped); err != nil {
			return nil, fmt.Errorf("lapsed leases: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// ClaimSessions hands a lapsed node's unsettled sessions to by and closes
// its call slots (see dialtone.LeaseStore). The lease row is locked first,
// so that the dead node's own heartbeat and other claimers wait: the lapse
// is checked on what they committed, and a second claimer finds nothing
// left.
func (s *Store) ClaimSessions(ctx context.Context, dead, by string, lapse time.Duration) ([]*dialtone.CallSession, error) {
	if dead == by || by == "" {
		return nil, fmt.Errorf("claim sessions of %s: %w: by %q", dead, dialtone.ErrInvalid, by)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim sessions of %s: %w", dead, err)
	}
	defer tx.Rollback()
	l, err := s.lockLease(ctx, tx, dead)
	if errors.Is(err, dialtone.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim sessions of %s: %w", dead, err)
	}
	now, err := s.dbNow(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("claim sessions of %s: %w", dead, err)
	}
	if !lapsed(l, now, lapse) {
		return nil, nil
	}
	// Its accounts' and carriers' slots are free again as its calls are
	// taken over, not when they expire.
	if _, err := tx.Exec(ctx, closeNodeSlots, s.d.T(now), dead); err != nil {
		return nil, fmt.Errorf("claim sessions of %s: %w", dead, err)
	}
	res, err := tx.Exec(ctx, `UPDATE call_sessions SET settler = ?, lapsed_at = COALESCE(lapsed_at, ?)
		WHERE `+settledBy+` AND `+s.d.Schema.IsFalse("settled"), by, s.d.T(l.HeartbeatAt), dead, dead)
	if err != nil {
		return nil, fmt.Errorf("claim sessions of %s: %w", dead, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if err := tx.Commit(); err != nil { // the slots closed
			return nil, fmt.Errorf("claim sessions of %s: %w", dead, err)
		}
		return nil, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE nodes SET claims = claims + 1 WHERE name = ?`, dead); err != nil {
		return nil, fmt.Errorf("claim sessions of %s: %w", dead, err)
	}
	// What by settles now: these, and any it claimed before and left.
	out, err := s.sessions(ctx, tx.q, `SELECT `+sessionColumns+` FROM call_sessions WHERE settler = ? AND `+
		s.d.Schema.IsFalse("settled")+` ORDER BY id`, by)
	if err != nil {
		return nil, fmt.Errorf("claim sessions of %s: %w", dead, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim sessions of %s: %w", dead, err)
	}
	return out, nil
}
