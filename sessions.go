package dialtone

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// BundleTake is a number of seconds taken from (or reserved on) one holding.
type BundleTake struct {
	HoldingID int64
	Seconds   int64
	Increment int64 // the holding's increment, so that a settlement needs no lookup
}

// CallSession is the money side of a call in progress, kept in the store so
// that a restarted switch (or another node) settles it exactly once.
//
// Credit is reserved one interval at a time: each reservation moves money
// from the wallet to the account's hold and takes bundle seconds off its
// holdings, so concurrent calls can never spend the same money twice.
// Settlement charges what the call cost, returns the rest and writes the CDR
// in one transaction.
type CallSession struct {
	ID        string // the call's CDR ID
	Node      string // the switch that owns the call
	AccountID int64
	Currency  string
	Payer     string // ledger account that pays: WalletAccount(AccountID) or an organization's
	Sell      Rate
	Buy       *Rate // the carrier's rate, when its buy deck has one
	BuyPlan   string
	// CDR is the record as known at the last update; after a crash it is
	// completed from the last confirmed point and written.
	CDR CDR

	AnswerAt      time.Time
	ConfirmedAt   time.Time       // the call was known to be up at this time
	Covered       int64           // seconds after answer paid for by the reservations
	ReservedMoney decimal.Decimal // money on hold for this call
	Takes         []BundleTake    // bundle seconds reserved for this call
	Seq           int             // reservations made
	Settled       bool
	// Settler is the node that settles the call when not its owner: one
	// that claimed it after the owner's lease lapsed (see LeaseStore).
	Settler string
	// LapsedAt, set when another node claimed the call, is the owner's last
	// heartbeat: the call is charged up to there, and the owner may no
	// longer reserve or confirm it.
	LapsedAt time.Time
}

// SettledBy is the node that must settle the session.
func (s *CallSession) SettledBy() string {
	if s.Settler != "" {
		return s.Settler
	}
	return s.Node
}

// PayerAccount is the ledger account the call's money comes from.
func (s *CallSession) PayerAccount() string {
	if s.Payer != "" {
		return s.Payer
	}
	return WalletAccount(s.AccountID)
}

// Reservation extends a session's credit.
type Reservation struct {
	SessionID string
	Seq       int // 1, 2, ...: part of the ledger key, so a retry moves money once
	Money     decimal.Decimal
	Takes     []BundleTake
	Covered   int64 // the session's new covered seconds
	At        time.Time
	AnswerAt  time.Time // set on the first reservation
	CDR       *CDR      // when set, the session's CDR so far is replaced
	// CapSince, when set on a reservation an organization pays, has the
	// store check the caller's call cap (Member.CallCap) in the same
	// transaction: what the organization paid for the caller's calls since
	// CapSince and holds for them, plus Money, must stay within it, or the
	// reservation fails with ErrInsufficientFunds.
	CapSince time.Time
}

// Settlement is what a finished call costs.
type Settlement struct {
	SessionID  string
	Price      decimal.Decimal // wallet money charged (from the hold)
	BundleUsed []BundleTake    // bundle seconds used, per holding
	// By, when set, is the settling node: a session another node must
	// settle (see CallSession.SettledBy) fails with ErrConflict.
	By string
}

// SessionStore keeps call sessions.
type SessionStore interface {
	// OpenSession records a new session. When first is not nil it is the
	// session's first reservation (Seq 1), applied as Reserve applies one in
	// the same transaction: if the payer or a holding cannot cover it, it
	// fails with ErrInsufficientFunds and records nothing. On success *s is
	// the session as stored.
	OpenSession(ctx context.Context, s *CallSession, first *Reservation) error
	// Reserve applies r atomically: moves r.Money from the wallet to the hold
	// and takes r.Takes off the holdings. If the wallet or a holding cannot
	// cover it, it fails with ErrInsufficientFunds and changes nothing.
	Reserve(ctx context.Context, r Reservation) error
	// Confirm records that the call was still up at at, with its CDR so far.
	Confirm(ctx context.Context, id string, at time.Time, cdr *CDR) error
	// Settle charges st, returns the rest of the hold and the unused bundle
	// seconds, closes the session and inserts cdr, in one transaction. A
	// session settled already fails with ErrConflict and changes nothing.
	Settle(ctx context.Context, st Settlement, cdr *CDR) error
	// OpenSessions lists the sessions node must settle that were never
	// settled: its own that no other node claimed, and those it claimed.
	OpenSessions(ctx context.Context, node string) ([]*CallSession, error)
}

