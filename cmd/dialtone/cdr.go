package main

import (
	"bufio"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
)

// parseWhen reads YYYY-MM-DD (midnight UTC) or RFC 3339.
func parseWhen(name, s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w %s %q: want YYYY-MM-DD or RFC 3339 such as 2026-11-24T00:00:00Z", dialtone.ErrInvalid, name, s)
	}
	return t.UTC(), nil
}

// cdrFilter builds a filter from the from/to/account/trunk values of a
// command or a query string.
func cdrFilter(from, to, account, trunk string) (dialtone.CDRFilter, error) {
	if from == "" || to == "" {
		return dialtone.CDRFilter{}, fmt.Errorf("%w: from and to are required", dialtone.ErrInvalid)
	}
	f := dialtone.CDRFilter{Account: account, Trunk: trunk}
	var err1, err2 error
	f.From, err1 = parseWhen("from", from)
	f.To, err2 = parseWhen("to", to)
	if err := errors.Join(err1, err2); err != nil {
		return f, err
	}
	if !f.From.Before(f.To) {
		return f, fmt.Errorf("%w: from %s is not before to %s", dialtone.ErrInvalid, f.From.Format(time.RFC3339), f.To.Format(time.RFC3339))
	}
	return f, nil
}

func newCDRCmd(load func() (*Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "cdr", Short: "Export call detail records and summaries for finance"}
	var from, to, account, trunk, format, out string
	export := &cobra.Command{
		Use:   "export --from DATE --to DATE [--account USER] [--trunk NAME] [--format csv|jsonl] [--out FILE]",
		Short: "Stream the CDRs that ended in [from, to) as CSV or JSON lines (columns in README.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := cdrFilter(from, to, account, trunk)
			if err != nil {
				return err
			}
			fm, err := dialtone.ParseExportFormat(format)
			if err != nil {
				return err
			}
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				w, done, err := output(out, cmd.OutOrStdout())
				if err != nil {
					return err
				}
				var dst io.Writer = w
				if out != "" && isTerminal(os.Stderr) {
					bar := progressbar.DefaultBytes(-1, "exporting")
					dst = io.MultiWriter(w, bar)
					defer bar.Finish()
				}
				n, err := st.ExportCDRs(cmd.Context(), f, fm, dst)
				if err := errors.Join(err, done()); err != nil {
					return err
				}
				if out != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "exported %d CDRs to %s\n", n, out)
				}
				return nil
			})
		},
	}
	export.Flags().StringVar(&from, "from", "", "start, inclusive (YYYY-MM-DD or RFC 3339, UTC)")
	export.Flags().StringVar(&to, "to", "", "end, exclusive")
	export.Flags().StringVar(&account, "account", "", "only this account")
	export.Flags().StringVar(&trunk, "trunk", "", "only this trunk")
	export.Flags().StringVar(&format, "format", "csv", "csv or jsonl")
	export.Flags().StringVar(&out, "out", "", "file to write (default: standard output)")

	var by, chart string
	summary := &cobra.Command{
		Use:   "summary --from DATE --to DATE [--by trunk|destination] [--out FILE] [--chart FILE.svg|.png]",
		Short: "Per day and trunk (or destination): calls, minutes, revenue, cost, margin, ASR, ACD",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := cdrFilter(from, to, account, trunk)
			if err != nil {
				return err
			}
			key := billing.SummaryKey(by)
			if key != billing.ByTrunk && key != billing.ByDestination {
				return fmt.Errorf("%w --by %q: want trunk or destination", dialtone.ErrInvalid, by)
			}
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				s := billing.NewSummary(key)
				if err := st.EachCDR(cmd.Context(), f, s.Add); err != nil {
					return err
				}
				w, done, err := output(out, cmd.OutOrStdout())
				if err != nil {
					return err
				}
				if err := errors.Join(s.WriteCSV(w), done()); err != nil {
					return err
				}
				if chart != "" {
					title := fmt.Sprintf("Revenue, cost and margin by %s, %s to %s", by, f.From.Format(time.DateOnly), f.To.Format(time.DateOnly))
					if err := summaryChart(s.Rows(), title, chart); err != nil {
						return err
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "chart written to %s\n", chart)
				}
				return nil
			})
		},
	}
	summary.Flags().StringVar(&from, "from", "", "start, inclusive (YYYY-MM-DD or RFC 3339, UTC)")
	summary.Flags().StringVar(&to, "to", "", "end, exclusive")
	summary.Flags().StringVar(&account, "account", "", "only this account")
	summary.Flags().StringVar(&trunk, "trunk", "", "only this trunk")
	summary.Flags().StringVar(&by, "by", "trunk", "trunk or destination")
	summary.Flags().StringVar(&out, "out", "", "CSV file to write (default: standard output)")
	summary.Flags().StringVar(&chart, "chart", "", "also draw a bar chart to this .svg or .png file")
	cmd.AddCommand(export, summary)
	return cmd
}

// output opens path for writing, or uses stdout when path is empty; done
// flushes and closes.
func output(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "" {
		bw := bufio.NewWriterSize(stdout, 64<<10)
		return bw, bw.Flush, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	return bw, func() error { return errors.Join(bw.Flush(), f.Close()) }, nil
}

// apiError is the body of every error of the HTTP API.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}

// requireRole lets a request through when it carries a bearer token of the
// role.
func requireRole(tokens []TokenConfig, role string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || got == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dialtone"`)
			writeAPIError(w, http.StatusUnauthorized, "unauthenticated", "send Authorization: Bearer TOKEN")
			return
		}
		for _, t := range tokens {
			if subtle.ConstantTimeCompare([]byte(got), []byte(t.Token)) == 1 {
				if t.Role != role {
					writeAPIError(w, http.StatusForbidden, "forbidden", "this token's role may not do this")
					return
				}
				next.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="dialtone", error="invalid_token"`)
		writeAPIError(w, http.StatusUnauthorized, "invalid_token", "the token is not valid")
	})
}

// cdrExportHandler serves GET /api/v1/cdrs?from=&to=&format=&account=&trunk=.
func cdrExportHandler(st dialtone.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writeAPIError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
			return
		}
		q := r.URL.Query()
		for k := range q {
			switch k {
			case "from", "to", "format", "account", "trunk":
			default:
				writeAPIError(w, http.StatusBadRequest, "invalid_query", fmt.Sprintf("unknown parameter %q", k))
				return
			}
		}
		f, err := cdrFilter(q.Get("from"), q.Get("to"), q.Get("account"), q.Get("trunk"))
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, "invalid_query", err.Error())
			return
		}
		format := q.Get("format")
		if format == "" {
			format = "csv"
		}
		fm, err := dialtone.ParseExportFormat(format)
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, "invalid_query", err.Error())
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
		if _, err := st.ExportCDRs(r.Context(), f, fm, bw); err != nil {
			if !sw.started {
				writeAPIError(w, http.StatusInternalServerError, "export_failed", err.Error())
				return
			}
			panic(http.ErrAbortHandler) // mid-stream: breaking the response is all that is left
		}
		_ = bw.Flush()
	})
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
