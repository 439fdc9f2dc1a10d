package companion_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

var sipKey = dialtone.AppCredentialKey([]byte("node secret"))

// devices makes devices with a fixed password and placeholder hashes (the
// switch's hashing is not under test here).
type devices struct{ st dialtone.Store }

func (m devices) CreateDevice(ctx context.Context, acct *dialtone.Account, name string) (*dialtone.Device, string, error) {
	d := &dialtone.Device{AccountID: acct.ID, Account: acct.Username, Name: name, Username: fmt.Sprintf("%s.%d", acct.Username, time.Now().UnixNano()%1e6),
		Realm: "dialtone", HA1MD5: "x", HA1SHA256: "y"}
	if err := m.st.CreateDevice(ctx, d); err != nil {
		return nil, "", err
	}
	return d, "device-password", nil
}

func TestSIPCredentials(t *testing.T) {
	eachStore(t, "open", func(t *testing.T, a *api) {
		tok := a.user("alice")
		code, out := a.do("POST", "/api/v1/sip-credentials", tok, nil)
		if code != 201 {
			t.Fatalf("POST /sip-credentials = %d %v", code, out)
		}
		want := dialtone.IssueAppCredential(sipKey, "alice", a.clock.now().Add(time.Hour))
		if out["username"] != want.Username || out["password"] != want.Password || out["realm"] != "dialtone" ||
			out["expires_at"] != want.ExpiresAt.Format(time.RFC3339) || out["ttl_seconds"] != 3600.0 || out["renew_after_seconds"] != 2880.0 {
			t.Errorf("POST /sip-credentials = %v, want %+v, ttl 3600, renew after 2880", out, want)
		}
		if code, _ := a.do("POST", "/api/v1/sip-credentials", "", nil); code != 401 {
			t.Errorf("POST /sip-credentials without a token = %d, want 401", code)
		}
		// The credentials are no API password.
		if code, _ := a.do("POST", "/api/v1/sessions", "", map[string]string{"username": want.Username, "password": want.Password}); code != 401 {
			t.Errorf("sign-in with SIP credentials = %d, want 401", code)
		}
	})
}

func TestDevicesAPI(t *testing.T) {
	eachStore(t, "open", func(t *testing.T, a *api) {
		alice, bob := a.user("alice"), a.user("bob")
		if code, _ := a.do("POST", "/api/v1/devices", alice, map[string]string{"name": " "}); code != 400 {
			t.Errorf("POST /devices without a name = %d, want 400", code)
		}
		if code, _ := a.do("POST", "/api/v1/devices", alice, map[string]any{"name": "x", "password": "mine"}); code != 400 {
			t.Errorf("POST /devices with an unknown field = %d, want 400", code)
		}
		code, dev := a.do("POST", "/api/v1/devices", alice, map[string]string{"name": "desk phone"})
		if code != 201 || dev["password"] != "device-password" || dev["name"] != "desk phone" || dev["revoked_at"] != nil {
			t.Fatalf("POST /devices = %d %v", code, dev)
		}
		id := int64(dev["id"].(float64))
		code, list := a.do("GET", "/api/v1/devices", alice, nil)
		ds, _ := list["devices"].([]any)
		if code != 200 || len(ds) != 1 || ds[0].(map[string]any)["password"] != nil || ds[0].(map[string]any)["username"] != dev["username"] {
			t.Errorf("GET /devices = %d %v, want the one device without its password", code, list)
		}
		if _, list := a.do("GET", "/api/v1/devices", bob, nil); len(list["devices"].([]any)) != 0 {
			t.Errorf("bob's GET /devices = %v, want none", list)
		}
		for _, path := range []string{fmt.Sprintf("/api/v1/devices/%d", id), "/api/v1/devices/x", "/api/v1/devices/-1"} {
			if code, _ := a.do("DELETE", path, bob, nil); code != 404 {
				t.Errorf("bob's DELETE %s = %d, want 404", path, code)
			}
		}
		code, out := a.do("DELETE", fmt.Sprintf("/api/v1/devices/%d", id), alice, nil)
		if code != 200 || out["revoked_at"] != a.clock.now().Format(time.RFC3339) {
			t.Errorf("DELETE /devices/%d = %d %v, want revoked now", id, code, out)
		}
		if d, err := a.st.DeviceByUsername(context.Background(), dev["username"].(string)); err != nil || !d.Revoked() {
			t.Errorf("stored device %+v, %v; want it revoked", d, err)
		}
	})
}
