package sqlstore

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/dialtone/dialtone"
)

// TakeSlot implements dialtone.SlotStore. The scope's row in slot_scopes
// is upserted first: that locks it (a row lock on PostgreSQL, the write
// lock on SQLite) until the transaction ends, so the count and the insert
// of concurrent takes of one scope never interleave, whichever node runs
// them. A refused take rolls back, leaving nothing.
func (s *Store) TakeSlot(ctx context.Context, scope, id, node string, now, expires time.Time, admit func(open, recent int) error) error {
	t, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("take slot %s: %w", scope, err)
	}
	defer t.Rollback()
	if err := s.asyncCommit(ctx, t); err != nil {
		return fmt.Errorf("take slot %s: %w", scope, err)
	}
	if _, err := t.Exec(ctx, `INSERT INTO slot_scopes (scope, admitted) VALUES (?, 1)
		ON CONFLICT (scope) DO UPDATE SET admitted = slot_scopes.admitted + 1`, scope); err != nil {
		return fmt.Errorf("take slot %s: %w", scope, err)
	}
	minute := now.Add(-time.Minute)
	var open, recent int
	if err := t.QueryRow(ctx, `SELECT
		count(CASE WHEN ended_at IS NULL AND expires_at > ? THEN 1 END),
		count(CASE WHEN started_at > ? THEN 1 END)
		FROM call_slots WHERE scope = ? AND (ended_at IS NULL OR started_at > ?)`,
		s.d.T(now), s.d.T(minute), scope, s.d.T(minute)).Scan(&open, &recent); err != nil {
		return fmt.Errorf("take slot %s: %w", scope, err)
	}
	if err := admit(open, recent); err != nil {
		return err
	}
	if _, err := t.Exec(ctx, `INSERT INTO call_slots (id, scope, node, started_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		id, scope, node, s.d.T(now), s.d.T(expires)); err != nil {
		return fmt.Errorf("take slot %s: %w", scope, err)
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("take slot %s: %w", scope, err)
	}
	return nil
}

// ReleaseSlot implements dialtone.SlotStore.
func (s *Store) ReleaseSlot(ctx context.Context, id string, now time.Time) error {
	const release = `UPDATE call_slots SET ended_at = ? WHERE id = ? AND ended_at IS NULL`
	if s.d.AsyncCommit == "" {
		if _, err := s.w().Exec(ctx, release, s.d.T(now), id); err != nil {
			return fmt.Errorf("release slot %s: %w", id, err)
		}
		return nil
	}
	t, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("release slot %s: %w", id, err)
	}
	defer t.Rollback()
	if err := s.asyncCommit(ctx, t); err != nil {
		return fmt.Errorf("release slot %s: %w", id, err)
	}
	if _, err := t.Exec(ctx, release, s.d.T(now), id); err != nil {
		return fmt.Errorf("release slot %s: %w", id, err)
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("release slot %s: %w", id, err)
	}
	return nil
}

// asyncCommit lets t commit without waiting for the disk, where the
// engine can (see Dialect.AsyncCommit).
func (s *Store) asyncCommit(ctx context.Context, t tx) error {
	if s.d.AsyncCommit == "" {
		return nil
	}
	_, err := t.Tx.ExecContext(ctx, s.d.AsyncCommit)
	return err
}

// RenewSlots implements dialtone.SlotStore.
func (s *Store) RenewSlots(ctx context.Context, node string, expires time.Time) (int64, error) {
	return s.affected(ctx, "renew slots of "+node, `UPDATE call_slots SET expires_at = ? WHERE node = ? AND ended_at IS NULL`, s.d.T(expires), node)
}

// closeNodeSlots closes every open slot of a node (ended_at, node): the
// node starting again, or another node taking its calls over.
const closeNodeSlots = `UPDATE call_slots SET ended_at = ? WHERE node = ? AND ended_at IS NULL`

// ReleaseNodeSlots implements dialtone.SlotStore.
func (s *Store) ReleaseNodeSlots(ctx context.Context, node string, now time.Time) (int64, error) {
	return s.affected(ctx, "release slots of "+node, closeNodeSlots, s.d.T(now), node)
}

// PurgeSlots implements dialtone.SlotStore.
func (s *Store) PurgeSlots(ctx context.Context, before time.Time) (int64, error) {
	return s.affected(ctx, "purge slots", `DELETE FROM call_slots WHERE started_at < ? AND (ended_at < ? OR expires_at < ?)`,
		s.d.T(before), s.d.T(before), s.d.T(before))
}

func (s *Store) affected(ctx context.Context, op, query string, args ...any) (int64, error) {
	res, err := s.w().Exec(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	return n, nil
}

// LiftBan implements dialtone.BanFeed: the row stays, lifted, so that the
// other nodes read the unban.
func (s *Store) LiftBan(ctx context.Context, addr netip.Addr, at time.Time) error {
	if _, err := s.w().Exec(ctx, `UPDATE guard_bans SET lifted = ?, until = CASE WHEN until > ? THEN ? ELSE until END, count = 0, changed_at = ?
		WHERE address = ?`, true, s.d.T(at), s.d.T(at), s.d.T(s.now()), addr.String()); err != nil {
		return fmt.Errorf("lift ban %s: %w", addr, err)
	}
	return nil
}

// BanChanges implements dialtone.BanFeed, over the index on changed_at.
func (s *Store) BanChanges(ctx context.Context, since time.Time) ([]dialtone.BanChange, error) {
	rows, err := s.r().Query(ctx, `SELECT address, reason, since, until, failures, count, lifted, changed_at FROM guard_bans
		WHERE changed_at >= ? ORDER BY changed_at, address`, s.d.T(since))
	if err != nil {
		return nil, fmt.Errorf("ban changes: %w", err)
	}
	defer rows.Close()
	var out []dialtone.BanChange
	for rows.Next() {
		var c dialtone.BanChange
		var addr string
		if err := rows.Scan(&addr, &c.Reason, st(&c.Since), st(&c.Until), &c.Failures, &c.Count, &c.Lifted, st(&c.At)); err != nil {
			return nil, fmt.Errorf("ban changes: %w", err)
		}
		if c.Addr, err = netip.ParseAddr(addr); err != nil {
			return nil, fmt.Errorf("ban changes: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ban changes: %w", err)
	}
	return out, nil
}

// SaveRegistrations implements dialtone.RegistrationStore in one transaction.
func (s *Store) SaveRegistrations(ctx context.Context, rs []dialtone.Registration, now time.Time) error {
	if len(rs) == 0 {
		return nil
	}
	t, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("save registrations: %w", err)
	}
	defer t.Rollback()
	for _, r := range rs {
		if !r.Expires.After(now) {
			_, err = t.Exec(ctx, `DELETE FROM registrations WHERE username = ? AND contact = ?`, r.Username, r.Contact)
		} else {
			_, err = t.Exec(ctx, `INSERT INTO registrations (username, contact, source, transport, node, expires_at) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (username, contact) DO UPDATE SET source = excluded.source, transport = excluded.transport,
				node = excluded.node, expires_at = excluded.expires_at`,
				r.Username, r.Contact, r.Source, r.Transport, r.Node, s.d.T(r.Expires))
		}
		if err != nil {
			return fmt.Errorf("save registration of %s: %w", r.Username, err)
		}
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("save registrations: %w", err)
	}
	return nil
}

// ClearRegistrations implements dialtone.RegistrationStore.
func (s *Store) ClearRegistrations(ctx context.Context, username, node string) error {
	if _, err := s.w().Exec(ctx, `DELETE FROM registrations WHERE username = ? AND node = ?`, username, node); err != nil {
		return fmt.Errorf("clear registrations of %s: %w", username, err)
	}
	return nil
}

// Registrations implements dialtone.RegistrationStore.
func (s *Store) Registrations(ctx context.Context, username string, now time.Time) ([]dialtone.Registration, error) {
	query, args := `SELECT username, contact, source, transport, node, expires_at FROM registrations WHERE expires_at > ?`, []any{s.d.T(now)}
	if username != "" {
		query, args = query+` AND username = ?`, append(args, username)
	}
	rows, err := s.r().Query(ctx, query+` ORDER BY username, contact`, args...)
	if err != nil {
		return nil, fmt.Errorf("registrations: %w", err)
	}
	defer rows.Close()
	var out []dialtone.Registration
	for rows.Next() {
		var r dialtone.Registration
		if err := rows.Scan(&r.Username, &r.Contact, &r.Source, &r.Transport, &r.Node, st(&r.Expires)); err != nil {
			return nil, fmt.Errorf("registrations: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registrations: %w", err)
	}
	return out, nil
}

// PurgeRegistrations implements dialtone.RegistrationStore.
func (s *Store) PurgeRegistrations(ctx context.Context, before time.Time) (int64, error) {
	return s.affected(ctx, "purge registrations", `DELETE FROM registrations WHERE expires_at < ?`, s.d.T(before))
}
