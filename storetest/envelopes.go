package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// runEnvelopes registers the EnvelopeStore subtests.
func runEnvelopes(t *testing.T, open func(t *testing.T) dialtone.Store) {
	t.Run("Envelopes", func(t *testing.T) { testEnvelopes(t, open(t)) })
	t.Run("EnvelopeGrabs", func(t *testing.T) { testEnvelopeGrabs(t, open(t)) })
	t.Run("EnvelopeExpiry", func(t *testing.T) { testEnvelopeExpiry(t, open(t)) })
	t.Run("EnvelopeGrabsConcurrent", func(t *testing.T) { testEnvelopeGrabsConcurrent(t, open(t)) })
	t.Run("EnvelopeDoubleGrabConcurrent", func(t *testing.T) { testEnvelopeDoubleGrabConcurrent(t, open(t)) })
	t.Run("EnvelopeGrabsAgainstExpiry", func(t *testing.T) { testEnvelopeGrabsAgainstExpiry(t, open(t)) })
	t.Run("EnvelopeExpiryConcurrent", func(t *testing.T) { testEnvelopeExpiryConcurrent(t, open(t)) })
}

// envelopeFund is the movement that pays for envelope id from sender's wallet.
func envelopeFund(key string, sender int64, id string, total decimal.Decimal) *dialtone.Movement {
	return usd(key, "envelope", "red envelope", dialtone.WalletAccount(sender), dialtone.EnvelopeAccount(id), total)
}

// usd is a two-posting movement in USD, built as given (unchecked, so that
// tests can hand the store invalid ones too).
func usd(key, kind, memo, from, to string, amount decimal.Decimal) *dialtone.Movement {
	return &dialtone.Movement{Key: key, Kind: kind, Currency: "USD", Memo: memo, Postings: []dialtone.Posting{
		{Account: from, Amount: amount.Neg()},
		{Account: to, Amount: amount},
	}}
}

// newEnvelope creates and funds an envelope of the given shares, created at
// Base, expiring at expires.
func newEnvelope(t testing.TB, st dialtone.Store, id string, sender int64, recipients []int64, expires time.Time, shares ...string) *dialtone.Envelope {
	t.Helper()
	e := &dialtone.Envelope{ID: id, SenderID: sender, Currency: "USD", Count: len(shares), Mode: "lucky", Recipients: recipients,
		Memo: "for you", CreatedAt: Base, ExpiresAt: expires}
	var ds []decimal.Decimal
	for _, s := range shares {
		ds = append(ds, D(s))
		e.Total = e.Total.Add(D(s))
	}
	if replayed, err := st.CreateEnvelope(context.Background(), e, ds, envelopeFund("fund:"+id, sender, id, e.Total)); err != nil || replayed {
		t.Fatalf("CreateEnvelope(%s) = %v, %v", id, replayed, err)
	}
	return e
}

func accountIDs(as ...*dialtone.Account) []int64 {
	var ids []int64
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}

// sameGrabs compares shares, amounts by value.
func sameGrabs(got, want []dialtone.Grab) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Amount.Equal(w.Amount) {
			return false
		}
		g.Amount, w.Amount = decimal.Zero, decimal.Zero
		if !reflect.DeepEqual(g, w) {
			return false
		}
	}
	return true
}

