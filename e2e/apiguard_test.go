package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// apiSignIn posts a sign-in to the companion API from the loopback
// address from and returns the status.
func apiSignIn(t *testing.T, sw *Switch, from, user, password string) int {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	res, err := client.Post(fmt.Sprintf("http://127.0.0.1:%d/api/v1/sessions", sw.HTTPPort), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// udpRegister registers user over UDP from the loopback address from: the
// challenge, then the answer. It returns the final status, or 0 when the
// switch did not answer within a second.
func udpRegister(t *testing.T, sw *Switch, from, user, password string) int {
	t.Helper()
	return registerVia(t, fmt.Sprintf("%s:%d", sw.IP, sw.SIPPort), from, user, password)
}

// registerVia is udpRegister to the SIP address to, a node or a front.
func registerVia(t *testing.T, to, from, user, password string) int {
	t.Helper()
	raddr, err := net.ResolveUDPAddr("udp", to)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)}, raddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().String()
	send := func(seq int, auth string) string {
		fmt.Fprintf(c, "REGISTER sip:dialtone SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-g%d\r\nMax-Forwards: 70\r\n"+
			"From: <sip:%s@dialtone>;tag=g\r\nTo: <sip:%s@dialtone>\r\nCall-ID: g@%s\r\nCSeq: %d REGISTER\r\n"+
			"Contact: <sip:%s@%s>\r\nExpires: 60\r\n%sContent-Length: 0\r\n\r\n", local, seq, user, user, local, seq, user, local, auth)
		c.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
	res := send(1, "")
	if !strings.HasPrefix(res, "SIP/2.0 401") {
		return status(res)
	}
	return status(send(2, digestAuth("Authorization", res, user, password, "REGISTER", "sip:dialtone")))
}

func status(res string) int {
	var code int
	fmt.Sscanf(res, "SIP/2.0 %d", &code)
	return code
}

// TestAPIAndSIPShareTheGuard: password guesses on the companion API's
// sign-in ban the address for SIP too, and SIP guesses ban it for the API;
// other addresses are not refused.
func TestAPIAndSIPShareTheGuard(t *testing.T) {
	o := carrierAt("127.0.0.5", freePort(t))
	// A username under attack lets one attempt through per 100 s.
	o.Extra = "api: {signup: open}\nguard: {failures: 4, user_failures: 6, user_rate: 0.01}\n"
	sw := startSwitch(t, o)
	sw.Account("alice", "secret")
	for _, user := range []string{"zoe", "yan"} {
		body, _ := json.Marshal(map[string]string{"username": user, "password": "correct-horse-1", "country": "GB"})
		res, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/api/v1/signup", sw.HTTPPort), "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 201 {
			t.Fatalf("signup of %s = %d, want 201", user, res.StatusCode)
		}
		// A signed-up account has no SIP device: give it one with the
		// same password, which an attacker guesses on either side.
		sw.CLIEnv([]string{"DIALTONE_PASSWORD=correct-horse-1"}, "account", "passwd", user, "--sip")
	}

	t.Run("API guesses ban SIP", func(t *testing.T) {
		const guesser = "127.0.0.21"
		for i := range 4 {
			if code := apiSignIn(t, sw, guesser, "zoe", fmt.Sprintf("guess%d", i)); code != 401 {
				t.Fatalf("wrong password %d on the API = %d, want 401", i+1, code)
			}
		}
		if code := apiSignIn(t, sw, guesser, "zoe", "correct-horse-1"); code != 429 {
			t.Errorf("the right password from the banned address on the API = %d, want 429", code)
		}
		if code := udpRegister(t, sw, guesser, "zoe", "correct-horse-1"); code != 0 {
			t.Errorf("REGISTER from the address banned on the API = %d, want no answer", code)
		}
		if code := udpRegister(t, sw, "127.0.0.22", "zoe", "correct-horse-1"); code != 200 {
			t.Errorf("REGISTER from another address = %d, want 200", code)
		}
	})
	t.Run("SIP guesses ban the API", func(t *testing.T) {
		const guesser = "127.0.0.23"
		for i := range 4 {
			if code := udpRegister(t, sw, guesser, "alice", fmt.Sprintf("guess%d", i)); code != 403 {
				t.Fatalf("wrong password %d on SIP = %d, want 403", i+1, code)
			}
		}
		if code := apiSignIn(t, sw, guesser, "zoe", "correct-horse-1"); code != 429 {
			t.Errorf("sign-in from the address banned on SIP = %d, want 429", code)
		}
		if code := apiSignIn(t, sw, "127.0.0.24", "zoe", "correct-horse-1"); code != 201 {
			t.Errorf("sign-in from another address = %d, want 201", code)
		}
	})
	if got := sw.sample(`dialtone_guard_auth_failures_total{transport="api"}`); got != 4 {
		t.Errorf(`auth failures counted for the API = %v, want 4`, got)
	}
	// Guesses on yan from 12 addresses, none of them banned, put yan under
	// attack on the API and on SIP alike: the right password is refused
	// unchecked while the attempts are over the rate.
	t.Run("guesses on one username from 12 addresses", func(t *testing.T) {
		for i := range 12 {
			if code := apiSignIn(t, sw, fmt.Sprintf("127.0.0.%d", 30+i), "yan", "guess"); code != 401 {
				t.Fatalf("guess %d = %d, want 401", i+1, code)
			}
		}
		if code := apiSignIn(t, sw, "127.0.0.50", "yan", "correct-horse-1"); code != 401 {
			t.Errorf("yan's right password on the API while under attack = %d, want 401 (refused unchecked)", code)
		}
		if code := udpRegister(t, sw, "127.0.0.51", "yan", "correct-horse-1"); code != 403 {
			t.Errorf("yan's right password on SIP while under attack = %d, want 403 (refused unchecked)", code)
		}
		if code := apiSignIn(t, sw, "127.0.0.50", "zoe", "correct-horse-1"); code != 201 {
			t.Errorf("another user's sign-in = %d, want 201", code)
		}
	})
	bans := sw.CLI("guard", "bans")
	if !strings.Contains(bans, "127.0.0.21 ") || !strings.Contains(bans, "127.0.0.23 ") || strings.Contains(bans, "127.0.0.22") || strings.Contains(bans, "127.0.0.24") {
		t.Errorf("dialtone guard bans =\n%s\nwant 127.0.0.21 and 127.0.0.23 banned, and no other", bans)
	}
	if n := strings.Count(bans, "127.0.0."); n != 2 {
		t.Errorf("dialtone guard bans =\n%s\nwant 2 bans (the 12 addresses guessing on yan are not banned)", bans)
	}
}
