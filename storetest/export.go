package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// TrickyCDRs derives from base a set of records that are hard to export:
// unicode (with U+2028 and U+2029, which encoding/json escapes), quotes,
// backslashes, HTML characters, control characters, empty fields, calls
// that never rang or were never answered, the largest amounts a store
// keeps (dialtone.ToMicros), negative margins and counters at their limits. They end one second
// apart from base.EndAt, in order, and differ in ID.
func TrickyCDRs(base *dialtone.CDR) []*dialtone.CDR {
	d := decimal.RequireFromString
	edits := []func(c *dialtone.CDR){
		func(c *dialtone.CDR) {},
		func(c *dialtone.CDR) {
			c.Caller, c.Destination, c.SIPReason = "Zoë 😀 \u2028\u2029", "Côte d'Ivoire — 東京", "Ünïcödé ✓"
		},
		func(c *dialtone.CDR) {
			c.SIPReason, c.AppCallID = `Busy, "really" \ busy <b>&amp;</b> 'x'`, `a\"b\\c\N`
			c.Margin = d("-0.5")
		},
		func(c *dialtone.CDR) {
			c.CarrierCallID, c.SIPReason = "tab\there\r\nline\bback\fform\x01\x1f\x7f", "\\N"
			c.Margin = d("-0.000001")
		},
		func(c *dialtone.CDR) {
			c.AppCallID, c.CarrierCallID, c.Caller, c.DialedE164, c.Prefix, c.Destination, c.NumberType = "", "", "", "", "", "", ""
			c.SIPReason, c.AppCodec, c.CarrierCodec, c.RatePlan, c.Attempts, c.PaidBy = "", "", "", "", "", ""
			c.Disposition, c.HangupBy, c.SIPCode = dialtone.Failed, "", 0
			c.RingingAt, c.AnswerAt, c.Duration, c.BilledSeconds = time.Time{}, time.Time{}, 0, 0
			c.SellRate, c.Price, c.BuyRate, c.Cost, c.Margin = decimal.Zero, decimal.Zero, decimal.Zero, decimal.Zero, decimal.Zero
		},
		func(c *dialtone.CDR) {
			c.AnswerAt, c.Duration, c.BilledSeconds = time.Time{}, 0, 0
			c.Attempts, c.PaidBy = "carrier1:503,carrier2:200", "bundle"
		},
		func(c *dialtone.CDR) {
			c.Price, c.Cost = d("999999999999.999999"), d("1000000000000")
			c.Margin, c.SellRate, c.BuyRate = d("-1000000000000"), d("0.000001"), d("-123456789.1")
			c.AppPackets, c.AppLost, c.CarrierPackets, c.CarrierLost = math.MaxInt64, math.MinInt64, 0, -1
			c.BundleSeconds, c.BilledSeconds, c.SIPCode = math.MaxInt64, math.MaxInt32, 699
			c.Duration = time.Duration(math.MaxInt64/int64(time.Millisecond)) * time.Millisecond
		},
		func(c *dialtone.CDR) {
			c.SetupAt, c.RingingAt = c.EndAt.Add(-time.Hour).Add(time.Microsecond), c.EndAt.Add(-time.Hour+999999*time.Microsecond)
			c.AnswerAt = c.EndAt.Add(-time.Second + 1*time.Microsecond).In(time.FixedZone("X", -7*3600))
		},
	}
	out := make([]*dialtone.CDR, len(edits))
	for i, edit := range edits {
		c := *base
		c.ID = fmt.Sprintf("%s-%02d", base.ID, i)
		c.EndAt = base.EndAt.Add(time.Duration(i) * time.Second)
		c.SetupAt, c.RingingAt, c.AnswerAt = c.SetupAt.Add(time.Duration(i)*time.Second), c.RingingAt.Add(time.Duration(i)*time.Second), c.AnswerAt.Add(time.Duration(i)*time.Second)
		edit(&c)
		out[i] = &c
	}
	return out
}

// ReferenceJSONL is the JSONL export of cs written with encoding/json, the
// reference the exporters are held to byte for byte: keys in the order of
// dialtone.ExportColumns, the numeric columns as numbers and every other
// field as a string.
func ReferenceJSONL(cs []*dialtone.CDR) []byte {
	numeric := map[string]bool{
		"duration_ms": true, "billed_seconds": true, "sip_code": true, "bundle_seconds": true,
		"app_packets": true, "app_lost": true, "carrier_packets": true, "carrier_lost": true,
	}
	var out bytes.Buffer
	var rec []string
	for _, c := range cs {
		rec = c.Record(rec)
		out.WriteByte('{')
		for k, col := range dialtone.ExportColumns {
			if k > 0 {
				out.WriteByte(',')
			}
			out.WriteString(strconv.Quote(col))
			out.WriteByte(':')
			if numeric[col] {
				out.WriteString(rec[k])
				continue
			}
			b, err := json.Marshal(rec[k])
			if err != nil {
				panic(err) // a string always marshals
			}
			out.Write(b)
		}
		out.WriteString("}\n")
	}
	return out.Bytes()
}

// testExportJSONL: the store's JSONL export (native or portable) equals the
// reference encoding byte for byte on hard records, and so does the portable
// Exporter.
func testExportJSONL(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	cs := TrickyCDRs(NewCDR(t, st, "alice", "tricky", Base))
	for _, c := range cs {
		if err := st.InsertCDR(ctx, c); err != nil {
			t.Fatalf("InsertCDR(%s) = %v", c.ID, err)
		}
	}
	want := ReferenceJSONL(cs)
	f := dialtone.CDRFilter{From: Base.Add(-time.Hour), To: Base.Add(time.Hour)}
	var got bytes.Buffer
	n, err := st.ExportCDRs(ctx, f, dialtone.ExportJSONL, &got)
	if err != nil || n != int64(len(cs)) {
		t.Fatalf("ExportCDRs(jsonl) = %d, %v; want %d rows", n, err, len(cs))
	}
	diffLines(t, "ExportCDRs(jsonl)", got.Bytes(), want)
	var portable bytes.Buffer
	e := dialtone.NewExporter(&portable, dialtone.ExportJSONL)
	for _, c := range cs {
		if err := e.Write(c); err != nil {
			t.Fatalf("Exporter.Write(%s) = %v", c.ID, err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	diffLines(t, "Exporter(jsonl)", portable.Bytes(), want)
	var empty bytes.Buffer
	if n, err := st.ExportCDRs(ctx, dialtone.CDRFilter{From: Base.Add(time.Hour), To: Base.Add(2 * time.Hour)}, dialtone.ExportJSONL, &empty); err != nil || n != 0 || empty.Len() != 0 {
		t.Errorf("ExportCDRs(jsonl, empty range) = %d, %q, %v; want nothing", n, empty.String(), err)
	}
}

// diffLines reports the first line where got and want differ.
func diffLines(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	g, w := bytes.SplitAfter(got, []byte("\n")), bytes.SplitAfter(want, []byte("\n"))
	for i := range max(len(g), len(w)) {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			t.Errorf("%s line %d =\n%s\nwant\n%s", what, i+1, gl, wl)
			return
		}
	}
}
