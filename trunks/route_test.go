package trunks

import (
	"errors"
	"slices"
	"testing"

	"github.com/dialtone/dialtone"
)

func TestTableLookup(t *testing.T) {
	table, err := NewTable([]Route{
		{Prefix: "", Trunks: []string{"world"}},
		{Prefix: "44", Trunks: []string{"uk-fixed", "world"}},
		{Prefix: "44", Types: []NumberType{Mobile}, Trunks: []string{"uk-mobile"}},
		{Prefix: "447400", Trunks: []string{"uk-special"}},
		{Prefix: "1900", Types: []NumberType{Premium}, Trunks: []string{"premium"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		n       Number
		want    []string
		wantErr error
	}{
		{Number{E164: "+4930123456", Type: Fixed}, []string{"world"}, nil},
		{Number{E164: "+441212345678", Type: Fixed}, []string{"uk-fixed", "world"}, nil},
		{Number{E164: "+447700900123", Type: Mobile}, []string{"uk-mobile"}, nil},
		{Number{E164: "+447400123456", Type: Mobile}, []string{"uk-special"}, nil},
		{Number{E164: "+19002345678", Type: Premium}, []string{"premium"}, nil},
		{Number{E164: "+449012345678", Type: Premium}, nil, dialtone.ErrForbidden},
	}
	for _, tt := range tests {
		got, err := table.Lookup(tt.n)
		if !errors.Is(err, tt.wantErr) || !slices.Equal(got, tt.want) {
			t.Errorf("Lookup(%+v) = %v, %v, want %v, %v", tt.n, got, err, tt.want, tt.wantErr)
		}
	}
	empty, _ := NewTable(nil)
	if _, err := empty.Lookup(Number{E164: "+15", Type: Fixed}); !errors.Is(err, dialtone.ErrNoRoute) {
		t.Errorf("Lookup on empty table = %v, want %v", err, dialtone.ErrNoRoute)
	}
}

func TestNewTableRejects(t *testing.T) {
	tests := [][]Route{
		{{Prefix: "+44", Trunks: []string{"a"}}},
		{{Prefix: "44"}},
		{{Prefix: "44", Trunks: []string{"a"}}, {Prefix: "44", Trunks: []string{"b"}}},
		{{Prefix: "44", Types: []NumberType{Mobile}, Trunks: []string{"a"}}, {Prefix: "44", Types: []NumberType{Mobile, Fixed}, Trunks: []string{"b"}}},
		{{Prefix: "44", Trunks: []string{"a", "b"}, Shares: []int{70}}},
		{{Prefix: "44", Trunks: []string{"a", "b"}, Shares: []int{70, -30}}},
	}
	for _, routes := range tests {
		if _, err := NewTable(routes); err == nil {
			t.Errorf("NewTable(%+v) = nil error, want a rejection", routes)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	var routes []Route
	for _, p := range []string{"", "1", "44", "4420", "447", "49", "33", "86", "852", "91"} {
		routes = append(routes, Route{Prefix: p, Trunks: []string{"t" + p}})
	}
	table, err := NewTable(routes)
	if err != nil {
		b.Fatal(err)
	}
	n := Number{E164: "+442079460018", Type: Fixed}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := table.Lookup(n); err != nil {
			b.Fatal(err)
		}
	}
}

type price int

func (p price) LessThan(q price) bool { return p < q }

func TestOrderByCost(t *testing.T) {
	prices := map[string]price{"a": 30, "b": 10, "d": 10}
	got := OrderByCost([]string{"a", "b", "c", "d"}, func(n string) (price, bool) { p, ok := prices[n]; return p, ok })
	want := []string{"b", "d", "a", "c"}
	if !slices.Equal(got, want) {
		t.Errorf("OrderByCost() = %v, want %v (cheapest first, ties and unpriced in route order)", got, want)
	}
}

func TestRewrite(t *testing.T) {
	for _, tt := range []struct {
		e164, prefix, tech string
		strip              int
		want               string
	}{
		{"+442079460018", "", "", 0, "442079460018"},
		{"+442079460018", "00", "", 0, "00442079460018"},
		{"+12125550100", "", "", 1, "2125550100"},
		{"+12125550100", "", "7788#", 0, "7788#12125550100"},
		{"+12125550100", "011", "9#", 1, "9#0112125550100"},
		{"+12125550100", "", "", -3, "12125550100"},
	} {
		if got := Rewrite(tt.e164, tt.strip, tt.prefix, tt.tech); got != tt.want {
			t.Errorf("Rewrite(%s, %d, %q, %q) = %q, want %q", tt.e164, tt.strip, tt.prefix, tt.tech, got, tt.want)
		}
	}
}

func TestShare(t *testing.T) {
	names := []string{"a", "b", "c"}
	for _, tt := range []struct {
		u    float64
		want []string
	}{{0, []string{"a", "b", "c"}}, {0.69, []string{"a", "b", "c"}}, {0.70, []string{"b", "a", "c"}}, {0.99, []string{"b", "a", "c"}}} {
		if got := Share(names, []int{70, 30, 0}, tt.u); !slices.Equal(got, tt.want) {
			t.Errorf("Share(70/30/0, u=%v) = %v, want %v", tt.u, got, tt.want)
		}
	}
	if got := Share(names, nil, 0.5); !slices.Equal(got, names) {
		t.Errorf("Share(no weights) = %v, want the order unchanged", got)
	}
	counts := map[string]int{}
	for i := range 10000 {
		counts[Share(names, []int{1, 3, 0}, float64(i)/10000)[0]]++
	}
	if counts["a"] != 2500 || counts["b"] != 7500 || counts["c"] != 0 {
		t.Errorf("first picks over a uniform sweep = %v, want a 2500, b 7500, c 0", counts)
	}
}
