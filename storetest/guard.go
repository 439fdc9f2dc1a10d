package storetest

import (
	"context"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

// runGuard registers the BanStore and NonceStore subtests.
func runGuard(t *testing.T, open func(t *testing.T) dialtone.Store) {
	t.Run("Bans", func(t *testing.T) { testBans(t, open(t)) })
	t.Run("Nonces", func(t *testing.T) { testNonces(t, open(t)) })
	t.Run("NoncesConcurrent", func(t *testing.T) { testNoncesConcurrent(t, open(t)) })
}

func testBans(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	if got, err := st.Bans(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Bans() on an empty store = %v, %v; want none", got, err)
	}
	v4, v6, other := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::7"), netip.MustParseAddr("192.0.2.9")
	ended := dialtone.Ban{Addr: v4, Reason: "auth", Since: Base, Until: Base.Add(time.Minute), Failures: 5, Count: 1}
	active := dialtone.Ban{Addr: v6, Reason: "flood", Since: Base.Add(time.Hour + 7*time.Microsecond), Until: Base.Add(2 * time.Hour), Failures: 300, Count: 2}
	third := dialtone.Ban{Addr: other, Reason: "auth", Since: Base, Until: Base.Add(time.Hour), Failures: 3, Count: 1}
	for _, b := range []dialtone.Ban{ended, active, third} {
		if err := st.SaveBan(ctx, b); err != nil {
			t.Fatalf("SaveBan(%s) = %v", b.Addr, err)
		}
	}
	// Ended bans are listed too, ordered by address.
	wantBans(t, st, third, ended, active)

	again := ended
	again.Reason, again.Since, again.Until, again.Failures, again.Count = "flood", Base.Add(3*time.Hour), Base.Add(5*time.Hour), 40, 2
	if err := st.SaveBan(ctx, again); err != nil {
		t.Fatalf("SaveBan(%s again) = %v", again.Addr, err)
	}
	wantBans(t, st, third, again, active)

	if err := st.DeleteBan(ctx, other); err != nil {
		t.Fatalf("DeleteBan(%s) = %v", other, err)
	}
	if err := st.DeleteBan(ctx, netip.MustParseAddr("198.51.100.1")); err != nil {
		t.Errorf("DeleteBan(unknown) = %v, want nil", err)
	}
	wantBans(t, st, again, active)
}

func wantBans(t *testing.T, st dialtone.Store, want ...dialtone.Ban) {
	t.Helper()
	got, err := st.Bans(context.Background())
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Bans() = %+v, %v; want %+v", got, err, want)
	}
}

func testNonces(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	expires := time.Now().Add(time.Minute)
	for _, tc := range []struct {
		nonce string
		nc    uint32
		want  bool
	}{
		{"n1", 1, true},  // first use
		{"n1", 1, false}, // the same count again: a replay
		{"n1", 3, true},  // higher
		{"n1", 2, false}, // lower
		{"n2", 1, true},  // another nonce is independent
		{"n2", 1, false},
		{"n1", 4, true},
		{"n3", 0xffffffff, true}, // the largest count fits
		{"n3", 0xffffffff, false},
	} {
		if ok, err := st.UseNonce(ctx, tc.nonce, tc.nc, expires); err != nil || ok != tc.want {
			t.Errorf("UseNonce(%q, %d) = %v, %v; want %v", tc.nonce, tc.nc, ok, err, tc.want)
		}
	}

	// Purging forgets the expired nonces only.
	if ok, err := st.UseNonce(ctx, "old", 1, Base); err != nil || !ok {
		t.Fatalf("UseNonce(%q, 1) = %v, %v; want true", "old", ok, err)
	}
	if n, err := st.PurgeNonces(ctx, Base.Add(time.Second)); err != nil || n != 1 {
		t.Errorf("PurgeNonces(Base+1s) = %d, %v; want 1", n, err)
	}
	if ok, err := st.UseNonce(ctx, "old", 1, Base); err != nil || !ok {
		t.Errorf("UseNonce(%q, 1) after its purge = %v, %v; want true", "old", ok, err)
	}
	if ok, err := st.UseNonce(ctx, "n1", 4, expires); err != nil || ok {
		t.Errorf("UseNonce(%q, 4) after a purge = %v, %v; want false", "n1", ok, err)
	}
}

// testNoncesConcurrent: a captured request sent many times at once is let
// through once.
func testNoncesConcurrent(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	expires := time.Now().Add(time.Minute)
	const n = 20
	var wg sync.WaitGroup
	oks, errs := make(chan bool, n), make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := st.UseNonce(ctx, "shared", 1, expires)
			oks <- ok
			errs <- err
		}()
	}
	wg.Wait()
	close(oks)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("UseNonce(%q, 1) = %v", "shared", err)
		}
	}
	count := 0
	for ok := range oks {
		if ok {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d concurrent UseNonce(%q, 1): %d ok, want exactly 1", n, "shared", count)
	}
}
