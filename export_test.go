package dialtone_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/storetest"
)

var jsonStrings = []string{
	"", "plain", `"quoted"`, `back\slash`, "<b>&amp;</b>", "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f\x7f",
	"Zoë 😀 東京", "\u2028\u2029", "bad \xff utf-8 \xc3", "\xed\xa0\x80 surrogate", "trailing \xe2\x80",
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range jsonStrings {
		want, _ := json.Marshal(s)
		if got := dialtone.AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("AppendJSONString(%q) = %s, want %s", s, got, want)
		}
		if got := dialtone.AppendJSONString([]byte("x"), []byte(s)); !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Errorf("AppendJSONString(x, []byte(%q)) = %s, want x%s", s, got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := dialtone.AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("AppendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

func trickyBase() *dialtone.CDR {
	end := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
	return &dialtone.CDR{
		ID: "x", AppCallID: "app", CarrierCallID: "carrier", AccountID: 1, Account: "alice", Caller: "+12015550123",
		DialedRaw: "011 44 7400 123456", DialedE164: "+447400123456", Trunk: "carrier1",
		SetupAt: end.Add(-65 * time.Second), RingingAt: end.Add(-64 * time.Second), AnswerAt: end.Add(-60 * time.Second),
		EndAt: end, Duration: 59876 * time.Millisecond, BilledSeconds: 60,
		Disposition: dialtone.Answered, SIPCode: 200, SIPReason: "OK", HangupBy: dialtone.PartyCallee,
		Currency: "USD", RatePlan: "retail", Prefix: "447", Destination: "United Kingdom - Mobile", NumberType: "mobile",
		SellRate: decimal.RequireFromString("0.05"), Price: decimal.RequireFromString("0.0512"),
	}
}

func TestExporterJSONL(t *testing.T) {
	cs := storetest.TrickyCDRs(trickyBase())
	bad := *cs[0]
	bad.ID, bad.Caller, bad.SIPReason = "bad-utf8", "\xff\xfe", "x\xc3"
	cs = append(cs, &bad)
	var got bytes.Buffer
	e := dialtone.NewExporter(&got, dialtone.ExportJSONL)
	for _, c := range cs {
		if err := e.Write(c); err != nil {
			t.Fatalf("Write(%s) = %v", c.ID, err)
		}
	}
	if err := e.Close(); err != nil || e.Count() != int64(len(cs)) {
		t.Fatalf("Close() = %v, Count() = %d; want nil, %d", err, e.Count(), len(cs))
	}
	if want := storetest.ReferenceJSONL(cs); !bytes.Equal(got.Bytes(), want) {
		t.Errorf("Exporter(jsonl) =\n%s\nwant\n%s", got.Bytes(), want)
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(got.Bytes(), []byte("\n")), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil || len(m) != len(dialtone.ExportColumns) {
			t.Errorf("line %d: %d keys, %v; want %d keys", i+1, len(m), err, len(dialtone.ExportColumns))
		}
	}
}

func TestAppendJSONLFieldCount(t *testing.T) {
	if _, err := dialtone.AppendJSONL(nil, []string{"a", "b"}); err == nil {
		t.Error("AppendJSONL(2 fields) = nil error, want one")
	}
}

func BenchmarkExporterJSONL(b *testing.B) {
	cs := storetest.TrickyCDRs(trickyBase())
	e := dialtone.NewExporter(discard{}, dialtone.ExportJSONL)
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cs {
			if err := e.Write(c); err != nil {
				b.Fatal(err)
			}
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkReferenceJSONL is encoding/json on the same records, the way
// the Exporter wrote JSONL before it appended into a reused line.
func BenchmarkReferenceJSONL(b *testing.B) {
	cs := storetest.TrickyCDRs(trickyBase())
	b.ReportAllocs()
	for b.Loop() {
		_ = storetest.ReferenceJSONL(cs)
	}
}

var microsCases = []int64{0, 1, -1, 999999, -999999, 1000000, -1000000, 1234567, -30200, 120000,
	1_000_000_000_000_000_000, -1_000_000_000_000_000_000, math.MaxInt64, math.MinInt64, math.MinInt64 + 1}

func TestAppendExportMicros(t *testing.T) {
	for _, m := range microsCases {
		want := dialtone.ExportMoney(dialtone.FromMicros(m))
		if got := string(dialtone.AppendExportMicros([]byte("x"), m)); got != "x"+want {
			t.Errorf("AppendExportMicros(%d) = %q, want x%s", m, got, want)
		}
	}
}

func FuzzAppendExportMicros(f *testing.F) {
	for _, m := range microsCases {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, m int64) {
		if got, want := string(dialtone.AppendExportMicros(nil, m)), dialtone.ExportMoney(dialtone.FromMicros(m)); got != want {
			t.Errorf("AppendExportMicros(%d) = %q, want %q", m, got, want)
		}
	})
}

func TestAppendExportTime(t *testing.T) {
	for _, tm := range []time.Time{{}, time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.FixedZone("X", 3600)),
		time.Unix(0, 0), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Microsecond)} {
		if got, want := string(dialtone.AppendExportTime([]byte("x"), tm)), "x"+dialtone.ExportTime(tm); got != want {
			t.Errorf("AppendExportTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

func TestExportKinds(t *testing.T) {
	count := map[dialtone.ExportKind]int{}
	for _, k := range dialtone.ExportKinds {
		count[k]++
	}
	want := map[dialtone.ExportKind]int{dialtone.ExportString: 20, dialtone.ExportInt: 8, dialtone.ExportTimeUTC: 4, dialtone.ExportMicros: 5}
	for k, n := range want {
		if count[k] != n || len(dialtone.ExportKinds) != len(dialtone.ExportColumns) {
			t.Errorf("ExportKinds has %d of kind %d (of %d), want %d (of %d)", count[k], k, len(dialtone.ExportKinds), n, len(dialtone.ExportColumns))
		}
	}
}
