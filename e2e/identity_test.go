package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// apiCall sends a JSON request to the companion API on the switch's HTTP
// listener (with a bearer token when given) and returns the status and
// the decoded body.
func apiCall(t *testing.T, sw *Switch, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var in io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		in = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", sw.HTTPPort, path), in)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// signIn signs in to the API and returns the token.
func signIn(t *testing.T, sw *Switch, user, password string) string {
	t.Helper()
	code, out := apiCall(t, sw, "POST", "/api/v1/sessions", "", map[string]string{"username": user, "password": password})
	if code != 201 {
		t.Fatalf("sign in as %s = %d %v, want 201", user, code, out)
	}
	return out["token"].(string)
}

// inviteAs sends an INVITE to number, answers its challenge as user with
// password, and returns the final response.
func (u *rawUA) inviteAs(number, user, password string) *sip.Response {
	u.t.Helper()
	chal := u.invite(number, "")
	h := chal.GetHeader("Proxy-Authenticate")
	if chal.StatusCode != 407 || h == nil {
		u.t.Fatalf("INVITE %s without credentials = %d, want 407 with a challenge", number, chal.StatusCode)
	}
	c, err := digest.ParseChallenge(h.Value())
	if err != nil {
		u.t.Fatalf("ParseChallenge(%q) = %v", h.Value(), err)
	}
	cr, err := digest.Digest(c, digest.Options{Username: user, Password: password, Method: "INVITE", URI: u.requestURI(number), Count: 1})
	if err != nil {
		u.t.Fatalf("Digest = %v", err)
	}
	return u.invite(number, cr.String())
}

// TestAppCredentials: an account signed up through the API cannot use its
// API password for SIP; the SIP credentials the API issues call, until
// they expire (sip.app_credential_ttl: 3s), and are then refused with
// "credentials expired"; and they do not sign in to the API.
func TestAppCredentials(t *testing.T) {
	carrierPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort},
		SIPExtra: "app_credential_ttl: 3s", Extra: "api: {signup: open}\n"})
	uas := runCarrier(t, carrier{answer: "486"}, carrierPort, 1)
	const number = "+442079460018"
	if code, out := apiCall(t, sw, "POST", "/api/v1/signup", "", map[string]string{"username": "zoe", "password": "correct-horse-1", "country": "GB"}); code != 201 {
		t.Fatalf("signup = %d %v", code, out)
	}
	token := signIn(t, sw, "zoe", "correct-horse-1")
	ua := newRawUA(t, "127.0.0.1", sw.SIPPort)

	if res := ua.inviteAs(number, "zoe", "correct-horse-1"); res.StatusCode != 403 {
		t.Errorf("INVITE with the API password = %d %s, want 403", res.StatusCode, res.Reason)
	}
	code, creds := apiCall(t, sw, "POST", "/api/v1/sip-credentials", token, nil)
	if code != 201 {
		t.Fatalf("POST /api/v1/sip-credentials = %d %v", code, creds)
	}
	user, pw := creds["username"].(string), creds["password"].(string)
	expires, _ := time.Parse(time.RFC3339, creds["expires_at"].(string))
	if !strings.HasSuffix(user, "~zoe") || creds["ttl_seconds"] != 3.0 || creds["renew_after_seconds"] != 2.0 || creds["realm"] != "dialtone" {
		t.Errorf("credentials %v, want username NNN~zoe, ttl 3 s, renew after 2 s, realm dialtone", creds)
	}
	if res := ua.inviteAs(number, user, pw); res.StatusCode != 486 {
		t.Fatalf("INVITE with the issued credentials = %d %s, want the carrier's 486", res.StatusCode, res.Reason)
	}
	if code, _ := apiCall(t, sw, "POST", "/api/v1/sessions", "", map[string]string{"username": user, "password": pw}); code != 401 {
		t.Errorf("API sign-in with SIP credentials = %d, want 401", code)
	}
	time.Sleep(time.Until(expires) + 500*time.Millisecond)
	if res := ua.inviteAs(number, user, pw); res.StatusCode != 403 || res.Reason != "Forbidden: credentials expired" {
		t.Errorf("INVITE with expired credentials = %d %q, want 403 \"Forbidden: credentials expired\"", res.StatusCode, res.Reason)
	}
	if st := uas.Wait(10 * time.Second); st.Successful != 1 {
		t.Errorf("the carrier took %d calls, want the one with live credentials\n%s", st.Successful, uas.Errors())
	}
}