func testEnvelopes(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob, carol := newAccount(t, st, "alice"), newAccount(t, st, "bob"), newAccount(t, st, "carol")
	TopUp(t, st, alice.ID, "10")
	wallet := dialtone.WalletAccount(alice.ID)

	e := &dialtone.Envelope{ID: "env-1", SenderID: alice.ID, Currency: "USD", Total: D("1.000001"), Count: 3, Mode: "lucky",
		Recipients: []int64{carol.ID, bob.ID}, Memo: "happy \"new\" year 🧧", CreatedAt: Base.Add(19 * time.Microsecond), ExpiresAt: Base.Add(24 * time.Hour)}
	shares := []decimal.Decimal{D("0.5"), D("0.300001"), D("0.2")}
	fund := envelopeFund("fund-1", alice.ID, "env-1", e.Total)
	if replayed, err := st.CreateEnvelope(ctx, e, shares, fund); err != nil || replayed {
		t.Fatalf("CreateEnvelope() = %v, %v", replayed, err)
	}
	wantBalance(t, st, wallet, "8.999999")
	wantBalance(t, st, dialtone.EnvelopeAccount("env-1"), "1.000001")

	got, gs, err := st.Envelope(ctx, "env-1")
	if err != nil {
		t.Fatalf("Envelope() = %v", err)
	}
	want := *e
	want.Recipients = []int64{bob.ID, carol.ID}
	if got.ID != want.ID || got.SenderID != alice.ID || got.Currency != "USD" || !got.Total.Equal(want.Total) || got.Count != 3 || got.Mode != "lucky" ||
		!reflect.DeepEqual(got.Recipients, want.Recipients) || got.Memo != want.Memo || !got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
		!got.RefundedAt.IsZero() || !got.Refunded.IsZero() || got.CreatedAt.Location() != time.UTC {
		t.Errorf("Envelope() = %+v, want %+v (recipients ordered by ID, not refunded)", got, want)
	}
	wantGrabs := []dialtone.Grab{{EnvelopeID: "env-1", N: 1, Amount: D("0.5")}, {EnvelopeID: "env-1", N: 2, Amount: D("0.300001")}, {EnvelopeID: "env-1", N: 3, Amount: D("0.2")}}
	if !sameGrabs(gs, wantGrabs) {
		t.Errorf("Envelope() shares = %+v, want %+v", gs, wantGrabs)
	}
	if _, _, err := st.Envelope(ctx, "nope"); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("Envelope(unknown) = %v, want %v", err, dialtone.ErrNotFound)
	}

	// A replay of the fund's key changes nothing and names the envelope.
	again := &dialtone.Envelope{SenderID: alice.ID, Currency: "USD", Total: e.Total, Count: 3, Mode: "lucky", Recipients: []int64{bob.ID}, CreatedAt: Base, ExpiresAt: Base}
	if replayed, err := st.CreateEnvelope(ctx, again, shares, envelopeFund("fund-1", alice.ID, "env-1", e.Total)); err != nil || !replayed || again.ID != "env-1" {
		t.Errorf("CreateEnvelope(replay) = %v, %v, ID %q; want replayed, env-1", replayed, err, again.ID)
	}
	if _, err := st.CreateEnvelope(ctx, &dialtone.Envelope{ID: "env-2", SenderID: alice.ID, Currency: "USD", Total: D("2"), Count: 1, Mode: "equal", CreatedAt: Base, ExpiresAt: Base.Add(time.Hour)},
		[]decimal.Decimal{D("2")}, envelopeFund("fund-1", alice.ID, "env-2", D("2"))); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("CreateEnvelope(the fund's key for other money) = %v, want %v", err, dialtone.ErrConflict)
	}
	// A key whose movement was posted without an envelope is a conflict too.
	orphan := envelopeFund("fund-orphan", alice.ID, "env-3", D("0.5"))
	if _, err := st.Post(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateEnvelope(ctx, &dialtone.Envelope{ID: "env-3", SenderID: alice.ID, Currency: "USD", Total: D("0.5"), Count: 1, Mode: "equal", CreatedAt: Base, ExpiresAt: Base.Add(time.Hour)},
		[]decimal.Decimal{D("0.5")}, envelopeFund("fund-orphan", alice.ID, "env-3", D("0.5"))); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("CreateEnvelope(a key posted without an envelope) = %v, want %v", err, dialtone.ErrConflict)
	}
	wantBalance(t, st, wallet, "8.499999")

	// Refusals store nothing and move no money.
	refused := []struct {
		name   string
		e      *dialtone.Envelope
		fund   *dialtone.Movement
		target error
	}{
		{"more than the wallet", &dialtone.Envelope{ID: "env-4", Total: D("100")}, envelopeFund("fund-4", alice.ID, "env-4", D("100")), dialtone.ErrInsufficientFunds},
		{"unbalanced fund", &dialtone.Envelope{ID: "env-5", Total: D("1")}, &dialtone.Movement{Key: "fund-5", Kind: "envelope", Currency: "USD",
			Postings: []dialtone.Posting{{Account: wallet, Amount: D("-1")}, {Account: dialtone.EnvelopeAccount("env-5"), Amount: D("0.9")}}}, dialtone.ErrInvalid},
		{"fund without a key", &dialtone.Envelope{ID: "env-6", Total: D("1")}, envelopeFund("", alice.ID, "env-6", D("1")), dialtone.ErrInvalid},
		{"a total with 7 decimals", &dialtone.Envelope{ID: "env-7", Total: D("0.0000001")}, envelopeFund("fund-7", alice.ID, "env-7", D("1")), dialtone.ErrInvalid},
	}
	for _, r := range refused {
		r.e.SenderID, r.e.Currency, r.e.Count, r.e.Mode, r.e.Recipients, r.e.CreatedAt, r.e.ExpiresAt = alice.ID, "USD", 1, "equal", []int64{bob.ID}, Base, Base.Add(time.Hour)
		if _, err := st.CreateEnvelope(ctx, r.e, []decimal.Decimal{r.e.Total}, r.fund); !errors.Is(err, r.target) {
			t.Errorf("CreateEnvelope(%s) = %v, want %v", r.name, err, r.target)
		}
		if _, _, err := st.Envelope(ctx, r.e.ID); !errors.Is(err, dialtone.ErrNotFound) {
			t.Errorf("Envelope(%s) after the refusal = %v, want %v", r.e.ID, err, dialtone.ErrNotFound)
		}
	}
	// An envelope ID is used once; a second envelope with it fails whole.
	if _, err := st.CreateEnvelope(ctx, &dialtone.Envelope{ID: "env-1", SenderID: alice.ID, Currency: "USD", Total: D("1"), Count: 1, Mode: "equal", CreatedAt: Base, ExpiresAt: Base.Add(time.Hour)},
		[]decimal.Decimal{D("1")}, envelopeFund("fund-dup", alice.ID, "env-1", D("1"))); err == nil {
		t.Errorf("CreateEnvelope(an existing ID, a new key) = nil, want an error")
	}
	// So does one whose recipient does not exist.
	if _, err := st.CreateEnvelope(ctx, &dialtone.Envelope{ID: "env-8", SenderID: alice.ID, Currency: "USD", Total: D("1"), Count: 1, Mode: "equal", Recipients: []int64{987654}, CreatedAt: Base, ExpiresAt: Base.Add(time.Hour)},
		[]decimal.Decimal{D("1")}, envelopeFund("fund-8", alice.ID, "env-8", D("1"))); err == nil {
		t.Errorf("CreateEnvelope(unknown recipient) = nil, want an error")
	}
	if _, _, err := st.Envelope(ctx, "env-8"); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("Envelope(env-8) after the refusal = %v, want %v", err, dialtone.ErrNotFound)
	}
	wantBalance(t, st, wallet, "8.499999")
	wantBalance(t, st, dialtone.EnvelopeAccount("env-1"), "1.000001")
	if _, gs, _ := st.Envelope(ctx, "env-1"); !sameGrabs(gs, wantGrabs) {
		t.Errorf("Envelope(env-1) shares after the refusals = %+v, want %+v", gs, wantGrabs)
	}
	CheckLedger(t, st)
}

