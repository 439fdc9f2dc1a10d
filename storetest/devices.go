package storetest

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

// runDevices registers the DeviceStore and SecretStore subtests.
func runDevices(t *testing.T, open func(t *testing.T) dialtone.Store) {
	t.Run("Devices", func(t *testing.T) { testDevices(t, open(t)) })
	t.Run("Secrets", func(t *testing.T) { testSecrets(t, open(t)) })
}

func newDevice(acct *dialtone.Account, username string) *dialtone.Device {
	return &dialtone.Device{AccountID: acct.ID, Name: "desk phone", Username: username, Realm: "dialtone",
		HA1MD5: "0123456789abcdef0123456789abcdef", HA1SHA256: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}
}

func testDevices(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob := NewAccount("alice"), NewAccount("bob")
	for _, a := range []*dialtone.Account{alice, bob} {
		if err := st.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	phone := newDevice(alice, "alice.desk")
	if err := st.CreateDevice(ctx, phone); err != nil || phone.ID == 0 || phone.CreatedAt.IsZero() {
		t.Fatalf("CreateDevice() = %v, ID %d, CreatedAt %v", err, phone.ID, phone.CreatedAt)
	}
	got, err := st.DeviceByUsername(ctx, "alice.desk")
	if err != nil {
		t.Fatalf("DeviceByUsername() = %v", err)
	}
	want := *phone
	want.Account = "alice"
	if *got != want {
		t.Errorf("DeviceByUsername() = %+v, want %+v", *got, want)
	}
	// Usernames are unique across accounts; unknown accounts and bad input are refused.
	if err := st.CreateDevice(ctx, newDevice(bob, "alice.desk")); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("CreateDevice(taken username) = %v, want ErrConflict", err)
	}
	if err := st.CreateDevice(ctx, newDevice(&dialtone.Account{ID: 99999}, "ghost")); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("CreateDevice(unknown account) = %v, want ErrNotFound", err)
	}
	if err := st.CreateDevice(ctx, newDevice(bob, "1767225600~bob")); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("CreateDevice(app credential username) = %v, want ErrInvalid", err)
	}
	if _, err := st.DeviceByUsername(ctx, "nobody"); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("DeviceByUsername(unknown) = %v, want ErrNotFound", err)
	}
	trunk := newDevice(alice, "alice.pbx")
	if err := st.CreateDevice(ctx, trunk); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateDevice(ctx, newDevice(bob, "bob")); err != nil {
		t.Fatal(err)
	}
	list, err := st.Devices(ctx, alice.ID)
	if err != nil || len(list) != 2 || list[0].Username != "alice.desk" || list[1].Username != "alice.pbx" || list[1].Account != "alice" {
		t.Fatalf("Devices(alice) = %+v, %v; want alice.desk and alice.pbx", list, err)
	}

	// Last seen, to the microsecond.
	at := Base.Add(90*time.Minute + 7*time.Microsecond)
	if err := st.DeviceSeen(ctx, phone.ID, netip.MustParseAddr("2001:db8::9"), at); err != nil {
		t.Fatalf("DeviceSeen() = %v", err)
	}
	got, _ = st.DeviceByUsername(ctx, "alice.desk")
	if !got.LastSeenAt.Equal(at) || got.LastSeenAddr != "2001:db8::9" {
		t.Errorf("after DeviceSeen: last seen %v from %q, want %v from 2001:db8::9", got.LastSeenAt, got.LastSeenAddr, at)
	}

	// New password of a live device.
	if err := st.SetDevicePassword(ctx, alice.ID, "alice.pbx", "other", "aa", "bb"); err != nil {
		t.Fatalf("SetDevicePassword() = %v", err)
	}
	if got, _ := st.DeviceByUsername(ctx, "alice.pbx"); got.Realm != "other" || got.HA1MD5 != "aa" || got.HA1SHA256 != "bb" {
		t.Errorf("after SetDevicePassword: %+v", got)
	}
	if err := st.SetDevicePassword(ctx, bob.ID, "alice.pbx", "r", "aa", "bb"); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("SetDevicePassword(another account's device) = %v, want ErrNotFound", err)
	}

	// Revocation: only by the owner; the first time stays; the username stays taken.
	if _, err := st.RevokeDevice(ctx, bob.ID, phone.ID, Base); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("RevokeDevice(another account's device) = %v, want ErrNotFound", err)
	}
	if d, _ := st.DeviceByUsername(ctx, "alice.desk"); d.Revoked() {
		t.Fatal("another account revoked alice's device")
	}
	first := Base.Add(2 * time.Hour)
	d, err := st.RevokeDevice(ctx, alice.ID, phone.ID, first)
	if err != nil || !d.RevokedAt.Equal(first) || !d.Revoked() {
		t.Fatalf("RevokeDevice() = %+v, %v; want revoked at %v", d, err, first)
	}
	if d, err := st.RevokeDevice(ctx, alice.ID, phone.ID, first.Add(time.Hour)); err != nil || !d.RevokedAt.Equal(first) {
		t.Errorf("RevokeDevice(again) = %v, %v; want the first time %v kept", d.RevokedAt, err, first)
	}
	if d, err := st.DeviceByUsername(ctx, "alice.desk"); err != nil || !d.RevokedAt.Equal(first) {
		t.Errorf("DeviceByUsername(revoked) = %+v, %v; want it, revoked at %v", d, err, first)
	}
	if err := st.SetDevicePassword(ctx, alice.ID, "alice.desk", "r", "aa", "bb"); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("SetDevicePassword(revoked) = %v, want ErrNotFound", err)
	}
	if err := st.CreateDevice(ctx, newDevice(alice, "alice.desk")); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("CreateDevice(a revoked device's username) = %v, want ErrConflict", err)
	}
	if _, err := st.RevokeDevice(ctx, alice.ID, 99999, first); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("RevokeDevice(unknown) = %v, want ErrNotFound", err)
	}
}

func testSecrets(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	// Nodes starting at once: every one gets the one secret stored.
	var wg sync.WaitGroup
	got := make([]string, 8)
	errs := make([]error, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = st.Secret(ctx, "app_credentials", string(rune('a'+i))+"-candidate")
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("Secret() #%d = %q, %v; want %q as every other", i, got[i], errs[i], got[0])
		}
	}
	if again, err := st.Secret(ctx, "app_credentials", "later"); err != nil || again != got[0] {
		t.Errorf("Secret() later = %q, %v; want the first %q", again, err, got[0])
	}
	if other, err := st.Secret(ctx, "other", "x"); err != nil || other != "x" {
		t.Errorf("Secret(other) = %q, %v; want x", other, err)
	}
	if _, err := st.Secret(ctx, "empty", ""); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("Secret(empty value) = %v, want ErrInvalid", err)
	}
}
