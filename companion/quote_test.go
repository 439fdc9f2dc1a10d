package companion_test

import (
	"testing"
)

// TestBundleCatalogAndQuoteOff: the catalog lists the bundles on sale; a
// server without a Quoter answers quotes 404, and only to a signed-in user.
func TestBundleCatalogAndQuoteOff(t *testing.T) {
	eachStore(t, "open", func(t *testing.T, a *api) {
		if code, out := a.do("GET", "/api/v1/wallet/bundles", "", nil); code != 401 {
			t.Errorf("GET bundles signed out = %d %v, want 401", code, out)
		}
		if code, out := a.do("GET", "/api/v1/quote?number=%2B442079460018", "", nil); code != 401 {
			t.Errorf("GET quote signed out = %d %v, want 401", code, out)
		}
		token := a.user("alice")
		code, out := a.do("GET", "/api/v1/wallet/bundles", token, nil)
		items, _ := out["items"].([]any)
		if code != 200 || len(items) != 1 {
			t.Fatalf("GET bundles = %d %v, want the one bundle", code, out)
		}
		b := items[0].(map[string]any)
		if b["code"] != "world100" || b["price"] != "0.99" || b["currency"] != "USD" || b["seconds"] != 6000.0 || b["validity_days"] != 30.0 {
			t.Errorf("GET bundles: %v, want world100 at 0.99 USD, 6000 s for 30 days", b)
		}
		if code, out := a.do("GET", "/api/v1/quote?number=%2B442079460018", token, nil); code != 404 || errCode(out) != "not_found" {
			t.Errorf("GET quote without a quoter = %d %v, want 404", code, out)
		}
	})
}
