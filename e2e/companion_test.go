package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

// TestSignupThenCall: an account made through the companion API (served on
// its own api.listen) signs in there and places a SIP call (sipp) with the
// SIP credentials the API issues it, and the admin endpoints are not on the
// API's listener.
func TestSignupThenCall(t *testing.T) {
	carrierPort, apiPort := freePort(t), freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort},
		Extra: fmt.Sprintf("api: {signup: open, listen: \"127.0.0.1:%d\"}\n", apiPort)})
	api := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	body, _ := json.Marshal(map[string]string{"username": "zoe", "password": "correct-horse-1", "country": "GB"})
	res, err := http.Post(api+"/api/v1/signup", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("signup = %d", res.StatusCode)
	}
	for _, path := range []string{"/metrics", "/admin/trunks", "/debug/pprof/"} {
		res, err := http.Get(api + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Errorf("GET %s on the API listener = %d, want 404", path, res.StatusCode)
		}
	}
	post := func(path, token string, in any) map[string]any {
		t.Helper()
		body, _ := json.Marshal(in)
		req, _ := http.NewRequest("POST", api+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 201 {
			t.Fatalf("POST %s = %d %v %v, want 201", path, res.StatusCode, out, err)
		}
		return out
	}
	token := post("/api/v1/sessions", "", map[string]string{"username": "zoe", "password": "correct-horse-1"})["token"].(string)
	creds := post("/api/v1/sip-credentials", token, nil)
	rx := newReceiver(t)
	uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 1)
	// Dialled in zoe's country (GB): a national number.
	if st := dialApp(t, sw, appCall{user: creds["username"].(string), password: creds["password"].(string), holdMS: 200, end: "bye"}, "02079460018", 1, 1).Wait(20 * time.Second); st.Successful != 1 {
		t.Fatalf("the signed-up account could not call with the SIP credentials the API issued")
	}
	uas.Wait(5 * time.Second)
	if cdrs := sw.CDRs(1); len(cdrs) != 1 || cdrs[0].Account != "zoe" || cdrs[0].Disposition != dialtone.Answered || cdrs[0].DialedE164 != "+442079460018" {
		t.Errorf("CDRs %v", describe(cdrs))
	}
}
