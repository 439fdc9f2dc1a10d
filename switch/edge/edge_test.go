package edge

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

func TestRegistrar(t *testing.T) {
	r := NewRegistrar()
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	live := r.Update("alice", []Binding{{Contact: "sip:alice@10.0.0.1:5060", Expires: now.Add(time.Hour)}}, now)
	if len(live) != 1 || r.Count() != 1 {
		t.Fatalf("Update = %v (count %d), want one binding", live, r.Count())
	}
	// A refresh replaces, a second device adds.
	r.Update("alice", []Binding{{Contact: "sip:alice@10.0.0.1:5060", Expires: now.Add(2 * time.Hour)}, {Contact: "sip:alice@10.0.0.2:5060", Expires: now.Add(time.Minute)}}, now)
	if got := r.Lookup("alice", now); len(got) != 2 {
		t.Errorf("Lookup = %v, want two bindings", got)
	}
	if got := r.Lookup("alice", now.Add(90*time.Minute)); len(got) != 1 || got[0].Contact != "sip:alice@10.0.0.1:5060" {
		t.Errorf("Lookup after the short binding expired = %v, want the refreshed one", got)
	}
	// Expires 0 removes.
	r.Update("alice", []Binding{{Contact: "sip:alice@10.0.0.1:5060", Expires: now}, {Contact: "sip:alice@10.0.0.2:5060", Expires: now}}, now)
	if r.Count() != 0 {
		t.Errorf("Count() = %d after removing every binding, want 0", r.Count())
	}
	r.Update("bob", []Binding{{Contact: "sip:bob@h", Expires: now.Add(time.Hour)}}, now)
	r.Clear("bob")
	if r.Count() != 0 {
		t.Errorf("Count() = %d after Clear, want 0", r.Count())
	}
}

type countingAccounts struct {
	reads int
	acct  *dialtone.Account
}

func (c *countingAccounts) AccountByUsername(_ context.Context, name string) (*dialtone.Account, error) {
	c.reads++
	if name != c.acct.Username {
		return nil, dialtone.ErrNotFound
	}
	a := *c.acct
	return &a, nil
}

func TestAccountCache(t *testing.T) {
	store := &countingAccounts{acct: &dialtone.Account{Username: "alice", Status: dialtone.AccountActive}}
	c := NewAccountCache(store, 2*time.Second)
	now := time.Now()
	c.now = func() time.Time { return now }
	ctx := context.Background()
	for range 3 {
		if _, err := c.AccountByUsername(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if store.reads != 1 {
		t.Errorf("3 lookups within the TTL read the store %d times, want 1", store.reads)
	}
	store.acct.Status = dialtone.AccountDisabled
	now = now.Add(3 * time.Second)
	a, _ := c.AccountByUsername(ctx, "alice")
	if a.Status != dialtone.AccountDisabled || store.reads != 2 {
		t.Errorf("after the TTL, status %q with %d reads, want disabled and a second read", a.Status, store.reads)
	}
	// Unknown users are not cached: creating one works at once.
	if _, err := c.AccountByUsername(ctx, "bob"); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("AccountByUsername(bob) = %v, want %v", err, dialtone.ErrNotFound)
	}
	if _, err := c.AccountByUsername(ctx, "bob"); !errors.Is(err, dialtone.ErrNotFound) || store.reads != 4 {
		t.Errorf("second lookup of an unknown user read the store %d times, want every time", store.reads)
	}
}
