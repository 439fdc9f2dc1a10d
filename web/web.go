// Package web serves Dialtone's browser dialer: a page that signs an app
// user in with the companion API, registers over SIP on WebSocket (JsSIP,
// RFC 7118) with the short-lived SIP credentials the API issues, and
// places calls with WebRTC. It owns the page's files, built by `make web` into dist/ and
// embedded in the binary, and /config.json, which tells the page where the
// switch's SIP WebSocket listener is and which SIP domain to use; and the
// web section of the configuration file (Settings).
//
// A Handler is immutable once built and safe for concurrent use.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// dist holds what `make web` builds; on a fresh clone only a placeholder,
// and then the page answers 503.
//
//go:embed all:dist
var dist embed.FS

// Config is what the page is told in /config.json.
type Config struct {
	// SIPURL is the ws:// or wss:// URL of the switch's SIP WebSocket
	// listener. Empty: the page uses its own host name with WSPort.
	SIPURL string `json:"sip_url,omitempty"`
	// WSPort is the port of the SIP WebSocket listener, and Secure says
	// it is wss. Both are unused when SIPURL is set; with neither, the page
	// says the switch has no WebSocket listener.
	WSPort int  `json:"ws_port,omitempty"`
	Secure bool `json:"ws_secure,omitempty"`
	// Domain is the SIP domain (the digest realm) of the user's URI sip:user@domain.
	Domain string `json:"domain"`
}

// notBuilt is the answer at / of a binary built without `make web`.
const notBuilt = "the dialer page was not built: run make web"

// contentTypes are the types of the files served; files of any other
// extension are not served.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".map":  "application/json",
	".json": "application/json",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

// pageSecurity are the headers of the page itself: scripts and styles from
// this origin only, SIP over any WebSocket, the microphone for this origin.
var pageSecurity = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
	"Referrer-Policy":    "no-referrer",
	"Permissions-Policy": "microphone=(self), camera=()",
}

// file is one file served, read once.
type file struct {
	data        []byte
	contentType string
	etag        string
}

type handler struct {
	files map[string]file // by path below /, "" being the page
	built bool
}

// Handler serves the dialer: the page at /, its script and style sheet,
// and /config.json. Other paths are 404; there are no directory listings.
// Files are revalidated on each use (Cache-Control: no-cache with an
// ETag), so a new binary's page is never mixed with an old script.
func Handler(cfg Config) http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil { // the embed pattern guarantees dist exists
		panic(err)
	}
	return newHandler(sub, cfg)
}

func newHandler(fsys fs.FS, cfg Config) *handler {
	h := &handler{files: map[string]file{}}
	entries, _ := fs.ReadDir(fsys, ".") // an empty dist is "not built"
	for _, e := range entries {
		ctype, ok := contentTypes[path.Ext(e.Name())]
		if !ok || !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			continue
		}
		h.files[e.Name()] = newFile(data, ctype)
	}
	_, page := h.files["index.html"]
	_, script := h.files["dialer.js"]
	h.built = page && script
	if h.built {
		h.files[""] = h.files["index.html"]
	}
	body, _ := json.Marshal(cfg) // plain strings, ints and bools: cannot fail
	h.files["config.json"] = newFile(body, "application/json")
	return h
}

func newFile(data []byte, contentType string) file {
	sum := sha256.Sum256(data)
	return file{data: data, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if !h.built && (name == "" || name == "index.html") {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, notBuilt, http.StatusServiceUnavailable)
		return
	}
	f, ok := h.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", f.etag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(f.contentType, "text/html") {
		for k, v := range pageSecurity {
			hdr.Set(k, v)
		}
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}