// TestDevices: a device added through the API calls with its own
// credentials and is seen; it cannot sign in to the API; revoked through
// the API, or with the CLI while the switch runs, it is refused at its next
// request. The account's own device (made by account create) is one too.
func TestDevices(t *testing.T) {
	carrierPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort}})
	sw.Account("alice", "secret")
	uas := runCarrier(t, carrier{answer: "486"}, carrierPort, 2)
	const number = "+442079460018"
	token := signIn(t, sw, "alice", "secret")
	ua := newRawUA(t, "127.0.0.1", sw.SIPPort)

	code, dev := apiCall(t, sw, "POST", "/api/v1/devices", token, map[string]string{"name": "desk phone"})
	if code != 201 {
		t.Fatalf("POST /api/v1/devices = %d %v", code, dev)
	}
	user, pw, id := dev["username"].(string), dev["password"].(string), int(dev["id"].(float64))
	if !strings.HasPrefix(user, "alice.") || len(pw) < 16 || dev["name"] != "desk phone" {
		t.Errorf("device %v, want username alice.*, a password of 16 characters or more, name \"desk phone\"", dev)
	}
	if res := ua.inviteAs(number, user, pw); res.StatusCode != 486 {
		t.Fatalf("INVITE as the device = %d %s, want the carrier's 486", res.StatusCode, res.Reason)
	}
	for _, who := range []string{user, "alice"} {
		if code, _ := apiCall(t, sw, "POST", "/api/v1/sessions", "", map[string]string{"username": who, "password": pw}); code != 401 {
			t.Errorf("API sign-in as %s with the device's password = %d, want 401", who, code)
		}
	}
	_, list := apiCall(t, sw, "GET", "/api/v1/devices", token, nil)
	devs, _ := list["devices"].([]any)
	if len(devs) != 2 {
		t.Fatalf("GET /api/v1/devices = %v, want alice's own device and the desk phone", list)
	}
	if d := devs[1].(map[string]any); d["last_seen_addr"] != "127.0.0.1" || d["last_seen_at"] == nil || d["password"] != nil {
		t.Errorf("listed device %v, want last seen from 127.0.0.1 and no password", d)
	}

	if code, out := apiCall(t, sw, "DELETE", fmt.Sprintf("/api/v1/devices/%d", id), token, nil); code != 200 || out["revoked_at"] == nil {
		t.Fatalf("DELETE device = %d %v, want 200 with revoked_at", code, out)
	}
	if res := ua.inviteAs(number, user, pw); res.StatusCode != 403 {
		t.Errorf("INVITE as the revoked device = %d %s, want 403", res.StatusCode, res.Reason)
	}

	// The account's own device, revoked by the operator while the switch runs.
	if res := ua.inviteAs(number, "alice", "secret"); res.StatusCode != 486 {
		t.Fatalf("INVITE as alice = %d %s, want the carrier's 486", res.StatusCode, res.Reason)
	}
	if out := sw.CLI("device", "revoke", "alice", "alice"); !strings.Contains(out, "revoked") {
		t.Fatalf("device revoke: %s", out)
	}
	if res := ua.inviteAs(number, "alice", "secret"); res.StatusCode != 403 {
		t.Errorf("INVITE as alice after device revoke = %d %s, want 403", res.StatusCode, res.Reason)
	}
	if out := sw.CLI("device", "list", "alice"); !strings.Contains(out, "127.0.0.1") {
		t.Errorf("device list shows no last address:\n%s", out)
	}
	if st := uas.Wait(10 * time.Second); st.Successful != 2 {
		t.Errorf("the carrier took %d calls, want the 2 before revocation\n%s", st.Successful, uas.Errors())
	}
}