func testEnvelopeGrabs(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob, carol, dave := newAccount(t, st, "alice"), newAccount(t, st, "bob"), newAccount(t, st, "carol"), newAccount(t, st, "dave")
	TopUp(t, st, alice.ID, "10")
	expires := Base.Add(24 * time.Hour)
	newEnvelope(t, st, "env-1", alice.ID, accountIDs(bob, carol, dave), expires, "0.5", "0.3")
	at := Base.Add(time.Hour + 21*time.Microsecond)

	grabErr := func(what, id string, who int64, at time.Time, target error) {
		t.Helper()
		if _, err := st.GrabEnvelope(ctx, id, who, at); !errors.Is(err, target) {
			t.Errorf("GrabEnvelope(%s) = %v, want %v", what, err, target)
		}
	}
	grabErr("unknown envelope", "nope", bob.ID, at, dialtone.ErrNotFound)
	grabErr("the sender, not a recipient", "env-1", alice.ID, at, dialtone.ErrForbidden)
	grabErr("unknown account", "env-1", 987654, at, dialtone.ErrForbidden)

	g, err := st.GrabEnvelope(ctx, "env-1", bob.ID, at)
	if err != nil || !reflect.DeepEqual(*g, dialtone.Grab{EnvelopeID: "env-1", N: 1, Amount: g.Amount, AccountID: bob.ID, At: at}) || !g.Amount.Equal(D("0.5")) {
		t.Fatalf("GrabEnvelope(bob) = %+v, %v; want share 1 of 0.5 at %s", g, err, at)
	}
	grabErr("bob again", "env-1", bob.ID, at, dialtone.ErrConflict)
	if g, err := st.GrabEnvelope(ctx, "env-1", dave.ID, at.Add(time.Second)); err != nil || g.N != 2 || !g.Amount.Equal(D("0.3")) {
		t.Errorf("GrabEnvelope(dave) = %+v, %v; want share 2 of 0.3", g, err)
	}
	grabErr("carol, every share taken", "env-1", carol.ID, at, dialtone.ErrExhausted)
	grabErr("bob, every share taken", "env-1", bob.ID, at, dialtone.ErrConflict)
	wantBalance(t, st, dialtone.WalletAccount(bob.ID), "0.5")
	wantBalance(t, st, dialtone.WalletAccount(dave.ID), "0.3")
	wantBalance(t, st, dialtone.WalletAccount(carol.ID), "0")
	wantBalance(t, st, dialtone.EnvelopeAccount("env-1"), "0")
	_, gs, err := st.Envelope(ctx, "env-1")
	wantGrabs := []dialtone.Grab{{EnvelopeID: "env-1", N: 1, Amount: D("0.5"), AccountID: bob.ID, At: at}, {EnvelopeID: "env-1", N: 2, Amount: D("0.3"), AccountID: dave.ID, At: at.Add(time.Second)}}
	if err != nil || !sameGrabs(gs, wantGrabs) {
		t.Errorf("Envelope() shares = %+v, %v; want %+v", gs, err, wantGrabs)
	}
	es, err := st.Entries(ctx, dialtone.WalletAccount(bob.ID), 0, 10)
	if err != nil || len(es) != 1 || es[0].Key != "envelope:env-1:share:1" || !es[0].Amount.Equal(D("0.5")) {
		t.Errorf("Entries(bob's wallet) = %+v, %v; want the one share, key envelope:env-1:share:1", es, err)
	}

	// Expiry: a grab at ExpiresAt or later finds nothing; the checks run in
	// the order recipient, grabbed already, expired.
	newEnvelope(t, st, "env-2", alice.ID, accountIDs(bob, carol), expires, "0.1", "0.1")
	grabErr("at ExpiresAt", "env-2", bob.ID, expires, dialtone.ErrExhausted)
	if _, err := st.GrabEnvelope(ctx, "env-2", bob.ID, expires.Add(-time.Microsecond)); err != nil {
		t.Errorf("GrabEnvelope(1µs before ExpiresAt) = %v", err)
	}
	grabErr("bob after expiry", "env-2", bob.ID, expires.Add(time.Hour), dialtone.ErrConflict)
	grabErr("dave after expiry", "env-2", dave.ID, expires.Add(time.Hour), dialtone.ErrForbidden)
	grabErr("carol after expiry", "env-2", carol.ID, expires.Add(time.Hour), dialtone.ErrExhausted)
	wantBalance(t, st, dialtone.EnvelopeAccount("env-2"), "0.1")
	wantBalance(t, st, dialtone.WalletAccount(alice.ID), "9.0")
	CheckLedger(t, st)
}

