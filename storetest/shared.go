package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

// runShared registers the subtests of what the nodes share: slots, ban
// changes and registrations.
func runShared(t *testing.T, open func(t *testing.T) dialtone.Store) {
	t.Run("Slots", func(t *testing.T) { testSlots(t, open(t)) })
	t.Run("SlotsConcurrent", func(t *testing.T) { testSlotsConcurrent(t, open(t)) })
	t.Run("BanChanges", func(t *testing.T) { testBanChanges(t, open(t)) })
	t.Run("Registrations", func(t *testing.T) { testRegistrations(t, open(t)) })
}

var errFull = errors.New("full")

// limit admits while fewer than maxOpen are open and fewer than maxRecent started.
func limit(maxOpen, maxRecent int, saw *[2]int) func(open, recent int) error {
	return func(open, recent int) error {
		if saw != nil {
			*saw = [2]int{open, recent}
		}
		if open >= maxOpen || recent >= maxRecent {
			return errFull
		}
		return nil
	}
}

func testSlots(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	ttl := time.Minute
	take := func(scope, id, node string, now time.Time, maxOpen, maxRecent int) ([2]int, error) {
		var saw [2]int
		err := st.TakeSlot(ctx, scope, id, node, now, now.Add(ttl), limit(maxOpen, maxRecent, &saw))
		return saw, err
	}
	// Two open slots of a scope fill a limit of 2, whichever node took them.
	if _, err := take("account:1", "a", "n1", Base, 2, 10); err != nil {
		t.Fatalf("TakeSlot(a) = %v", err)
	}
	if saw, err := take("account:1", "b", "n2", Base.Add(time.Second), 2, 10); err != nil || saw != [2]int{1, 1} {
		t.Fatalf("TakeSlot(b) = %v, saw %v; want nil, [1 1]", err, saw)
	}
	if saw, err := take("account:1", "c", "n1", Base.Add(2*time.Second), 2, 10); !errors.Is(err, errFull) || saw != [2]int{2, 2} {
		t.Fatalf("TakeSlot(c) over the limit = %v, saw %v; want %v, [2 2]", err, saw, errFull)
	}
	// Another scope is independent.
	if saw, err := take("carrier:x", "x1", "n1", Base.Add(2*time.Second), 1, 10); err != nil || saw != [2]int{0, 0} {
		t.Errorf("TakeSlot(carrier:x) = %v, saw %v; want nil, [0 0]", err, saw)
	}
	// A release frees the slot; the start still counts within the minute.
	if err := st.ReleaseSlot(ctx, "a", Base.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := st.ReleaseSlot(ctx, "a", Base.Add(4*time.Second)); err != nil {
		t.Errorf("ReleaseSlot(a again) = %v", err)
	}
	if saw, err := take("account:1", "d", "n1", Base.Add(5*time.Second), 2, 3); err != nil || saw != [2]int{1, 2} {
		t.Fatalf("TakeSlot(d) after a release = %v, saw %v; want nil, [1 2]", err, saw)
	}
	// Three starts within the minute refuse a fourth under 3 a minute.
	if _, err := take("account:1", "e", "n1", Base.Add(6*time.Second), 10, 3); !errors.Is(err, errFull) {
		t.Errorf("TakeSlot(e) over the rate = %v, want %v", err, errFull)
	}
	// A minute after a start, it no longer counts; b, not renewed, expired.
	if saw, err := take("account:1", "f", "n1", Base.Add(61*time.Second), 10, 3); err != nil || saw != [2]int{1, 1} {
		t.Errorf("TakeSlot(f) a minute on = %v, saw %v; want nil, [1 1] (d)", err, saw)
	}
	// Slots not renewed expire: a dead node's calls free the limit.
	late := Base.Add(ttl + 62*time.Second)
	if saw, err := take("account:1", "g", "n3", late, 10, 10); err != nil || saw != [2]int{0, 0} {
		t.Errorf("TakeSlot(g) after the expiries = %v, saw %v; want nil, [0 0]", err, saw)
	}
	// Renewing keeps a node's open slots: n1's f and x1, not the released a.
	if n, err := st.RenewSlots(ctx, "n1", late.Add(ttl)); err != nil || n != 3 {
		t.Errorf("RenewSlots(n1) = %d, %v; want 3 (d, f, x1)", n, err)
	}
	if saw, err := take("account:1", "h", "n3", late.Add(time.Second), 10, 10); err != nil || saw != [2]int{3, 1} {
		t.Errorf("TakeSlot(h) after the renewal = %v, saw %v; want nil, [3 1]", err, saw)
	}
	// A node starting again closes its own open slots only.
	if n, err := st.ReleaseNodeSlots(ctx, "n1", late.Add(2*time.Second)); err != nil || n != 3 {
		t.Errorf("ReleaseNodeSlots(n1) = %d, %v; want 3", n, err)
	}
	if saw, err := take("account:1", "i", "n3", late.Add(3*time.Second), 10, 10); err != nil || saw != [2]int{2, 2} {
		t.Errorf("TakeSlot(i) after n1 restarted = %v, saw %v; want nil, [2 2] (g, h)", err, saw)
	}
	// Purging forgets the slots ended or expired before a time, never open ones.
	n, err := st.PurgeSlots(ctx, late.Add(10*time.Second))
	if err != nil || n != 5 {
		t.Errorf("PurgeSlots() = %d, %v; want 5 (a b d f x1)", n, err)
	}
	if saw, err := take("account:1", "j", "n3", late.Add(4*time.Second), 10, 10); err != nil || saw != [2]int{3, 3} {
		t.Errorf("TakeSlot(j) after a purge = %v, saw %v; want nil, [3 3]", err, saw)
	}
}

// testSlotsConcurrent: many takes at once against a limit of 2 admit
// exactly 2.
func testSlotsConcurrent(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	const n = 12
	now := time.Now().UTC()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- st.TakeSlot(ctx, "account:7", fmt.Sprintf("call-%d", i), fmt.Sprintf("node-%d", i%2), now, now.Add(time.Minute), limit(2, 100, nil))
		}()
	}
	wg.Wait()
	close(errs)
	admitted := 0
	for err := range errs {
		switch {
		case err == nil:
			admitted++
		case !errors.Is(err, errFull):
			t.Errorf("TakeSlot() = %v", err)
		}
	}
	if admitted != 2 {
		t.Errorf("%d concurrent takes against a limit of 2 admitted %d, want 2", n, admitted)
	}
}

