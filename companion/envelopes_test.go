package companion_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/storetest"
)

// quickUser makes an account and a token straight in the store (bcrypt at
// sign-in is slow, and sign-in is tested elsewhere).
func (a *api) quickUser(name string) (token string, id int64) {
	a.t.Helper()
	acct := storetest.NewAccount(name)
	if err := a.st.CreateAccount(context.Background(), acct); err != nil {
		a.t.Fatal(err)
	}
	token = "dt_test_" + name
	sum := sha256.Sum256([]byte(token))
	now := a.clock.now()
	if err := a.st.CreateToken(context.Background(), &dialtone.Token{Hash: hex.EncodeToString(sum[:]), AccountID: acct.ID,
		CreatedAt: now, ExpiresAt: now.Add(365 * 24 * time.Hour)}); err != nil {
		a.t.Fatal(err)
	}
	return token, acct.ID
}

func (a *api) send(token, key string, body any) (int, map[string]any) {
	return a.do("POST", "/api/v1/envelopes", token, body, "Idempotency-Key", key)
}

// Fifty recipients grab a ten-share envelope at once: exactly ten get a
// share, none twice; the rest is refunded once when it expires, even with
// two expiry runs at the same time.
func TestEnvelopeGrabs(t *testing.T) {
	eachStore(t, "open", func(t *testing.T, a *api) {
		sender, _ := a.quickUser("sender")
		a.pay("fund-1", "sender", "10.00")
		var names []string
		tokens := map[string]string{}
		for i := range 50 {
			name := fmt.Sprintf("friend%02d", i)
			tokens[name], _ = a.quickUser(name)
			names = append(names, name)
		}
		outsider, _ := a.quickUser("outsider")
		code, env := a.send(sender, "envelope-0001", map[string]any{"to": names, "total": "1.00", "count": 10, "mode": "lucky", "memo": "happy new year"})
		if code != 201 {
			t.Fatalf("send envelope = %d %v", code, env)
		}
		id := env["id"].(string)
		if code, again := a.send(sender, "envelope-0001", map[string]any{"to": names, "total": "1.00", "count": 10, "mode": "lucky", "memo": "happy new year"}); code != 200 || again["id"] != id {
			t.Errorf("the same envelope sent again = %d %v, want 200 and the same id", code, again)
		}
		if a.balance(sender) != "9.00" {
			t.Errorf("sender's balance = %s, want 9.00", a.balance(sender))
		}
		var got atomic.Int32
		var mu sync.Mutex
		sum := decimal.Zero
		var wg sync.WaitGroup
		for _, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for try := range 2 {
					code, out := a.do("POST", "/api/v1/envelopes/"+id+"/grab", tokens[name], nil)
					switch {
					case code == 200 && try == 0:
						got.Add(1)
						mu.Lock()
						sum = sum.Add(decimal.RequireFromString(out["amount"].(string)))
						mu.Unlock()
					case code == 200:
						t.Errorf("%s grabbed twice", name)
					case code != 409 && code != 410:
						t.Errorf("%s grab = %d %v", name, code, out)
					}
				}
			}()
		}
		wg.Wait()
		if got.Load() != 10 || !sum.Equal(decimal.RequireFromString("1.00")) {
			t.Errorf("50 grabbers got %d shares worth %s, want 10 worth 1.00", got.Load(), sum)
		}
		if code, _ := a.do("POST", "/api/v1/envelopes/"+id+"/grab", outsider, nil); code != 404 {
			t.Errorf("an outsider's grab = %d, want 404", code)
		}
		if code, _ := a.do("GET", "/api/v1/envelopes/"+id, outsider, nil); code != 404 {
			t.Errorf("an outsider's look = %d, want 404", code)
		}
		if code, out := a.do("GET", "/api/v1/envelopes/"+id, tokens["friend00"], nil); code != 200 || len(out["grabs"].([]any)) != 10 {
			t.Errorf("a recipient's look = %d %v", code, out)
		}

		// A second envelope, 3 of 5 shares grabbed, then it expires.
		_, env2 := a.send(sender, "envelope-0002", map[string]any{"to": names[:5], "total": "0.50", "count": 5, "mode": "equal"})
		id2 := env2["id"].(string)
		for _, name := range names[:3] {
			if code, out := a.do("POST", "/api/v1/envelopes/"+id2+"/grab", tokens[name], nil); code != 200 || out["amount"] != "0.10" {
				t.Errorf("equal share = %d %v, want 0.10", code, out)
			}
		}
		a.clock.add(25 * time.Hour)
		if code, _ := a.do("POST", "/api/v1/envelopes/"+id2+"/grab", tokens[names[3]], nil); code != 410 {
			t.Errorf("a grab after expiry = %d, want 410", code)
		}
		var refunds atomic.Int32
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids, err := a.st.ExpireEnvelopes(context.Background(), a.clock.now())
				if err != nil {
					t.Errorf("ExpireEnvelopes() = %v", err)
				}
				refunds.Add(int32(len(ids)))
			}()
		}
		wg.Wait()
		if refunds.Load() != 2 { // each envelope once (the first had nothing left)
			t.Errorf("two expiry runs refunded %d envelopes, want 2 (each once)", refunds.Load())
		}
		e2, _, _ := a.st.Envelope(context.Background(), id2)
		if !e2.Refunded.Equal(decimal.RequireFromString("0.20")) {
			t.Errorf("refunded %s of the second envelope, want 0.20", e2.Refunded)
		}
		if n, _ := a.st.ExpireEnvelopes(context.Background(), a.clock.now()); len(n) != 0 {
			t.Errorf("a third run refunded %v", n)
		}
		if a.balance(sender) != "8.70" { // 10 - 1.00 - 0.50 + 0.20
			t.Errorf("sender's balance = %s, want 8.70", a.balance(sender))
		}
		for _, eid := range []string{id, id2} {
			if b, _ := a.st.Balance(context.Background(), dialtone.EnvelopeAccount(eid)); !b.IsZero() {
				t.Errorf("envelope %s still holds %s", eid, b)
			}
		}
		storetest.CheckLedger(t, a.st)
	})
}

