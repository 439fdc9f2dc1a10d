package sqlstore

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dialtone/dialtone"
)

// SaveBan inserts b or replaces the ban of b.Addr (see dialtone.BanStore).
func (s *Store) SaveBan(ctx context.Context, b dialtone.Ban) error {
	_, err := s.w().Exec(ctx, `INSERT INTO guard_bans (address, reason, since, until, failures, count, lifted, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (address) DO UPDATE SET reason = excluded.reason, since = excluded.since, until = excluded.until,
		failures = excluded.failures, count = excluded.count, lifted = excluded.lifted, changed_at = excluded.changed_at`,
		b.Addr.String(), string(b.Reason), s.d.T(b.Since), s.d.T(b.Until), b.Failures, b.Count, false, s.d.T(s.now()))
	if err != nil {
		return fmt.Errorf("save ban %s: %w", b.Addr, err)
	}
	return nil
}

// DeleteBan forgets the ban of addr.
func (s *Store) DeleteBan(ctx context.Context, addr netip.Addr) error {
	if _, err := s.w().Exec(ctx, `DELETE FROM guard_bans WHERE address = ?`, addr.String()); err != nil {
		return fmt.Errorf("delete ban %s: %w", addr, err)
	}
	return nil
}

// Bans returns every ban kept, ended ones too, ordered by address.
func (s *Store) Bans(ctx context.Context) ([]dialtone.Ban, error) {
	rows, err := s.r().Query(ctx, `SELECT address, reason, since, until, failures, count FROM guard_bans`)
	if err != nil {
		return nil, fmt.Errorf("bans: %w", err)
	}
	defer rows.Close()
	var out []dialtone.Ban
	for rows.Next() {
		var b dialtone.Ban
		var addr string
		if err := rows.Scan(&addr, &b.Reason, st(&b.Since), st(&b.Until), &b.Failures, &b.Count); err != nil {
			return nil, fmt.Errorf("bans: %w", err)
		}
		if b.Addr, err = netip.ParseAddr(addr); err != nil {
			return nil, fmt.Errorf("bans: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("bans: %w", err)
	}
	// Addresses in numeric order, which the text column does not give.
	slices.SortFunc(out, func(a, b dialtone.Ban) int { return a.Addr.Compare(b.Addr) })
	return out, nil
}

// UseNonce records nc for nonce in one statement (see dialtone.NonceStore):
// the row is inserted, or its count raised only when nc is higher, so the
// one row affected is the use that was ok.
func (s *Store) UseNonce(ctx context.Context, nonce string, nc uint32, expires time.Time) (bool, error) {
	res, err := s.w().Exec(ctx, `INSERT INTO nonce_uses (nonce, nc, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (nonce) DO UPDATE SET nc = excluded.nc WHERE nonce_uses.nc < excluded.nc`,
		nonce, int64(nc), s.d.T(expires))
	if err != nil {
		return false, fmt.Errorf("use nonce: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("use nonce: %w", err)
	}
	return n == 1, nil
}

// PurgeNonces forgets the nonces that expire at or before before.
func (s *Store) PurgeNonces(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w().Exec(ctx, `DELETE FROM nonce_uses WHERE expires_at <= ?`, s.d.T(before))
	if err != nil {
		return 0, fmt.Errorf("purge nonces: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge nonces: %w", err)
	}
	return n, nil
}
