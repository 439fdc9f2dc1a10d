package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/dialtone/dialtone"
)

// post is one movement posted among others at once, and what Post gave.
type post struct {
	m        *dialtone.Movement
	ctx      context.Context
	replayed bool
	err      error
}

// postAtOnce posts every movement from its own goroutine, all released
// together, so that a store that takes concurrent movements together gets
// them in the same batches.
func postAtOnce(st dialtone.Store, posts []*post) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range posts {
		if p.ctx == nil {
			p.ctx = context.Background()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			p.replayed, p.err = st.Post(p.ctx, p.m)
		}()
	}
	close(start)
	wg.Wait()
}

// checkEntries fails the test unless the account's entries, oldest first,
// each leave the balance the one before left plus their amount, none of
// them below zero, and the last one the account's balance.
func checkEntries(t *testing.T, st dialtone.Store, account string) {
	t.Helper()
	es, err := st.Entries(context.Background(), account, 0, 1000)
	if err != nil {
		t.Fatalf("Entries(%s) = %v", account, err)
	}
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if e.Balance.IsNegative() {
			t.Errorf("%s: entry %s leaves %s", account, e.Key, e.Balance)
		}
		if i < len(es)-1 && !es[i+1].Balance.Add(e.Amount).Equal(e.Balance) {
			t.Errorf("%s: entry %s of %s leaves %s after %s", account, e.Key, e.Amount, e.Balance, es[i+1].Balance)
		}
	}
	if len(es) > 0 {
		wantBalance(t, st, account, es[0].Balance.String())
	}
}