func TestEnvelopeBadInput(t *testing.T) {
	eachStore(t, "open", func(t *testing.T, a *api) {
		sender, _ := a.quickUser("sender")
		a.quickUser("bob")
		a.pay("fund-1", "sender", "1.00")
		for _, tt := range []struct {
			name string
			body any
			code int
		}{
			{"no count", map[string]any{"to": []string{"bob"}, "total": "0.10"}, 400},
			{"too small for the count", map[string]any{"to": []string{"bob"}, "total": "0.02", "count": 3}, 400},
			{"over-precise", map[string]any{"to": []string{"bob"}, "total": "0.105", "count": 1}, 400},
			{"negative", map[string]any{"to": []string{"bob"}, "total": "-1", "count": 1}, 400},
			{"bad mode", map[string]any{"to": []string{"bob"}, "total": "0.10", "count": 1, "mode": "random"}, 400},
			{"nobody", map[string]any{"to": []string{}, "total": "0.10", "count": 1}, 400},
			{"unknown user", map[string]any{"to": []string{"zed"}, "total": "0.10", "count": 1}, 404},
			{"more than the wallet", map[string]any{"to": []string{"bob"}, "total": "1.01", "count": 1}, 402},
		} {
			if code, out := a.send(sender, "key-"+strings.ReplaceAll(tt.name, " ", "-"), tt.body); code != tt.code {
				t.Errorf("%s = %d %v, want %d", tt.name, code, out, tt.code)
			}
		}
		if a.balance(sender) != "1.00" {
			t.Errorf("after refused envelopes the sender has %s, want 1.00", a.balance(sender))
		}
		storetest.CheckLedger(t, a.st)
	})
}