// ApplyReservation checks r against s and returns the session after it and
// the ledger movement it needs (nil when it reserves no money). It returns a
// nil session when r was applied already (a retry).
func ApplyReservation(s *CallSession, r Reservation) (*CallSession, *Movement, error) {
	switch {
	case s.Settled:
		return nil, nil, fmt.Errorf("reserve %s: %w: settled already", s.ID, ErrConflict)
	case !s.LapsedAt.IsZero():
		return nil, nil, fmt.Errorf("reserve %s: %w: node %s took the call over", s.ID, ErrConflict, s.SettledBy())
	case r.Seq <= s.Seq:
		return nil, nil, nil
	case r.Seq != s.Seq+1:
		return nil, nil, fmt.Errorf("reserve %s: %w: reservation %d after %d", s.ID, ErrInvalid, r.Seq, s.Seq)
	case r.Money.IsNegative() || r.Covered < s.Covered:
		return nil, nil, fmt.Errorf("reserve %s: %w: reservations only grow", s.ID, ErrInvalid)
	}
	next := *s
	next.Seq = r.Seq
	next.ReservedMoney = s.ReservedMoney.Add(r.Money)
	next.Covered = r.Covered
	next.Takes = append([]BundleTake(nil), s.Takes...)
	for _, t := range r.Takes {
		if t.Seconds <= 0 {
			return nil, nil, fmt.Errorf("reserve %s: %w: bundle take of %d s", s.ID, ErrInvalid, t.Seconds)
		}
		next.Takes = addTake(next.Takes, t)
	}
	if next.AnswerAt.IsZero() {
		next.AnswerAt = r.AnswerAt
	}
	if r.CDR != nil {
		next.CDR = *r.CDR
	}
	if r.At.After(next.ConfirmedAt) {
		next.ConfirmedAt = r.At
	}
	if r.Money.IsZero() {
		return &next, nil, nil
	}
	m, err := Transfer{Key: fmt.Sprintf("call:%s:hold:%d", s.ID, r.Seq), Kind: "hold", Currency: s.Currency,
		Memo: "credit reserved for call " + s.ID, From: s.PayerAccount(), To: HoldAccount(s.AccountID), Amount: r.Money}.Movement()
	if err != nil {
		return nil, nil, fmt.Errorf("reserve %s: %w", s.ID, err)
	}
	return &next, m, nil
}

func addTake(takes []BundleTake, t BundleTake) []BundleTake {
	for i := range takes {
		if takes[i].HoldingID == t.HoldingID {
			takes[i].Seconds += t.Seconds
			return takes
		}
	}
	return append(takes, t)
}