func testEnvelopeExpiry(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob, carol := newAccount(t, st, "alice"), newAccount(t, st, "bob"), newAccount(t, st, "carol")
	TopUp(t, st, alice.ID, "10")
	TopUp(t, st, carol.ID, "10")
	now := Base.Add(time.Hour)
	newEnvelope(t, st, "partly", alice.ID, accountIDs(bob), Base.Add(50*time.Minute), "0.1", "0.2", "0.3")
	newEnvelope(t, st, "emptied", alice.ID, accountIDs(bob), Base.Add(30*time.Minute), "0.4")
	newEnvelope(t, st, "at-now", carol.ID, accountIDs(bob), now, "1", "2")
	newEnvelope(t, st, "later", alice.ID, accountIDs(bob), now.Add(time.Microsecond), "0.5")
	for _, id := range []string{"partly", "emptied"} {
		if _, err := st.GrabEnvelope(ctx, id, bob.ID, Base.Add(10*time.Minute)); err != nil {
			t.Fatalf("GrabEnvelope(%s) = %v", id, err)
		}
	}
	wantBalance(t, st, dialtone.WalletAccount(alice.ID), "8.5")
	wantBalance(t, st, dialtone.WalletAccount(carol.ID), "7")
	wantBalance(t, st, dialtone.WalletAccount(bob.ID), "0.5")

	if ids, err := st.ExpireEnvelopes(ctx, Base); err != nil || len(ids) != 0 {
		t.Errorf("ExpireEnvelopes(before any expiry) = %v, %v; want none", ids, err)
	}
	ids, err := st.ExpireEnvelopes(ctx, now)
	if err != nil || !reflect.DeepEqual(ids, []string{"emptied", "partly", "at-now"}) {
		t.Fatalf("ExpireEnvelopes(now) = %v, %v; want [emptied partly at-now]: by expiry, emptied ones too, ExpiresAt == now included", ids, err)
	}
	// Each sender gets back what nobody grabbed.
	wantBalance(t, st, dialtone.WalletAccount(alice.ID), "9.0")
	wantBalance(t, st, dialtone.WalletAccount(carol.ID), "10")
	wantBalance(t, st, dialtone.WalletAccount(bob.ID), "0.5")
	for id, refunded := range map[string]string{"partly": "0.5", "emptied": "0", "at-now": "3"} {
		e, gs, err := st.Envelope(ctx, id)
		if err != nil || !e.RefundedAt.Equal(now) || !e.Refunded.Equal(D(refunded)) {
			t.Errorf("Envelope(%s) = %+v, %v; want refunded %s at %s", id, e, err, refunded, now)
			continue
		}
		wantBalance(t, st, dialtone.EnvelopeAccount(id), "0")
		for _, g := range gs {
			if g.N > 1 && g.AccountID != 0 {
				t.Errorf("Envelope(%s) share %d taken by %d after the refund", id, g.N, g.AccountID)
			}
		}
	}
	if e, _, _ := st.Envelope(ctx, "later"); !e.RefundedAt.IsZero() || !e.Refunded.IsZero() {
		t.Errorf("Envelope(later) = %+v, want not refunded", e)
	}
	es, _ := st.Entries(ctx, dialtone.WalletAccount(alice.ID), 0, 1)
	if len(es) != 1 || es[0].Key != "envelope:partly:refund" || !es[0].Amount.Equal(D("0.5")) {
		t.Errorf("Entries(alice's wallet) newest = %+v; want the refund of partly, key envelope:partly:refund", es)
	}

	// Once each: a later run refunds nothing again, and a refunded envelope
	// gives nothing even to a grab dated before its expiry.
	if ids, err := st.ExpireEnvelopes(ctx, now); err != nil || len(ids) != 0 {
		t.Errorf("ExpireEnvelopes(now) again = %v, %v; want none", ids, err)
	}
	if _, err := st.GrabEnvelope(ctx, "at-now", bob.ID, Base); !errors.Is(err, dialtone.ErrExhausted) {
		t.Errorf("GrabEnvelope(refunded, dated before expiry) = %v, want %v", err, dialtone.ErrExhausted)
	}
	if ids, err := st.ExpireEnvelopes(ctx, now.Add(time.Hour)); err != nil || !reflect.DeepEqual(ids, []string{"later"}) {
		t.Errorf("ExpireEnvelopes(an hour later) = %v, %v; want [later]", ids, err)
	}
	wantBalance(t, st, dialtone.WalletAccount(alice.ID), "9.5")
	CheckLedger(t, st)
}

