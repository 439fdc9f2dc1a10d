package main

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/storetest"
	"github.com/dialtone/dialtone/switch/digest"
)

func TestAppCredentialKey(t *testing.T) {
	ctx := context.Background()
	open := storetest.Stores()["sqlite"]
	a, b := open(t), open(t)
	cfg := &Config{}
	ka1, err := appCredentialKey(ctx, cfg, a)
	if err != nil {
		t.Fatal(err)
	}
	ka2, _ := appCredentialKey(ctx, cfg, a) // a restart, or another node on the same store
	kb, _ := appCredentialKey(ctx, cfg, b)
	if !bytes.Equal(ka1, ka2) || bytes.Equal(ka1, kb) || len(ka1) != 32 {
		t.Errorf("keys from the store: same store %x %x, another store %x; want equal, then different", ka1, ka2, kb)
	}
	cfg.SIP.AuthSecret = "a secret every node shares"
	kc, _ := appCredentialKey(ctx, cfg, a)
	kd, _ := appCredentialKey(ctx, cfg, b)
	if !bytes.Equal(kc, kd) || bytes.Equal(kc, ka1) || bytes.Equal(kc, []byte(cfg.SIP.AuthSecret)) {
		t.Errorf("keys from sip.auth_secret: %x %x, want equal across stores, not the store's, not the secret itself", kc, kd)
	}
}

func TestDevices(t *testing.T) {
	ctx := context.Background()
	st := storetest.Stores()["sqlite"](t)
	alice := storetest.NewAccount("alice")
	if err := st.CreateAccount(ctx, alice); err != nil {
		t.Fatal(err)
	}
	m := devices{st: st, realm: "dialtone"}
	// The account's own device: made by the first password, changed by the next.
	for _, pw := range []string{"first", "second"} {
		if err := m.setSIPPassword(ctx, alice, pw); err != nil {
			t.Fatalf("setSIPPassword(%s) = %v", pw, err)
		}
		d, err := st.DeviceByUsername(ctx, "alice")
		if err != nil || d.HA1MD5 != digest.HA1(digest.MD5, "alice", "dialtone", pw) || d.HA1SHA256 != digest.HA1(digest.SHA256, "alice", "dialtone", pw) {
			t.Errorf("after setSIPPassword(%s): %+v, %v; want hashes of %s", pw, d, err, pw)
		}
	}
	d, pw, err := m.CreateDevice(ctx, alice, "desk phone")
	if err != nil {
		t.Fatal(err)
	}
	if len(pw) != 20 || d.HA1MD5 != digest.HA1(digest.MD5, d.Username, "dialtone", pw) || len(d.Username) != len("alice.")+6 || d.Username[:6] != "alice." {
		t.Errorf("CreateDevice = %+v with password %q; want alice.xxxxxx, 20 characters, hashed", d, pw)
	}
	// Up to MaxDevices live devices; a revoked one frees a place.
	for i := 2; i < dialtone.MaxDevices; i++ {
		if _, _, err := m.CreateDevice(ctx, alice, "phone"); err != nil {
			t.Fatalf("device %d: %v", i+1, err)
		}
	}
	if _, _, err := m.CreateDevice(ctx, alice, "one too many"); !errors.Is(err, dialtone.ErrForbidden) {
		t.Fatalf("device %d = %v, want ErrForbidden", dialtone.MaxDevices+1, err)
	}
	if _, err := st.RevokeDevice(ctx, alice.ID, d.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.CreateDevice(ctx, alice, "replacement"); err != nil {
		t.Errorf("a device after revoking one = %v", err)
	}
	// A revoked account device is not brought back by a new password.
	own, _ := st.DeviceByUsername(ctx, "alice")
	if _, err := st.RevokeDevice(ctx, alice.ID, own.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := m.setSIPPassword(ctx, alice, "third"); err == nil {
		t.Error("setSIPPassword after its device was revoked = nil, want an error")
	}
}
