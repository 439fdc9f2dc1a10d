package dialtone

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// A wallet's history is its ledger entries as a person reads them: a
// top-up, a transfer or a bundle is one line, and a call is one line too,
// however many reservations it took. A call reserves credit one interval
// at a time (one "hold" movement each) and is settled once (a "settle"
// movement that charges the price and gives back the rest), so its entries
// in the wallet are folded into one item carrying the number called, the
// billed duration and the charge.

// CallState is where a call of the history stands.
type CallState string

const (
	CallOnHold     CallState = "on hold"     // in progress: credit reserved, not charged yet
	CallCharged    CallState = "charged"     // settled with a price
	CallNotCharged CallState = "not charged" // settled at zero: not answered, failed, or paid by a bundle; its hold was released
)

// WalletCall is one call's line in a wallet's history.
type WalletCall struct {
	ID            string // the call's CDR ID
	Dialed        string // the number called, E.164 when it was valid, else as typed
	Disposition   Disposition
	Duration      time.Duration // answered time; zero when not answered or in progress
	BilledSeconds int64
	Charge        decimal.Decimal // the final price; while on hold, the money reserved
	State         CallState
}

// WalletItem is one line of a wallet's history.
type WalletItem struct {
	// ID orders the history (newest first) and is the cursor of the next
	// page: the newest ledger entry of the item.
	ID     int64
	Kind   string          // the movement's kind (topup, transfer, bundle, ...), or "call"
	Amount decimal.Decimal // what the item did to the wallet: the call's charge as a debit
	// Balance is the wallet after the item.
	Balance decimal.Decimal
	Memo    string
	At      time.Time   // of the newest entry: a call's settlement
	Call    *WalletCall // set when Kind is "call"
}

// HistoryStore assembles a wallet's history; the CLI and the API both read
// it from there.
type HistoryStore interface {
	// WalletHistory lists the wallet of accountID as items, newest first,
	// with IDs below before (0: from the newest), at most limit.
	WalletHistory(ctx context.Context, accountID int64, before int64, limit int) ([]WalletItem, error)
}

// CallOfKey returns the call ID of a ledger key written for a call: its
// reservations ("call:<id>:hold:<n>"), its settlement ("call:<id>:settle"),
// or any other movement of that call ("call:<id>:<what>"); false for any
// other key.
func CallOfKey(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "call:")
	if !ok {
		return "", false
	}
	id, tail, ok := strings.Cut(rest, ":")
	if !ok || id == "" || tail == "" {
		return "", false
	}
	return id, true
}

// CallRecord is what a store knows of a call for the history: its CDR (so
// far, while it is in progress) and whether it was settled.
type CallRecord struct {
	CDR     *CDR
	Settled bool
}

// FoldWallet turns a wallet's entries into history items, newest first.
// entries must hold every wallet entry of each call they name (calls are
// folded whole); calls has what the store knows of each call, and a call
// it does not know is shown from its entries alone.
func FoldWallet(entries []Entry, calls map[string]CallRecord) []WalletItem {
	var items []WalletItem
	byCall := map[string]int{} // call ID -> index in items
	for _, e := range entries {
		id, isCall := CallOfKey(e.Key)
		if !isCall {
			items = append(items, WalletItem{ID: e.MovementID, Kind: e.Kind, Amount: e.Amount, Balance: e.Balance, Memo: e.Memo, At: e.CreatedAt})
			continue
		}
		i, ok := byCall[id]
		if !ok {
			i = len(items)
			byCall[id] = i
			items = append(items, WalletItem{Kind: "call", Call: &WalletCall{ID: id}})
		}
		it := &items[i]
		it.Amount = it.Amount.Add(e.Amount)
		if e.MovementID > it.ID {
			it.ID, it.Balance, it.At = e.MovementID, e.Balance, e.CreatedAt
		}
	}
	for i := range items {
		if items[i].Call != nil {
			describeCall(&items[i], calls[items[i].Call.ID])
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].ID > items[j].ID })
	return items
}

// describeCall fills a call item from its record.
func describeCall(it *WalletItem, rec CallRecord) {
	c := it.Call
	settled := rec.Settled
	if rec.CDR != nil {
		c.Dialed = rec.CDR.DialedE164
		if c.Dialed == "" {
			c.Dialed = rec.CDR.DialedRaw
		}
		if settled {
			c.Disposition, c.Duration, c.BilledSeconds = rec.CDR.Disposition, rec.CDR.Duration, rec.CDR.BilledSeconds
		}
	}
	c.Charge = it.Amount.Neg()
	switch {
	case !settled:
		c.State = CallOnHold
	case c.Charge.IsPositive():
		c.State = CallCharged
	default:
		c.State = CallNotCharged
	}
	what := "call to " + c.Dialed
	if c.Dialed == "" {
		what = "call " + c.ID
	}
	switch c.State {
	case CallOnHold:
		it.Memo = what + ": in progress, credit on hold"
	case CallCharged:
		it.Memo = fmt.Sprintf("%s: %s, billed %d s", what, clock(c.Duration), c.BilledSeconds)
	default:
		why := strings.ToLower(string(c.Disposition))
		if c.Disposition == Answered || why == "" {
			why = "settled" // answered and paid by a bundle, or a record the store lost
		}
		it.Memo = what + ": " + why + ", nothing charged"
	}
}

// clock writes a duration as m:ss (h:mm:ss past an hour), rounded up to
// the second as billing does.
func clock(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