// testEnvelopeGrabsConcurrent: 30 recipients grabbing 3 times each at once
// take the 10 shares exactly, one each at most.
func testEnvelopeGrabsConcurrent(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	TopUp(t, st, alice.ID, "10")
	var recipients []*dialtone.Account
	for i := range 30 {
		recipients = append(recipients, newAccount(t, st, fmt.Sprintf("r%02d", i)))
	}
	shares := []string{"0.01", "0.02", "0.03", "0.04", "0.05", "0.06", "0.07", "0.08", "0.09", "0.10"}
	newEnvelope(t, st, "env", alice.ID, accountIDs(recipients...), Base.Add(time.Hour), shares...)
	var mu sync.Mutex
	won := map[int64][]dialtone.Grab{}
	var wg sync.WaitGroup
	for _, r := range recipients {
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g, err := st.GrabEnvelope(ctx, "env", r.ID, Base)
				switch {
				case err == nil:
					mu.Lock()
					won[r.ID] = append(won[r.ID], *g)
					mu.Unlock()
				case errors.Is(err, dialtone.ErrConflict), errors.Is(err, dialtone.ErrExhausted):
				default:
					t.Errorf("GrabEnvelope(%s) = %v", r.Username, err)
				}
			}()
		}
	}
	wg.Wait()
	var ns []int
	sum := decimal.Zero
	for who, gs := range won {
		if len(gs) != 1 {
			t.Errorf("account %d grabbed %d shares, want at most 1", who, len(gs))
		}
		for _, g := range gs {
			ns = append(ns, g.N)
			sum = sum.Add(g.Amount)
			wantBalance(t, st, dialtone.WalletAccount(who), g.Amount.String())
		}
	}
	slices.Sort(ns)
	if len(slices.Compact(slices.Clone(ns))) != len(ns) {
		t.Errorf("90 grabs by 30 recipients of 10 shares took shares %v: one share twice", ns)
	}
	wantBalance(t, st, dialtone.EnvelopeAccount("env"), D("0.55").Sub(sum).String())
	_, gs, _ := st.Envelope(ctx, "env")
	for _, g := range gs {
		if w := won[g.AccountID]; g.AccountID != 0 && (len(w) != 1 || w[0].N != g.N) {
			t.Errorf("Envelope() share %d is recorded as %d's, who was told %+v", g.N, g.AccountID, w)
		}
	}
	CheckLedger(t, st)
	// 30 recipients asked: every share was taken.
	if !reflect.DeepEqual(ns, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) || !sum.Equal(D("0.55")) {
		msg := fmt.Sprintf("90 grabs by 30 recipients (3 each) of 10 shares took shares %v worth %s; want each of the 10, worth 0.55", ns, sum)
		t.Error(msg)
	}
}

