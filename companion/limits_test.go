package companion_test

import (
	"fmt"
	"testing"
)

const operatorToken = "operator-token-0123456789abcdef012345678"

// TestAccountLimits: an operator reads an account's limits (its own and
// the effective ones), sets some, sees bad values refused, and resets them;
// other roles and app users are refused.
func TestAccountLimits(t *testing.T) {
	eachStore(t, "open", func(t *testing.T, a *api) {
		user := a.user("alice")
		path := "/api/v1/accounts/alice/limits"
		code, out := a.do("GET", path, operatorToken, nil)
		own, _ := out["own"].(map[string]any)
		eff, _ := out["effective"].(map[string]any)
		if code != 200 || own["concurrent_calls"] != "default" || eff["concurrent_calls"] != "2" || eff["spend_hour"] != "10" ||
			fmt.Sprint(eff["number_types"]) != "[mobile fixed toll_free]" || fmt.Sprint(eff["countries"]) != "[*]" {
			t.Fatalf("GET %s = %d %v", path, code, out)
		}

		code, out = a.do("PUT", path, operatorToken, `{"concurrent_calls": 5, "calls_per_minute": "unlimited", "spend_hour": "2.50", "countries": ["us", "GB"]}`)
		own, _ = out["own"].(map[string]any)
		eff, _ = out["effective"].(map[string]any)
		if code != 200 || own["concurrent_calls"] != "5" || eff["calls_per_minute"] != "unlimited" || own["spend_hour"] != "2.5" ||
			own["spend_day"] != "default" || eff["spend_day"] != "30" || fmt.Sprint(eff["countries"]) != "[US GB]" {
			t.Fatalf("PUT %s = %d %v", path, code, out)
		}
		if code, out = a.do("GET", path, operatorToken, nil); code != 200 || out["own"].(map[string]any)["concurrent_calls"] != "5" {
			t.Errorf("GET after PUT = %d %v", code, out)
		}

		for _, body := range []string{
			`{"concurrent_calls": 0}`, `{"concurrent_calls": -3}`, `{"concurrent_calls": "many"}`, `{"spend_hour": "-1"}`,
			`{"max_rate": "0.0000001"}`, `{"countries": ["USA"]}`, `{"countries": ["*", "US"]}`, `{"number_types": ["satellite"]}`,
			`{"concurrent_calls": true}`, `{"unknown": 1}`, `[]`,
		} {
			if code, out := a.do("PUT", path, operatorToken, body); code != 400 {
				t.Errorf("PUT %s = %d %v, want 400", body, code, out)
			}
		}
		if code, out := a.do("PUT", path, operatorToken, `{}`); code != 200 || out["own"].(map[string]any)["concurrent_calls"] != "default" {
			t.Errorf("PUT {} (reset) = %d %v", code, out)
		}
		if code, out := a.do("GET", "/api/v1/accounts/nobody/limits", operatorToken, nil); code != 404 {
			t.Errorf("GET of no account = %d %v, want 404", code, out)
		}
		for _, tok := range []string{"", user, financeToken} {
			if code, _ := a.do("PUT", path, tok, `{"concurrent_calls": "unlimited"}`); code != 401 && code != 403 {
				t.Errorf("PUT with token %q = %d, want 401 or 403", tok, code)
			}
		}
	})
}
