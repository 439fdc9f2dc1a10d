package dialtone

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// ExportFormat is a CDR export file format.
type ExportFormat string

const (
	ExportCSV   ExportFormat = "csv"   // RFC 4180, a header line, then one line per CDR
	ExportJSONL ExportFormat = "jsonl" // one JSON object per line, keys as the CSV header
)

// ParseExportFormat accepts csv and jsonl.
func ParseExportFormat(s string) (ExportFormat, error) {
	switch ExportFormat(s) {
	case ExportCSV, ExportJSONL:
		return ExportFormat(s), nil
	}
	return "", fmt.Errorf("%w format %q: want csv or jsonl", ErrInvalid, s)
}

// ParseCDRFilter builds a filter from the from, to, account and trunk
// values of a command line or a query string. from and to are required,
// YYYY-MM-DD (midnight UTC) or RFC 3339, and from must be before to.
// Errors wrap ErrInvalid.
func ParseCDRFilter(from, to, account, trunk string) (CDRFilter, error) {
	if from == "" || to == "" {
		return CDRFilter{}, fmt.Errorf("%w: from and to are required", ErrInvalid)
	}
	f := CDRFilter{Account: account, Trunk: trunk}
	var err1, err2 error
	f.From, err1 = parseWhen("from", from)
	f.To, err2 = parseWhen("to", to)
	if err := errors.Join(err1, err2); err != nil {
		return f, err
	}
	if !f.From.Before(f.To) {
		return f, fmt.Errorf("%w: from %s is not before to %s", ErrInvalid, f.From.Format(time.RFC3339), f.To.Format(time.RFC3339))
	}
	return f, nil
}

// parseWhen reads YYYY-MM-DD (midnight UTC) or RFC 3339.
func parseWhen(name, s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w %s %q: want YYYY-MM-DD or RFC 3339 such as 2026-11-24T00:00:00Z", ErrInvalid, name, s)
	}
	return t.UTC(), nil
}

// ExportColumns are the columns of a CDR export, in order. Times are UTC in
// RFC 3339 with microseconds ("2026-01-02T15:04:05.000000Z"), empty when the
// call never reached that point; money has exactly six decimals; durations
// are in milliseconds; billed time in whole seconds. Each is named as the
// cdrs column it comes from, and a column that is not text has its kind in
// ExportKinds.
var ExportColumns = []string{
	"id", "app_call_id", "carrier_call_id", "account", "caller", "dialed_raw", "dialed_e164",
	"number_type", "prefix", "destination", "trunk", "attempts",
	"setup_at", "ringing_at", "answer_at", "end_at", "duration_ms", "billed_seconds",
	"disposition", "sip_code", "sip_reason", "hangup_by", "app_codec", "carrier_codec",
	"currency", "rate_plan", "sell_rate", "price", "bundle_seconds", "buy_rate", "cost", "margin", "paid_by",
	"app_packets", "app_lost", "carrier_packets", "carrier_lost",
}

// exportTimeLayout is the layout of times in exports.
const exportTimeLayout = "2006-01-02T15:04:05.000000Z"

// ExportTime formats t as in exports.
func ExportTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(exportTimeLayout)
}

// AppendExportTime appends t as ExportTime formats it.
func AppendExportTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return dst
	}
	return t.UTC().AppendFormat(dst, exportTimeLayout)
}

// ExportMoney formats an amount as in exports.
func ExportMoney(d decimal.Decimal) string { return d.StringFixed(MoneyScale) }

// AppendExportMicros appends an amount of m micro-units as ExportMoney
// formats FromMicros(m).
func AppendExportMicros(dst []byte, m int64) []byte {
	u := uint64(m)
	if m < 0 {
		dst = append(dst, '-')
		u = -u
	}
	dst = strconv.AppendUint(dst, u/1_000_000, 10)
	frac := u % 1_000_000
	return append(dst, '.', byte('0'+frac/100000), byte('0'+frac/10000%10), byte('0'+frac/1000%10),
		byte('0'+frac/100%10), byte('0'+frac/10%10), byte('0'+frac%10))
}

// ExportKind is how an export column is stored and formatted.
type ExportKind int

// Kinds of export columns.
const (
	ExportString  ExportKind = iota // text, as it is
	ExportInt                       // an integer; a JSON number in JSONL
	ExportTimeUTC                   // a time (NULL when not reached), as ExportTime
	ExportMicros                    // money stored in micro-units, as ExportMoney
)