// testEnvelopeDoubleGrabConcurrent: a recipient grabbing 20 times at once
// gets one share and 19 conflicts, and leaves the other share to the other
// recipient, who grabs 5 times at the same moment.
func testEnvelopeDoubleGrabConcurrent(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob, carol := newAccount(t, st, "alice"), newAccount(t, st, "bob"), newAccount(t, st, "carol")
	TopUp(t, st, alice.ID, "10")
	newEnvelope(t, st, "env", alice.ID, accountIDs(bob, carol), Base.Add(time.Hour), "0.1", "0.2")
	type tally struct{ ok, conflict, exhausted atomic.Int64 }
	var tb, tc tally
	var wg sync.WaitGroup
	start := make(chan struct{})
	grab := func(who *dialtone.Account, n int, c *tally) {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := st.GrabEnvelope(ctx, "env", who.ID, Base)
				switch {
				case err == nil:
					c.ok.Add(1)
				case errors.Is(err, dialtone.ErrConflict):
					c.conflict.Add(1)
				case errors.Is(err, dialtone.ErrExhausted):
					c.exhausted.Add(1)
				default:
					t.Errorf("GrabEnvelope(%s) = %v", who.Username, err)
				}
			}()
		}
	}
	grab(bob, 20, &tb)
	grab(carol, 5, &tc)
	close(start)
	wg.Wait()
	// Never: a share twice, an account twice, money out of thin air.
	if tb.ok.Load() > 1 || tc.ok.Load() > 1 {
		t.Errorf("grabs at once: bob got %d shares, carol %d; want at most 1 each", tb.ok.Load(), tc.ok.Load())
	}
	_, gs, _ := st.Envelope(ctx, "env")
	left := decimal.Zero
	for _, g := range gs {
		if g.AccountID == 0 {
			left = left.Add(g.Amount)
		}
	}
	wantBalance(t, st, dialtone.EnvelopeAccount("env"), left.String())
	CheckLedger(t, st)
	// Each recipient got a share, and "grabbed already" was the answer to
	// every other try: with 2 shares for 2 recipients nothing is exhausted.
	if tb.ok.Load() != 1 || tc.ok.Load() != 1 || tb.exhausted.Load() != 0 || tc.exhausted.Load() != 0 {
		msg := fmt.Sprintf("bob grabbing 20 times and carol 5 times at once, 2 shares: bob %d ok, %d ErrConflict, %d ErrExhausted; carol %d ok, %d ErrConflict, %d ErrExhausted; %s left unclaimed; want 1 ok and the rest ErrConflict each, nothing left",
			tb.ok.Load(), tb.conflict.Load(), tb.exhausted.Load(), tc.ok.Load(), tc.conflict.Load(), tc.exhausted.Load(), left)
		t.Error(msg)
	}
}

