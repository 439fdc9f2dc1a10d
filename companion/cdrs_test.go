package companion_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone/storetest"
)

const (
	financeToken = "finance-token-0123456789abcdef0123456789"
	supportToken = "support-token-0123456789abcdef0123456789"
)

// TestExportCDRs: finance pulls CDRs with an operator's role token; no
// token, an unknown one, another role's or an app user's sign-in token is
// refused; a bad query is a 400 in the API's error shape.
func TestExportCDRs(t *testing.T) {
	eachStore(t, "open", func(t *testing.T, a *api) {
		if err := a.st.InsertCDR(context.Background(), storetest.NewCDR(t, a.st, "carol", "cdr-1", storetest.Base)); err != nil {
			t.Fatal(err)
		}
		get := func(method, query, token string) (int, http.Header, string) {
			req, _ := http.NewRequest(method, a.url+"/api/v1/cdrs?"+query, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, res.Header, string(b)
		}
		day, next := storetest.Base.Format(time.DateOnly), storetest.Base.Add(24*time.Hour).Format(time.DateOnly)
		rng := "from=" + day + "&to=" + next

		code, h, body := get("GET", rng, financeToken)
		lines := strings.Split(strings.TrimSpace(body), "\n")
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || len(lines) != 2 || !strings.HasPrefix(lines[1], "cdr-1,") ||
			!strings.Contains(h.Get("Content-Disposition"), `filename="cdrs_`) {
			t.Errorf("GET csv = %d %v\n%s", code, h, body)
		}
		if code, h, body := get("GET", rng+"&format=jsonl", financeToken); code != 200 || h.Get("Content-Type") != "application/x-ndjson" || !strings.Contains(body, `"id":"cdr-1"`) {
			t.Errorf("GET jsonl = %d %v\n%s", code, h, body)
		}
		user := a.user("alice")
		for _, tt := range []struct {
			name, method, query, token string
			code                       int
			err                        string
		}{
			{"no token", "GET", rng, "", 401, "unauthenticated"},
			{"unknown token", "GET", rng, "wrong-token-wrong-token-wrong-token", 401, "invalid_token"},
			{"app user's token", "GET", rng, user, 401, "invalid_token"},
			{"another role", "GET", rng, supportToken, 403, "forbidden"},
			{"from after to", "GET", "from=" + next + "&to=" + day, financeToken, 400, "invalid_query"},
			{"no range", "GET", "", financeToken, 400, "invalid_query"},
			{"bad format", "GET", rng + "&format=xml", financeToken, 400, "invalid_query"},
			{"unknown parameter", "GET", rng + "&limit=5", financeToken, 400, "invalid_query"},
			{"POST", "POST", rng, financeToken, 405, "method_not_allowed"},
		} {
			code, h, body := get(tt.method, tt.query, tt.token)
			if code != tt.code || !strings.Contains(body, `"code":"`+tt.err+`"`) || h.Get("Content-Type") != "application/json" {
				t.Errorf("%s: %s /api/v1/cdrs?%s = %d %s, want %d %s", tt.name, tt.method, tt.query, code, body, tt.code, tt.err)
			}
		}
		if _, _, body := get("GET", "from="+next+"&to="+day, financeToken); !strings.Contains(body, "is not before") {
			t.Errorf("from after to: %s, want the problem named", body)
		}
		code, out := a.do("GET", "/api/v1/openapi.json", "", nil)
		if paths, _ := out["paths"].(map[string]any); code != 200 || paths["/cdrs"] == nil {
			t.Errorf("openapi.json has no /cdrs path")
		}
	})
}
