package dialtone

import (
	"context"
	"time"
)

// Token is a bearer token of the companion API. Only the SHA-256 of the
// token is stored; the token itself is shown once, when it is made.
type Token struct {
	Hash      string // hex SHA-256 of the token
	AccountID int64
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time // zero: not revoked
}

// Live reports whether t may be used at now.
func (t *Token) Live(now time.Time) bool {
	return t.RevokedAt.IsZero() && now.Before(t.ExpiresAt)
}

// TokenStore keeps API passwords and tokens.
type TokenStore interface {
	// SetPassword stores the API password hash (bcrypt) of an account.
	SetPassword(ctx context.Context, accountID int64, hash string) error
	// PasswordHash returns an account's API password hash; empty when none
	// was set. ErrNotFound for an unknown account.
	PasswordHash(ctx context.Context, accountID int64) (string, error)
	CreateToken(ctx context.Context, t *Token) error
	// TokenByHash fails with ErrNotFound for an unknown token.
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	// RevokeToken marks a token revoked at at; revoking twice is fine.
	RevokeToken(ctx context.Context, hash string, at time.Time) error
}