// testEnvelopeGrabsAgainstExpiry: grabs racing the refund never pay a share
// twice: what was grabbed plus what was refunded is the total.
func testEnvelopeGrabsAgainstExpiry(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	TopUp(t, st, alice.ID, "10")
	var recipients []*dialtone.Account
	for i := range 20 {
		recipients = append(recipients, newAccount(t, st, fmt.Sprintf("r%02d", i)))
	}
	expires := Base.Add(time.Hour)
	e := newEnvelope(t, st, "env", alice.ID, accountIDs(recipients...), expires, "0.1", "0.1", "0.1", "0.1", "0.1", "0.1", "0.1", "0.1", "0.1", "0.1")
	var mu sync.Mutex
	grabbed := decimal.Zero
	var refunds atomic.Int64
	var wg sync.WaitGroup
	for i, r := range recipients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%4 == 0 {
				ids, err := st.ExpireEnvelopes(ctx, expires)
				if err != nil {
					t.Errorf("ExpireEnvelopes() = %v", err)
				}
				refunds.Add(int64(len(ids)))
			}
			g, err := st.GrabEnvelope(ctx, "env", r.ID, expires.Add(-time.Microsecond))
			switch {
			case err == nil:
				mu.Lock()
				grabbed = grabbed.Add(g.Amount)
				mu.Unlock()
			case errors.Is(err, dialtone.ErrExhausted):
			default:
				t.Errorf("GrabEnvelope(%s) = %v", r.Username, err)
			}
		}()
	}
	wg.Wait()
	if ids, err := st.ExpireEnvelopes(ctx, expires); err != nil {
		t.Fatal(err)
	} else {
		refunds.Add(int64(len(ids)))
	}
	got, _, err := st.Envelope(ctx, "env")
	if err != nil {
		t.Fatal(err)
	}
	if refunds.Load() != 1 || !grabbed.Add(got.Refunded).Equal(e.Total) {
		t.Errorf("grabs racing expiry: refunded %d times; grabbed %s + refunded %s, want once and %s in all", refunds.Load(), grabbed, got.Refunded, e.Total)
	}
	wantBalance(t, st, dialtone.EnvelopeAccount("env"), "0")
	wantBalance(t, st, dialtone.WalletAccount(alice.ID), D("9").Add(got.Refunded).String())
	CheckLedger(t, st)
}

// testEnvelopeExpiryConcurrent: expiry runs at once refund each envelope once.
func testEnvelopeExpiryConcurrent(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob := newAccount(t, st, "alice"), newAccount(t, st, "bob")
	TopUp(t, st, alice.ID, "10")
	for i := range 8 {
		newEnvelope(t, st, fmt.Sprintf("env-%d", i), alice.ID, accountIDs(bob), Base.Add(time.Duration(i)*time.Minute), "0.25", "0.25")
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids, err := st.ExpireEnvelopes(ctx, Base.Add(time.Hour))
			if err != nil {
				t.Errorf("ExpireEnvelopes() = %v", err)
			}
			mu.Lock()
			for _, id := range ids {
				seen[id]++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(seen) != 8 {
		t.Errorf("10 concurrent expiry runs returned %d envelopes, want 8: %v", len(seen), seen)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("envelope %s was returned by %d expiry runs, want 1", id, n)
		}
	}
	wantBalance(t, st, dialtone.WalletAccount(alice.ID), "10")
	CheckLedger(t, st)
}
