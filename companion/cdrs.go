package companion

import (
	"bufio"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/dialtone/dialtone"
)

// requireRole lets a request through when it carries one of the operators'
// bearer tokens (Config.RoleTokens) of the role: a missing or unknown token
// is 401, a token of another role 403. App users' sign-in tokens are not
// role tokens.
func (s *Server) requireRole(role string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || got == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dialtone"`)
			writeError(w, http.StatusUnauthorized, "unauthenticated", "send Authorization: Bearer TOKEN")
			return
		}
		for _, t := range s.cfg.RoleTokens {
			if subtle.ConstantTimeCompare([]byte(got), []byte(t.Token)) == 1 {
				if t.Role != role {
					writeError(w, http.StatusForbidden, "forbidden", "this token's role may not do this")
					return
				}
				next(w, r)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="dialtone", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid_token", "the token is not valid")
	})
}

// exportCDRs: GET /api/v1/cdrs?from=&to=&format=&account=&trunk=, for the
// finance role. It streams the export (dialtone.ExportColumns) as an
// attachment; an error once bytes are sent breaks the response.
func (s *Server) exportCDRs(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
		return
	}
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "from", "to", "format", "account", "trunk":
		default:
			writeError(w, http.StatusBadRequest, "invalid_query", fmt.Sprintf("unknown parameter %q", k))
			return
		}
	}
	f, err := dialtone.ParseCDRFilter(q.Get("from"), q.Get("to"), q.Get("account"), q.Get("trunk"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_query", err.Error())
		return
	}
	format := q.Get("format")
	if format == "" {
		format = string(dialtone.ExportCSV)
	}
	fm, err := dialtone.ParseExportFormat(format)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_query", err.Error())
		return
	}
	if fm == dialtone.ExportCSV {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	name := fmt.Sprintf("cdrs_%s_%s.%s", f.From.Format("20060102T150405Z"), f.To.Format("20060102T150405Z"), fm)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	sw := &startedWriter{w: w}
	bw := bufio.NewWriterSize(sw, 64<<10)
	if _, err := s.store.ExportCDRs(r.Context(), f, fm, bw); err != nil {
		if !sw.started {
			w.Header().Del("Content-Disposition")
			s.fail(w, err)
			return
		}
		panic(http.ErrAbortHandler) // mid-stream: breaking the response is all that is left
	}
	_ = bw.Flush()
}

// startedWriter notes whether anything reached the response.
type startedWriter struct {
	w       io.Writer
	started bool
}

func (s *startedWriter) Write(p []byte) (int, error) {
	s.started = true
	return s.w.Write(p)
}