// PlanSettlement checks st against s and returns the ledger movement that
// charges the call and releases the rest of its hold (nil when nothing was
// held), and the bundle seconds to give back to each holding.
func PlanSettlement(s *CallSession, st Settlement) (*Movement, []BundleTake, error) {
	if s.Settled {
		return nil, nil, fmt.Errorf("settle %s: %w: settled already", s.ID, ErrConflict)
	}
	if st.By != "" && st.By != s.SettledBy() {
		return nil, nil, fmt.Errorf("settle %s: %w: node %s settles it, not %s", s.ID, ErrConflict, s.SettledBy(), st.By)
	}
	if st.Price.IsNegative() || st.Price.GreaterThan(s.ReservedMoney) {
		return nil, nil, fmt.Errorf("settle %s: %w: price %s is not within the %s held", s.ID, ErrInvalid, st.Price, s.ReservedMoney)
	}
	used := map[int64]int64{}
	for _, u := range st.BundleUsed {
		used[u.HoldingID] += u.Seconds
	}
	var returns []BundleTake
	for _, t := range s.Takes {
		left := t.Seconds - used[t.HoldingID]
		if left < 0 || used[t.HoldingID] < 0 {
			return nil, nil, fmt.Errorf("settle %s: %w: bundle %d used %d s of %d reserved", s.ID, ErrInvalid, t.HoldingID, used[t.HoldingID], t.Seconds)
		}
		delete(used, t.HoldingID)
		if left > 0 {
			returns = append(returns, BundleTake{HoldingID: t.HoldingID, Seconds: left})
		}
	}
	for id, n := range used {
		if n != 0 {
			return nil, nil, fmt.Errorf("settle %s: %w: bundle %d was not reserved", s.ID, ErrInvalid, id)
		}
	}
	if s.ReservedMoney.IsZero() {
		return nil, returns, nil
	}
	m := &Movement{Key: "call:" + s.ID + ":settle", Kind: "settle", Currency: s.Currency, Memo: "call " + s.ID,
		Postings: []Posting{{Account: HoldAccount(s.AccountID), Amount: s.ReservedMoney.Neg()}}}
	if st.Price.IsPositive() {
		m.Postings = append(m.Postings, Posting{Account: CallRevenueAccount(s.Currency), Amount: st.Price})
	}
	if rest := s.ReservedMoney.Sub(st.Price); rest.IsPositive() {
		m.Postings = append(m.Postings, Posting{Account: s.PayerAccount(), Amount: rest})
	}
	return m, returns, nil
}

type sessionState struct {
	Sell    Rate   `json:"sell"`
	Buy     *Rate  `json:"buy,omitempty"`
	BuyPlan string `json:"buy_plan,omitempty"`
	CDR     CDR    `json:"cdr"`
}

// EncodeSessionState is the JSON that adapters store for a session's rates
// and CDR so far.
func EncodeSessionState(s *CallSession) (string, error) {
	b, err := json.Marshal(sessionState{Sell: s.Sell, Buy: s.Buy, BuyPlan: s.BuyPlan, CDR: s.CDR})
	return string(b), err
}

// EncodeTakes is the JSON that adapters store for a session's bundle takes.
func EncodeTakes(t []BundleTake) (string, error) {
	if t == nil {
		t = []BundleTake{}
	}
	b, err := json.Marshal(t)
	return string(b), err
}

// DecodeSessionState fills s from what EncodeSessionState and EncodeTakes wrote.
func DecodeSessionState(s *CallSession, state, takes string) error {
	var st sessionState
	if err := json.Unmarshal([]byte(state), &st); err != nil {
		return fmt.Errorf("session %s state: %w", s.ID, err)
	}
	if err := json.Unmarshal([]byte(takes), &s.Takes); err != nil {
		return fmt.Errorf("session %s takes: %w", s.ID, err)
	}
	s.Sell, s.Buy, s.BuyPlan, s.CDR = st.Sell, st.Buy, st.BuyPlan, st.CDR
	return nil
}

// ApplyConfirm records on s that the call was up at at, with its CDR so
// far when cdr is not nil. A settled session fails with ErrConflict.
func ApplyConfirm(s *CallSession, at time.Time, cdr *CDR) error {
	if s.Settled {
		return fmt.Errorf("confirm %s: %w: settled already", s.ID, ErrConflict)
	}
	if !s.LapsedAt.IsZero() {
		return fmt.Errorf("confirm %s: %w: node %s took the call over", s.ID, ErrConflict, s.SettledBy())
	}
	if at.After(s.ConfirmedAt) {
		s.ConfirmedAt = at
	}
	if cdr != nil {
		s.CDR = *cdr
	}
	return nil
}