// ExportKinds[i] is the kind of ExportColumns[i].
var ExportKinds = func() []ExportKind {
	kinds := map[string]ExportKind{
		"duration_ms": ExportInt, "billed_seconds": ExportInt, "sip_code": ExportInt, "bundle_seconds": ExportInt,
		"app_packets": ExportInt, "app_lost": ExportInt, "carrier_packets": ExportInt, "carrier_lost": ExportInt,
		"setup_at": ExportTimeUTC, "ringing_at": ExportTimeUTC, "answer_at": ExportTimeUTC, "end_at": ExportTimeUTC,
		"sell_rate": ExportMicros, "price": ExportMicros, "buy_rate": ExportMicros, "cost": ExportMicros, "margin": ExportMicros,
	}
	out := make([]ExportKind, len(ExportColumns))
	for i, col := range ExportColumns {
		out[i] = kinds[col]
	}
	return out
}()

// Record returns c's export fields in the order of ExportColumns, reusing buf.
func (c *CDR) Record(buf []string) []string {
	i := strconv.FormatInt
	return append(buf[:0],
		c.ID, c.AppCallID, c.CarrierCallID, c.Account, c.Caller, c.DialedRaw, c.DialedE164,
		c.NumberType, c.Prefix, c.Destination, c.Trunk, c.Attempts,
		ExportTime(c.SetupAt), ExportTime(c.RingingAt), ExportTime(c.AnswerAt), ExportTime(c.EndAt),
		i(c.Duration.Milliseconds(), 10), i(c.BilledSeconds, 10),
		string(c.Disposition), strconv.Itoa(c.SIPCode), c.SIPReason, string(c.HangupBy), c.AppCodec, c.CarrierCodec,
		c.Currency, c.RatePlan, ExportMoney(c.SellRate), ExportMoney(c.Price), i(c.BundleSeconds, 10),
		ExportMoney(c.BuyRate), ExportMoney(c.Cost), ExportMoney(c.Margin), c.PaidBy,
		i(c.AppPackets, 10), i(c.AppLost, 10), i(c.CarrierPackets, 10), i(c.CarrierLost, 10))
}

// JSONLKeys[i] is what precedes field i on a JSONL line: the opening
// brace or a comma, then the quoted key and a colon. A line ends with "}\n".
var JSONLKeys = func() []string {
	keys := make([]string, len(ExportColumns))
	for i, col := range ExportColumns {
		sep := ","
		if i == 0 {
			sep = "{"
		}
		keys[i] = sep + string(AppendJSONString(nil, col)) + ":"
	}
	return keys
}()

// AppendJSONL appends one JSONL line (with its newline) to dst: fields are
// a record's export fields in the order of ExportColumns, as Record returns
// them or as a native export formats them. Numeric columns are copied as
// they are (an empty one is an error); the caller makes sure they are
// integers.
func AppendJSONL[T string | []byte](dst []byte, fields []T) ([]byte, error) {
	if len(fields) != len(ExportColumns) {
		return dst, fmt.Errorf("jsonl record: %d fields, want %d", len(fields), len(ExportColumns))
	}
	for i, f := range fields {
		dst = append(dst, JSONLKeys[i]...)
		if ExportKinds[i] == ExportInt {
			if len(f) == 0 {
				return dst, fmt.Errorf("jsonl record: %s is empty", ExportColumns[i])
			}
			dst = append(dst, f...)
		} else {
			dst = AppendJSONString(dst, f)
		}
	}
	return append(dst, '}', '\n'), nil
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string exactly as encoding/json
// writes it: HTML-safe (<, > and & escaped), U+2028 and U+2029 escaped,
// invalid UTF-8 replaced by U+FFFD.
func AppendJSONString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= ' ' && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Exporter writes CDRs in one format. It is what adapters without a faster
// native path use, and the reference the native paths are tested against.
type Exporter struct {
	format ExportFormat
	csv    *csv.Writer
	w      io.Writer
	rec    []string
	line   []byte
	n      int64
}

// NewExporter writes the header (for CSV) on the first Write.
func NewExporter(w io.Writer, format ExportFormat) *Exporter {
	e := &Exporter{format: format, w: w}
	if format == ExportCSV {
		e.csv = csv.NewWriter(w)
	}
	return e
}

// Write adds one record.
func (e *Exporter) Write(c *CDR) error {
	if e.n == 0 && e.csv != nil {
		if err := e.csv.Write(ExportColumns); err != nil {
			return err
		}
	}
	e.n++
	e.rec = c.Record(e.rec)
	if e.csv != nil {
		return e.csv.Write(e.rec)
	}
	var err error
	if e.line, err = AppendJSONL(e.line[:0], e.rec); err != nil {
		return err
	}
	_, err = e.w.Write(e.line)
	return err
}

// Close flushes and, for CSV, writes the header when there were no rows.
func (e *Exporter) Close() error {
	if e.csv == nil {
		return nil
	}
	if e.n == 0 {
		if err := e.csv.Write(ExportColumns); err != nil {
			return err
		}
	}
	e.csv.Flush()
	return e.csv.Error()
}

// Count is the number of records written.
func (e *Exporter) Count() int64 { return e.n }
