package sqlstore

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/dialtone/dialtone"
)

const deviceColumns = `d.id, d.account_id, a.username, d.name, d.username, d.realm, d.ha1_md5, d.ha1_sha256, d.created_at, d.last_seen_at, d.last_seen_addr, d.revoked_at`

const deviceFrom = ` FROM devices d JOIN accounts a ON a.id = d.account_id`

// CreateDevice inserts d (see dialtone.DeviceStore).
func (s *Store) CreateDevice(ctx context.Context, d *dialtone.Device) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("create device: %w", err)
	}
	now := micro(s.now())
	err := s.w().QueryRow(ctx, `INSERT INTO devices (account_id, name, username, realm, ha1_md5, ha1_sha256, created_at)
		SELECT id, ?, ?, ?, ?, ?, ? FROM accounts WHERE id = ? RETURNING id`,
		d.Name, d.Username, d.Realm, d.HA1MD5, d.HA1SHA256, s.d.T(now), d.AccountID).Scan(&d.ID)
	if s.d.IsUnique(err) {
		return fmt.Errorf("create device %q: %w", d.Username, dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create device %q: account %d: %w", d.Username, d.AccountID, notFound(err))
	}
	d.CreatedAt = now
	return nil
}

func scanDevice(row scanner) (*dialtone.Device, error) {
	var d dialtone.Device
	if err := row.Scan(&d.ID, &d.AccountID, &d.Account, &d.Name, &d.Username, &d.Realm, &d.HA1MD5, &d.HA1SHA256,
		st(&d.CreatedAt), st(&d.LastSeenAt), &d.LastSeenAddr, st(&d.RevokedAt)); err != nil {
		return nil, err
	}
	return &d, nil
}

// DeviceByUsername finds a device, revoked or not.
func (s *Store) DeviceByUsername(ctx context.Context, username string) (*dialtone.Device, error) {
	d, err := scanDevice(s.r().QueryRow(ctx, `SELECT `+deviceColumns+deviceFrom+` WHERE d.username = ?`, username))
	if err != nil {
		return nil, fmt.Errorf("device %q: %w", username, notFound(err))
	}
	return d, nil
}

// Devices lists an account's devices by ID.
func (s *Store) Devices(ctx context.Context, accountID int64) ([]*dialtone.Device, error) {
	rows, err := s.r().Query(ctx, `SELECT `+deviceColumns+deviceFrom+` WHERE d.account_id = ? ORDER BY d.id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("devices of %d: %w", accountID, err)
	}
	defer rows.Close()
	var out []*dialtone.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("devices of %d: %w", accountID, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("devices of %d: %w", accountID, err)
	}
	return out, nil
}

// RevokeDevice marks a device revoked; a second revocation keeps the first time.
func (s *Store) RevokeDevice(ctx context.Context, accountID, id int64, at time.Time) (*dialtone.Device, error) {
	if _, err := s.w().Exec(ctx, `UPDATE devices SET revoked_at = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL`,
		s.d.T(micro(at)), id, accountID); err != nil {
		return nil, fmt.Errorf("revoke device %d: %w", id, err)
	}
	d, err := scanDevice(s.w().QueryRow(ctx, `SELECT `+deviceColumns+deviceFrom+` WHERE d.id = ? AND d.account_id = ?`, id, accountID))
	if err != nil {
		return nil, fmt.Errorf("revoke device %d of account %d: %w", id, accountID, notFound(err))
	}
	return d, nil
}

// SetDevicePassword replaces a live device's hashes.
func (s *Store) SetDevicePassword(ctx context.Context, accountID int64, username, realm, ha1MD5, ha1SHA256 string) error {
	if realm == "" || ha1MD5 == "" || ha1SHA256 == "" {
		return fmt.Errorf("%w device %q: realm and digest hashes are required", dialtone.ErrInvalid, username)
	}
	res, err := s.w().Exec(ctx, `UPDATE devices SET realm = ?, ha1_md5 = ?, ha1_sha256 = ? WHERE account_id = ? AND username = ? AND revoked_at IS NULL`,
		realm, ha1MD5, ha1SHA256, accountID, username)
	if err != nil {
		return fmt.Errorf("set password of device %q: %w", username, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("set password of device %q: %w", username, dialtone.ErrNotFound)
	}
	return nil
}

// DeviceSeen records the device's last sign-in.
func (s *Store) DeviceSeen(ctx context.Context, id int64, addr netip.Addr, at time.Time) error {
	a := ""
	if addr.IsValid() {
		a = addr.String()
	}
	if _, err := s.w().Exec(ctx, `UPDATE devices SET last_seen_at = ?, last_seen_addr = ? WHERE id = ?`, s.d.T(micro(at)), a, id); err != nil {
		return fmt.Errorf("device %d seen: %w", id, err)
	}
	return nil
}

// Secret returns the secret name, storing value first when there is none
// (see dialtone.SecretStore).
func (s *Store) Secret(ctx context.Context, name, value string) (string, error) {
	if value == "" {
		return "", fmt.Errorf("%w secret %q: empty value", dialtone.ErrInvalid, name)
	}
	if _, err := s.w().Exec(ctx, `INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, value, s.d.T(micro(s.now()))); err != nil {
		return "", fmt.Errorf("secret %q: %w", name, err)
	}
	var v string
	if err := s.w().QueryRow(ctx, `SELECT value FROM server_secrets WHERE name = ?`, name).Scan(&v); err != nil {
		return "", fmt.Errorf("secret %q: %w", name, err)
	}
	return v, nil
}