// testLedgerAtOnce posts many movements at the same instant: on one hot
// wallet without the funds for all, over many wallets, with failing ones
// among them, with one idempotency key several times, to accounts that do
// not exist yet, and from callers that leave. Each must get what it would
// alone, and the ledger must hold.
func testLedgerAtOnce(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	fund, rev := dialtone.FundingAccount("USD"), dialtone.CallRevenueAccount("USD")
	spend := func(key string, wallet int64, amount string) *post {
		return &post{m: Move(t, dialtone.Transfer{Key: key, Kind: "call", Currency: "USD", From: dialtone.WalletAccount(wallet), To: rev, Amount: D(amount)})}
	}

	t.Run("HotWallet", func(t *testing.T) {
		TopUp(t, st, 1, "1.00")
		var posts []*post
		for i := range 80 {
			posts = append(posts, spend(fmt.Sprintf("hot-%d", i), 1, "0.03"))
		}
		postAtOnce(st, posts)
		ok, ids := 0, map[int64]bool{}
		for _, p := range posts {
			switch {
			case p.err == nil && !p.replayed:
				ok++
				if p.m.ID == 0 || ids[p.m.ID] || p.m.CreatedAt.IsZero() {
					t.Errorf("Post(%s) = id %d, created %v: want a new id and a time", p.m.Key, p.m.ID, p.m.CreatedAt)
				}
				ids[p.m.ID] = true
			case errors.Is(p.err, dialtone.ErrInsufficientFunds):
			default:
				t.Errorf("Post(%s) = %v, %v; want posted or %v", p.m.Key, p.replayed, p.err, dialtone.ErrInsufficientFunds)
			}
		}
		if ok != 33 {
			t.Errorf("80 debits of 0.03 at once from 1.00: %d posted, want 33", ok)
		}
		wantBalance(t, st, dialtone.WalletAccount(1), "0.01")
		checkEntries(t, st, dialtone.WalletAccount(1))
	})

	t.Run("ManyWallets", func(t *testing.T) {
		// Ten wallets of 0.10 each get ten debits of 0.03 and two
		// transfers to the next wallet of 0.05, all at once.
		const wallets = 10
		for w := range int64(wallets) {
			TopUp(t, st, 100+w, "0.10")
		}
		var posts []*post
		for i := range 10 {
			for w := range int64(wallets) {
				posts = append(posts, spend(fmt.Sprintf("many-%d-%d", w, i), 100+w, "0.03"))
			}
		}
		for w := range int64(wallets) {
			for i := range 2 {
				posts = append(posts, &post{m: Move(t, dialtone.Transfer{Key: fmt.Sprintf("move-%d-%d", w, i), Kind: "transfer", Currency: "USD",
					From: dialtone.WalletAccount(100 + w), To: dialtone.WalletAccount(100 + (w+1)%wallets), Amount: D("0.05")})})
			}
		}
		postAtOnce(st, posts)
		left := D("1.00")
		for _, p := range posts {
			if p.err != nil && !errors.Is(p.err, dialtone.ErrInsufficientFunds) || p.replayed {
				t.Errorf("Post(%s) = %v, %v; want posted or %v", p.m.Key, p.replayed, p.err, dialtone.ErrInsufficientFunds)
			}
			if p.err == nil && p.m.Kind == "call" {
				left = left.Sub(D("0.03"))
			}
		}
		sum := D("0")
		for w := range int64(wallets) {
			checkEntries(t, st, dialtone.WalletAccount(100+w))
			sum = sum.Add(balance(t, st, dialtone.WalletAccount(100+w)))
		}
		if !sum.Equal(left) {
			t.Errorf("the wallets hold %s after their posted debits, want %s", sum, left)
		}
		CheckLedger(t, st)
	})

	t.Run("FailingAmongOthers", func(t *testing.T) {
		TopUp(t, st, 200, "5.00")
		TopUp(t, st, 201, "1.00")
		var posts, failing []*post
		for i := range 40 {
			posts = append(posts, spend(fmt.Sprintf("rich-%d", i), 200, "0.10"))
			if i%8 == 3 {
				empty := spend(fmt.Sprintf("empty-%d", i), 202, "0.01")
				other := &post{m: Move(t, dialtone.Transfer{Key: fmt.Sprintf("euro-%d", i), Kind: "call", Currency: "EUR",
					From: dialtone.WalletAccount(201), To: "revenue:calls:EUR", Amount: D("0.01")})}
				posts, failing = append(posts, empty, other), append(failing, empty, other)
			}
		}
		postAtOnce(st, posts)
		for _, p := range posts {
			want := error(nil)
			switch p.m.Key[:4] {
			case "empt":
				want = dialtone.ErrInsufficientFunds
			case "euro":
				want = dialtone.ErrInvalid
			}
			if want == nil && (p.err != nil || p.replayed) || want != nil && !errors.Is(p.err, want) {
				t.Errorf("Post(%s) = %v, %v; want %v", p.m.Key, p.replayed, p.err, want)
			}
		}
		wantBalance(t, st, dialtone.WalletAccount(200), "1.00")
		wantBalance(t, st, dialtone.WalletAccount(201), "1.00")
		checkEntries(t, st, dialtone.WalletAccount(200))
		CheckLedger(t, st)
	})

	t.Run("OneKey", func(t *testing.T) {
		TopUp(t, st, 300, "1.00")
		var posts []*post
		for i := range 30 {
			amount := "0.20"
			if i%3 == 0 {
				amount = "0.30" // the same key for another movement
			}
			posts = append(posts, spend("once", 300, amount))
			posts = append(posts, spend(fmt.Sprintf("other-%d", i), 300, "0.01"))
		}
		postAtOnce(st, posts)
		var first *post
		for _, p := range posts {
			if p.m.Key == "once" && p.err == nil && !p.replayed {
				if first != nil {
					t.Fatalf("key once posted twice: %v and %v", first.m.Postings, p.m.Postings)
				}
				first = p
			}
		}
		if first == nil {
			t.Fatal("key once: none of 30 posted")
		}
		for _, p := range posts {
			same := p.m.Postings[0].Amount.Equal(first.m.Postings[0].Amount)
			switch {
			case p == first:
			case p.m.Key != "once":
				if p.err != nil || p.replayed {
					t.Errorf("Post(%s) = %v, %v; want posted", p.m.Key, p.replayed, p.err)
				}
			case same && (p.err != nil || !p.replayed || p.m.ID != first.m.ID):
				t.Errorf("Post(once, same movement) = id %d, %v, %v; want replayed, id %d", p.m.ID, p.replayed, p.err, first.m.ID)
			case !same && !errors.Is(p.err, dialtone.ErrConflict):
				t.Errorf("Post(once, another movement) = %v, %v; want %v", p.replayed, p.err, dialtone.ErrConflict)
			}
		}
		for _, q := range first.m.Postings {
			if q.Account == dialtone.WalletAccount(300) {
				wantBalance(t, st, q.Account, D("0.70").Add(q.Amount).String())
			}
		}
		checkEntries(t, st, dialtone.WalletAccount(300))
	})

	t.Run("NewAccounts", func(t *testing.T) {
		// Top-ups of wallets that have no ledger account yet, among
		// debits of one that has, in a currency no house account has yet.
		TopUp(t, st, 400, "1.00")
		var posts []*post
		for i := range int64(20) {
			posts = append(posts, &post{m: Move(t, dialtone.Transfer{Key: fmt.Sprintf("new-%d", i), Kind: "topup", Currency: "USD",
				From: fund, To: dialtone.WalletAccount(500 + i), Amount: D("0.50")})})
			posts = append(posts, spend(fmt.Sprintf("old-%d", i), 400, "0.05"))
		}
		for i := range int64(4) {
			posts = append(posts, &post{m: Move(t, dialtone.Transfer{Key: fmt.Sprintf("gbp-%d", i), Kind: "topup", Currency: "GBP",
				From: dialtone.FundingAccount("GBP"), To: dialtone.WalletAccount(600 + i), Amount: D("2")})})
		}
		postAtOnce(st, posts)
		for _, p := range posts {
			if p.err != nil || p.replayed {
				t.Errorf("Post(%s) = %v, %v; want posted", p.m.Key, p.replayed, p.err)
			}
		}
		for i := range int64(20) {
			wantBalance(t, st, dialtone.WalletAccount(500+i), "0.50")
		}
		wantBalance(t, st, dialtone.WalletAccount(400), "0")
		wantBalance(t, st, dialtone.FundingAccount("GBP"), "-8")
		CheckLedger(t, st)
	})

	t.Run("CallersLeaving", func(t *testing.T) {
		TopUp(t, st, 700, "10.00")
		var posts []*post
		for i := range 60 {
			p := spend(fmt.Sprintf("leave-%d", i), 700, "0.01")
			if i%4 == 1 {
				cctx, cancel := context.WithCancel(ctx)
				if i%8 == 1 {
					cancel()
				} else {
					defer cancel()
					go cancel()
				}
				p.ctx = cctx
			}
			posts = append(posts, p)
		}
		postAtOnce(st, posts)
		for _, p := range posts {
			if p.ctx == ctx && (p.err != nil || p.replayed) {
				t.Errorf("Post(%s) = %v, %v; want posted", p.m.Key, p.replayed, p.err)
			}
			if p.ctx != ctx && p.err != nil && !errors.Is(p.err, context.Canceled) {
				t.Errorf("Post(%s, cancelled) = %v; want posted or %v", p.m.Key, p.err, context.Canceled)
			}
		}
		checkEntries(t, st, dialtone.WalletAccount(700))
		CheckLedger(t, st)
	})
}
