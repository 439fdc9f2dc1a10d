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
// its own api.listen) places a SIP call with the same password, and the
// admin endpoints are not on the API's listener.
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
	rx := newReceiver(t)
	uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 1)
	// Dialled in zoe's country (GB): a national number.
	if st := dialApp(t, sw, appCall{user: "zoe", password: "correct-horse-1", holdMS: 200, end: "bye"}, "02079460018", 1, 1).Wait(20 * time.Second); st.Successful != 1 {
		t.Fatalf("the signed-up account could not call with its password")
	}
	uas.Wait(5 * time.Second)
	if cdrs := sw.CDRs(1); len(cdrs) != 1 || cdrs[0].Account != "zoe" || cdrs[0].Disposition != dialtone.Answered || cdrs[0].DialedE164 != "+442079460018" {
		t.Errorf("CDRs %v", describe(cdrs))
	}
}
