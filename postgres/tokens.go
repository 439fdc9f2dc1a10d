package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dialtone/dialtone"
)

// SetPassword stores an account's API password hash.
func (db *DB) SetPassword(ctx context.Context, accountID int64, hash string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE accounts SET password_hash = $1 WHERE id = $2`, hash, accountID)
	if err != nil {
		return fmt.Errorf("set password of %d: %w", accountID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set password of %d: %w", accountID, dialtone.ErrNotFound)
	}
	return nil
}

// PasswordHash returns an account's API password hash.
func (db *DB) PasswordHash(ctx context.Context, accountID int64) (string, error) {
	var h string
	err := db.pool.QueryRow(ctx, `SELECT password_hash FROM accounts WHERE id = $1`, accountID).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("password of %d: %w", accountID, dialtone.ErrNotFound)
	}
	return h, err
}

// CreateToken stores a token.
func (db *DB) CreateToken(ctx context.Context, t *dialtone.Token) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO api_tokens (hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		t.Hash, t.AccountID, t.CreatedAt.UTC(), t.ExpiresAt.UTC())
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
	var revoked *time.Time
	err := db.pool.QueryRow(ctx, `SELECT account_id, created_at, expires_at, revoked_at FROM api_tokens WHERE hash = $1`, hash).
		Scan(&t.AccountID, &t.CreatedAt, &t.ExpiresAt, &revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("token: %w", dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC(), fromTS(revoked)
	return &t, nil
}

// RevokeToken marks a token revoked.
func (db *DB) RevokeToken(ctx context.Context, hash string, at time.Time) error {
	if _, err := db.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE hash = $2`, at.UTC(), hash); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}
