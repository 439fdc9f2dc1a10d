package dialtone

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// ErrExhausted: there is nothing left to take (an envelope's shares are all
// grabbed, or it expired).
var ErrExhausted = errors.New("nothing left")

// Envelope is a red envelope: money a user sends to some recipients, split
// into shares that each recipient may grab once. The money waits in the
// ledger account EnvelopeAccount(ID); what nobody grabbed goes back to the
// sender when it expires.
type Envelope struct {
	ID         string
	SenderID   int64
	Currency   string
	Total      decimal.Decimal
	Count      int
	Mode       string  // equal or lucky
	Recipients []int64 // accounts that may grab
	Memo       string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RefundedAt time.Time       // zero until refunded
	Refunded   decimal.Decimal // what went back to the sender
}

// Grab is one share of an envelope and who took it.
type Grab struct {
	EnvelopeID string
	N          int
	Amount     decimal.Decimal
	AccountID  int64 // 0: not grabbed
	At         time.Time
}

// EnvelopeAccount is the ledger account that holds an envelope's money.
func EnvelopeAccount(id string) string { return "envelope:" + id }

// EnvelopeStore keeps red envelopes.
type EnvelopeStore interface {
	// CreateEnvelope posts fund (the sender's wallet to the envelope) and
	// stores e (its ID chosen by the caller) with its shares, numbered from
	// 1 in the order given, at once. A replay of fund's key changes nothing,
	// reports replayed and sets e.ID to the envelope it made. It fails with
	// ErrInvalid for an invalid fund or an amount of more than MoneyScale
	// decimals, ErrInsufficientFunds when the wallet cannot pay, and
	// ErrConflict when fund's key was used for other money or without an
	// envelope. It fails too (no sentinel) for an ID in use or a recipient
	// that is not an account. A failure stores nothing and moves no money.
	CreateEnvelope(ctx context.Context, e *Envelope, shares []decimal.Decimal, fund *Movement) (replayed bool, err error)
	// GrabEnvelope gives accountID the lowest-numbered share left and moves
	// its money to the account's wallet (ledger key
	// "envelope:<id>:share:<n>"). It fails with ErrNotFound for an unknown
	// envelope, then, checked in this order, with ErrForbidden for an account
	// that is not a recipient (the sender included), ErrConflict for one that
	// grabbed already, and ErrExhausted when the envelope expired (at is at
	// or after ExpiresAt, or it was refunded) or no share is left. Grabs at
	// once never give a share twice nor an account two shares; an account's
	// extra grabs answer ErrConflict, and no grab is told ErrExhausted while
	// a share is left.
	GrabEnvelope(ctx context.Context, id string, accountID int64, at time.Time) (*Grab, error)
	// Envelope returns an envelope, its recipients ordered by account ID,
	// and all its shares ordered by N (AccountID 0 and At zero while not
	// grabbed). It fails with ErrNotFound for an unknown id.
	Envelope(ctx context.Context, id string) (*Envelope, []Grab, error)
	// ExpireEnvelopes refunds, once each even when runs overlap or race
	// grabs, what is left of the envelopes with ExpiresAt at or before now
	// to their senders (ledger key "envelope:<id>:refund"), sets RefundedAt
	// to now and Refunded, and returns their IDs by ExpiresAt. Envelopes
	// grabbed empty are included, refunded 0 with no movement.
	ExpireEnvelopes(ctx context.Context, now time.Time) ([]string, error)
}

// GrabState is what a store reads about an envelope and an account before
// a grab.
type GrabState struct {
	Recipient bool      // the account may grab
	Grabbed   bool      // the account has grabbed already
	Refunded  bool      // the envelope was refunded
	ExpiresAt time.Time // the envelope's expiry
}

// CheckGrab says whether the account may grab a share of envelope id at at:
// ErrForbidden for one that is not a recipient, ErrConflict for one that
// grabbed already, ErrExhausted once the envelope expired or was refunded.
func CheckGrab(id string, st GrabState, at time.Time) error {
	switch {
	case !st.Recipient:
		return fmt.Errorf("grab %s: %w: not a recipient", id, ErrForbidden)
	case st.Grabbed:
		return fmt.Errorf("grab %s: %w: grabbed already", id, ErrConflict)
	case st.Refunded || !at.Before(st.ExpiresAt):
		return fmt.Errorf("grab %s: %w: expired", id, ErrExhausted)
	}
	return nil
}

// GrabMovement moves share n of an envelope to the grabber's wallet.
func GrabMovement(id string, n int, currency string, accountID int64, amount decimal.Decimal) (*Movement, error) {
	return Transfer{Key: fmt.Sprintf("envelope:%s:share:%d", id, n), Kind: "envelope", Currency: currency, Memo: "red envelope " + id,
		From: EnvelopeAccount(id), To: WalletAccount(accountID), Amount: amount}.Movement()
}

// RefundMovement returns what nobody grabbed of an envelope to its sender.
func RefundMovement(id, currency string, sender int64, left decimal.Decimal) (*Movement, error) {
	return Transfer{Key: "envelope:" + id + ":refund", Kind: "envelope-refund", Currency: currency, Memo: "unclaimed red envelope " + id,
		From: EnvelopeAccount(id), To: WalletAccount(sender), Amount: left}.Movement()
}
