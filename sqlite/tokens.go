package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dialtone/dialtone"
)

// SetPassword stores an account's API password hash.
func (db *DB) SetPassword(ctx context.Context, accountID int64, hash string) error {
	res, err := db.write.ExecContext(ctx, `UPDATE accounts SET password_hash = ? WHERE id = ?`, hash, accountID)
	if err != nil {
		return fmt.Errorf("set password of %d: %w", accountID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set password of %d: %w", accountID, dialtone.ErrNotFound)
	}
	return nil
}

// PasswordHash returns an account's API password hash.
func (db *DB) PasswordHash(ctx context.Context, accountID int64) (string, error) {
	var h string
	err := db.read.QueryRowContext(ctx, `SELECT password_hash FROM accounts WHERE id = ?`, accountID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("password of %d: %w", accountID, dialtone.ErrNotFound)
	}
	return h, err
}

// CreateToken stores a token.
func (db *DB) CreateToken(ctx context.Context, t *dialtone.Token) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO api_tokens (hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		t.Hash, t.AccountID, t.CreatedAt.UnixMicro(), t.ExpiresAt.UnixMicro())
	if isUnique(err) {
		return fmt.Errorf("create token: %w", dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

// TokenByHash finds a token.
func (db *DB) TokenByHash(ctx context.Context, hash string) (*dialtone.Token, error) {
	t := dialtone.Token{Hash: hash}
	var created, expires int64
	var revoked sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT account_id, created_at, expires_at, revoked_at FROM api_tokens WHERE hash = ?`, hash).
		Scan(&t.AccountID, &created, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("token: %w", dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = time.UnixMicro(created).UTC(), time.UnixMicro(expires).UTC(), fromMicros(revoked)
	return &t, nil
}

// RevokeToken marks a token revoked.
func (db *DB) RevokeToken(ctx context.Context, hash string, at time.Time) error {
	if _, err := db.write.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE hash = ?`, at.UnixMicro(), hash); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}
