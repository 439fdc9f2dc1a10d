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
	// stores e with its shares, at once. A replay of fund's key changes
	// nothing, reports replayed and sets e.ID to the envelope it made.
	CreateEnvelope(ctx context.Context, e *Envelope, shares []decimal.Decimal, fund *Movement) (replayed bool, err error)
	// GrabEnvelope gives accountID the next share and moves its money to
	// the account's wallet. It fails with ErrForbidden for an account that
	// is not a recipient, ErrConflict for one that grabbed already, and
	// ErrExhausted when no share is left or the envelope expired.
	GrabEnvelope(ctx context.Context, id string, accountID int64, at time.Time) (*Grab, error)
	// Envelope returns an envelope and all its shares.
	Envelope(ctx context.Context, id string) (*Envelope, []Grab, error)
	// ExpireEnvelopes refunds, once each, what is left of the envelopes
	// expired at now, and returns their IDs.
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
func GrabMovement(id string, n int, currency string, accountID int64, amount decimal.Decimal) *Movement {
	return Transfer(fmt.Sprintf("envelope:%s:share:%d", id, n), "envelope", currency, "red envelope "+id,
		EnvelopeAccount(id), WalletAccount(accountID), amount)
}

// RefundMovement returns what nobody grabbed of an envelope to its sender.
func RefundMovement(id, currency string, sender int64, left decimal.Decimal) *Movement {
	return Transfer("envelope:"+id+":refund", "envelope-refund", currency, "unclaimed red envelope "+id,
		EnvelopeAccount(id), WalletAccount(sender), left)
}
