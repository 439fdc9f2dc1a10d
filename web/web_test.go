package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func builtFS() fstest.MapFS {
	return fstest.MapFS{
		".gitkeep":      {},
		"index.html":    {Data: []byte("<!doctype html><title>Dialtone</title>")},
		"dialer.js":     {Data: []byte("(()=>{})();")},
		"dialer.js.map": {Data: []byte("{}")},
		"style.css":     {Data: []byte("body{}")},
		"notes.txt":     {Data: []byte("not served")},
		"sub/x.js":      {Data: []byte("nested")},
	}
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerServesPage(t *testing.T) {
	h := newHandler(builtFS(), Config{Domain: "dialtone", WSPort: 5066})
	tests := []struct {
		path, wantType, wantBody string
	}{
		{"/", "text/html; charset=utf-8", "<title>Dialtone</title>"},
		{"/index.html", "text/html; charset=utf-8", "<title>Dialtone</title>"},
		{"/dialer.js", "text/javascript; charset=utf-8", "(()=>{})();"},
		{"/dialer.js.map", "application/json", "{}"},
		{"/style.css", "text/css; charset=utf-8", "body{}"},
		{"/config.json", "application/json", `"ws_port":5066`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := get(t, h, "GET", tt.path, nil)
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Fatalf("GET %s = %d %q, want 200 with %q", tt.path, rec.Code, rec.Body, tt.wantBody)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("GET %s Content-Type = %q, want %q", tt.path, got, tt.wantType)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
				t.Errorf("GET %s Cache-Control = %q, want no-cache", tt.path, got)
			}
			etag := rec.Header().Get("ETag")
			if etag == "" {
				t.Fatalf("GET %s has no ETag", tt.path)
			}
			if rec := get(t, h, "GET", tt.path, map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
				t.Errorf("GET %s If-None-Match: its ETag = %d, want 304", tt.path, rec.Code)
			}
		})
	}
	if csp := get(t, h, "GET", "/", nil).Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("GET / Content-Security-Policy = %q, want scripts from this origin only", csp)
	}
	if rec := get(t, h, "HEAD", "/", nil); rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("HEAD / = %d with %d bytes, want 200 without a body", rec.Code, rec.Body.Len())
	}
}

func TestHandlerRefuses(t *testing.T) {
	h := newHandler(builtFS(), Config{Domain: "dialtone"})
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/.gitkeep", 404},
		{"GET", "/notes.txt", 404},
		{"GET", "/sub/x.js", 404},
		{"GET", "/sub/", 404},
		{"GET", "/missing.js", 404},
		{"GET", "/../web.go", 404},
		{"POST", "/", 405},
		{"PUT", "/config.json", 405},
	}
	for _, tt := range tests {
		if rec := get(t, h, tt.method, tt.path, nil); rec.Code != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.want)
		}
	}
}

func TestHandlerNotBuilt(t *testing.T) {
	h := newHandler(fstest.MapFS{".gitkeep": {}}, Config{Domain: "dialtone"})
	for _, p := range []string{"/", "/index.html"} {
		rec := get(t, h, "GET", p, nil)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "run make web") {
			t.Errorf("GET %s of an unbuilt page = %d %q, want 503 saying run make web", p, rec.Code, rec.Body)
		}
		if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/plain") {
			t.Errorf("GET %s of an unbuilt page Content-Type = %q, want text/plain", p, got)
		}
	}
	if rec := get(t, h, "GET", "/config.json", nil); rec.Code != 200 {
		t.Errorf("GET /config.json of an unbuilt page = %d, want 200", rec.Code)
	}
}

func TestConfigJSON(t *testing.T) {
	tests := []struct {
		cfg  Config
		want map[string]any
	}{
		{Config{Domain: "dialtone", WSPort: 5066}, map[string]any{"domain": "dialtone", "ws_port": 5066.0}},
		{Config{Domain: "d", WSPort: 443, Secure: true}, map[string]any{"domain": "d", "ws_port": 443.0, "ws_secure": true}},
		{Config{Domain: "d", SIPURL: "wss://sip.example.com/ws"}, map[string]any{"domain": "d", "sip_url": "wss://sip.example.com/ws"}},
		{Config{Domain: "d"}, map[string]any{"domain": "d"}}, // no WebSocket listener
	}
	for _, tt := range tests {
		rec := get(t, newHandler(builtFS(), tt.cfg), "GET", "/config.json", nil)
		var got map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("GET /config.json = %q: %v", rec.Body, err)
		}
		if len(got) != len(tt.want) {
			t.Errorf("config.json of %+v = %v, want %v", tt.cfg, got, tt.want)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("config.json of %+v: %s = %v, want %v", tt.cfg, k, got[k], v)
			}
		}
	}
}

// TestEmbedded checks the handler of the embedded files in either state:
// built by `make web`, or a fresh clone with only the placeholder.
func TestEmbedded(t *testing.T) {
	rec := get(t, Handler(Config{Domain: "dialtone"}), "GET", "/", nil)
	switch rec.Code {
	case 200:
		if !strings.Contains(rec.Body.String(), `src="dialer.js"`) {
			t.Errorf("GET / = %q, want the page loading dialer.js", rec.Body)
		}
	case 503:
		t.Log("the page is not built (run make web); only the placeholder is embedded")
	default:
		t.Errorf("GET / = %d, want 200 (built) or 503 (not built)", rec.Code)
	}
}