func testBanChanges(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	if got, err := st.BanChanges(ctx, time.Time{}); err != nil || len(got) != 0 {
		t.Fatalf("BanChanges() on an empty store = %v, %v; want none", got, err)
	}
	before := time.Now().UTC().Add(-time.Second)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	banA := dialtone.Ban{Addr: a, Reason: "auth", Since: Base, Until: Base.Add(time.Hour), Failures: 5, Count: 2}
	banB := dialtone.Ban{Addr: b, Reason: "flood", Since: Base, Until: Base.Add(time.Hour), Failures: 300, Count: 1}
	for _, ban := range []dialtone.Ban{banA, banB} {
		if err := st.SaveBan(ctx, ban); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.BanChanges(ctx, before)
	if err != nil || len(got) != 2 {
		t.Fatalf("BanChanges() after two bans = %+v, %v; want 2", got, err)
	}
	for _, c := range got {
		if c.Lifted || c.At.Before(before) {
			t.Errorf("change %+v: want a ban, stamped after %v", c, before)
		}
	}
	mark := got[1].At
	time.Sleep(2 * time.Millisecond)
	lifted := Base.Add(time.Minute)
	if err := st.LiftBan(ctx, a, lifted); err != nil {
		t.Fatalf("LiftBan(%s) = %v", a, err)
	}
	if err := st.LiftBan(ctx, netip.MustParseAddr("198.51.100.1"), lifted); err != nil {
		t.Errorf("LiftBan(unknown) = %v, want nil", err)
	}
	got, err = st.BanChanges(ctx, mark.Add(time.Microsecond))
	if err != nil || len(got) != 1 {
		t.Fatalf("BanChanges(after the bans) = %+v, %v; want the lift only", got, err)
	}
	want := banA
	want.Until, want.Count = lifted, 0
	if c := got[0]; !c.Lifted || !reflect.DeepEqual(c.Ban, want) {
		t.Errorf("lift = %+v; want lifted %+v", c, want)
	}
	// A lifted ban is listed, ended, and a new ban replaces it.
	wantBans(t, st, want, banB)
	again := banA
	again.Since, again.Until, again.Count = Base.Add(2*time.Hour), Base.Add(3*time.Hour), 1
	if err := st.SaveBan(ctx, again); err != nil {
		t.Fatal(err)
	}
	got, err = st.BanChanges(ctx, mark.Add(time.Microsecond))
	if err != nil || len(got) != 1 || got[0].Lifted || !reflect.DeepEqual(got[0].Ban, again) {
		t.Errorf("BanChanges() after a new ban = %+v, %v; want %+v", got, err, again)
	}
}

func testRegistrations(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	now := Base
	alice1 := dialtone.Registration{Username: "alice", Contact: "sip:a1@192.0.2.1:5060", Source: "192.0.2.1:5060", Transport: "udp", Node: "n1", Expires: now.Add(time.Hour)}
	alice2 := dialtone.Registration{Username: "alice", Contact: "sip:a2@df7jal23ls0d.invalid;transport=ws", Source: "192.0.2.2:40000", Transport: "ws", Node: "n2", Expires: now.Add(time.Minute)}
	bob := dialtone.Registration{Username: "bob", Contact: "sip:b@192.0.2.3:5060", Source: "192.0.2.3:5060", Transport: "tcp", Node: "n1", Expires: now.Add(time.Hour)}
	if err := st.SaveRegistrations(ctx, []dialtone.Registration{alice1, alice2, bob}, now); err != nil {
		t.Fatalf("SaveRegistrations() = %v", err)
	}
	want := func(name string, user string, at time.Time, rs ...dialtone.Registration) {
		t.Helper()
		got, err := st.Registrations(ctx, user, at)
		if err != nil || !reflect.DeepEqual(got, rs) {
			t.Errorf("%s: Registrations(%q) = %+v, %v; want %+v", name, user, got, err, rs)
		}
	}
	want("saved", "", now, alice1, alice2, bob)
	want("one user", "alice", now, alice1, alice2)
	want("expired are not live", "alice", now.Add(2*time.Minute), alice1)

	// A refresh from another node moves the binding; a past expiry removes it.
	moved := alice1
	moved.Node, moved.Source, moved.Expires = "n2", "192.0.2.9:5070", now.Add(2*time.Hour)
	gone := bob
	gone.Expires = now
	if err := st.SaveRegistrations(ctx, []dialtone.Registration{moved, gone}, now); err != nil {
		t.Fatal(err)
	}
	want("refreshed", "", now, moved, alice2)
	// Clearing removes the bindings one node holds.
	if err := st.ClearRegistrations(ctx, "alice", "n2"); err != nil {
		t.Fatal(err)
	}
	want("cleared", "", now)
	if err := st.SaveRegistrations(ctx, []dialtone.Registration{alice1, alice2}, now); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PurgeRegistrations(ctx, now.Add(2*time.Minute)); err != nil || n != 1 {
		t.Errorf("PurgeRegistrations() = %d, %v; want 1", n, err)
	}
	want("purged", "", now, alice1)
}
