package sdp

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

var (
	pcma = Codec{PT: 8, Name: "PCMA", Clock: 8000, Channels: 1}
	pcmu = Codec{PT: 0, Name: "PCMU", Clock: 8000, Channels: 1}
	te   = Codec{PT: 101, Name: "telephone-event", Clock: 8000, Channels: 1}
)

func TestMarshalRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		d    Description
		want []string // lines the text must hold
	}{
		{"answer", Description{SessionID: 42, Version: 1, Addr: netip.MustParseAddrPort("192.0.2.10:20000"), Codecs: []Codec{pcma, te}},
			[]string{"o=dialtone 42 1 IN IP4 192.0.2.10", "c=IN IP4 192.0.2.10", "m=audio 20000 RTP/AVP 8 101", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=ptime:20", "a=sendrecv"}},
		{"offer keeps the offerer's fmtp", Description{SessionID: 7, Version: 3, Addr: netip.MustParseAddrPort("192.0.2.10:20002"), Codecs: []Codec{pcmu, pcma, {PT: 96, Name: "telephone-event", Clock: 8000, Fmtp: "0-15"}}, Direction: SendOnly, RTCPPort: 20003, Ptime: 30},
			[]string{"o=dialtone 7 3 IN IP4 192.0.2.10", "m=audio 20002 RTP/AVP 0 8 96", "a=fmtp:96 0-15", "a=ptime:30", "a=rtcp:20003", "a=sendonly"}},
		{"IPv6", Description{SessionID: 1, Version: 1, Addr: netip.MustParseAddrPort("[2001:db8::5]:30000"), Codecs: []Codec{pcmu}},
			[]string{"o=dialtone 1 1 IN IP6 2001:db8::5", "c=IN IP6 2001:db8::5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := string(tt.d.Marshal())
			for _, line := range tt.want {
				if !strings.Contains(text, line+"\r\n") {
					t.Errorf("Marshal() lacks %q:\n%s", line, text)
				}
			}
			s, err := Parse([]byte(text))
			if err != nil {
				t.Fatalf("Parse(%q) = %v", text, err)
			}
			wantRTCP := netip.AddrPortFrom(tt.d.Addr.Addr(), tt.d.Addr.Port()+1)
			if tt.d.RTCPPort != 0 {
				wantRTCP = netip.AddrPortFrom(tt.d.Addr.Addr(), tt.d.RTCPPort)
			}
			dir := tt.d.Direction
			if dir == "" {
				dir = SendRecv
			}
			if s.Addr != tt.d.Addr || s.RTCP != wantRTCP || codecList(s.Codecs) != codecList(tt.d.Codecs) || s.Direction != dir || s.Origin.SessionID != tt.d.SessionID {
				t.Errorf("Parse(Marshal(%+v)) = %+v, want the description back", tt.d, s)
			}
		})
	}
}

func TestBuilderVersions(t *testing.T) {
	b := NewBuilder(0)
	d := Description{Addr: netip.MustParseAddrPort("203.0.113.1:20000"), Codecs: []Codec{pcma, te}, SessionID: 999, Version: 999}
	steps := []struct {
		name    string
		change  func(*Description)
		version uint64
	}{
		{"first answer (183)", func(*Description) {}, 1},
		{"same answer again (200)", func(*Description) {}, 1},
		{"hold re-offer", func(d *Description) { d.Direction = SendOnly }, 2},
		{"resume", func(d *Description) { d.Direction = SendRecv }, 3},
		{"new codec", func(d *Description) { d.Codecs = []Codec{pcmu, te} }, 4},
	}
	var id uint64
	for _, st := range steps {
		st.change(&d)
		body, err := b.Build(d)
		if err != nil {
			t.Fatalf("%s: Build = %v", st.name, err)
		}
		s, err := Parse(body)
		if err != nil {
			t.Fatalf("%s: Parse(Build()) = %v\n%s", st.name, err, body)
		}
		if id == 0 {
			id = s.Origin.SessionID
		}
		if s.Origin.Username != Username || s.Origin.SessionID != id || s.Origin.SessionID == 999 || s.Origin.Version != st.version {
			t.Errorf("%s: Build() origin = %+v, want user %s, session id %d (not the caller's), version %d", st.name, s.Origin, Username, id, st.version)
		}
		if gid, gv := b.Origin(); gid != id || gv != st.version {
			t.Errorf("%s: Origin() = %d, %d, want %d, %d", st.name, gid, gv, id, st.version)
		}
	}
	if other, _ := NewBuilder(0).Build(d); strings.Contains(string(other), " "+strconv.FormatUint(id, 10)+" ") {
		t.Errorf("two builders share the session id %d", id)
	}
}

// TestBuildHidesTopology: what we send one side names only us, whatever
// the other side's offer held. The session id is fixed: a random one could
// hold the digits looked for.
func TestBuildHidesTopology(t *testing.T) {
	offer, err := Parse([]byte(baresipOffer))
	if err != nil {
		t.Fatal(err)
	}
	audio, dtmf, err := Negotiate(offer, []string{"PCMU", "PCMA"})
	if err != nil {
		t.Fatal(err)
	}
	body, err := NewBuilder(77).Build(Description{Addr: netip.MustParseAddrPort("203.0.113.1:20000"), Codecs: []Codec{audio, *dtmf}, Direction: offer.Direction.Answer()})
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"10.0.0.5", "10170", "baresip", "1543", "cname"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("Build() leaks %q of the offer:\n%s", leak, body)
		}
	}
	if !strings.Contains(string(body), "m=audio 20000 RTP/AVP 8 101\r\n") || !strings.Contains(string(body), "a=fmtp:101 0-15\r\n") {
		t.Errorf("Build() = %s, want PCMA and telephone-event with the offer's payload types and events", body)
	}
}

func TestBuildErrors(t *testing.T) {
	ok := Description{Addr: netip.MustParseAddrPort("203.0.113.1:20000"), Codecs: []Codec{pcmu}}
	tests := []struct {
		name   string
		change func(*Description)
	}{
		{"no address", func(d *Description) { d.Addr = netip.AddrPort{} }},
		{"port 0", func(d *Description) { d.Addr = netip.MustParseAddrPort("203.0.113.1:0") }},
		{"no codec", func(d *Description) { d.Codecs = nil }},
		{"bad direction", func(d *Description) { d.Direction = "sideways" }},
		{"line break in fmtp", func(d *Description) {
			d.Codecs = []Codec{{PT: 101, Name: "telephone-event", Clock: 8000, Fmtp: "0-16\r\nc=IN IP4 6.6.6.6"}}
		}},
		{"payload type over 127", func(d *Description) { d.Codecs = []Codec{{PT: 200, Name: "PCMU", Clock: 8000}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := ok
			tt.change(&d)
			if body, err := NewBuilder(1).Build(d); !errors.Is(err, ErrMalformed) {
				t.Errorf("Build(%+v) = %q, %v, want %v", d, body, err, ErrMalformed)
			}
		})
	}
	if _, err := NewBuilder(1).Build(ok); err != nil {
		t.Errorf("Build(%+v) = %v, want no error", ok, err)
	}
}

func FuzzParse(f *testing.F) {
	// testdata/fuzz/FuzzParse holds the committed seeds; these are the same offers.
	for _, s := range []string{sippOffer, sippPcapOffer, baresipOffer, chromeOffer, "v=0\r\nm=audio x", "\x00\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoAudio) {
				t.Fatalf("Parse(%q) = %v, want an error wrapping ErrMalformed or ErrNoAudio", b, err)
			}
			return
		}
		if !s.Addr.IsValid() || s.Addr.Port() == 0 || !s.RTCP.IsValid() {
			t.Fatalf("Parse(%q) = addr %v, rtcp %v without an error", b, s.Addr, s.RTCP)
		}
		audio, dtmf, err := Negotiate(s, []string{"PCMU", "PCMA", "telephone-event/8000"})
		if err != nil {
			return
		}
		codecs := []Codec{audio}
		if dtmf != nil {
			codecs = append(codecs, *dtmf)
		}
		// What Build accepts, Parse reads back.
		body, err := NewBuilder(1).Build(Description{Addr: s.Addr, Codecs: codecs, Direction: s.Direction.Answer()})
		if err != nil {
			return
		}
		back, err := Parse(body)
		if err != nil {
			t.Fatalf("Parse(Build()) = %v\n%q", err, body)
		}
		if back.Addr != s.Addr || codecList(back.Codecs) != codecList(codecs) {
			t.Fatalf("Parse(Build()) = %v %s, want %v %s", back.Addr, codecList(back.Codecs), s.Addr, codecList(codecs))
		}
	})
}

func BenchmarkParse(b *testing.B) {
	in := []byte(baresipOffer)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	bl := NewBuilder(1)
	d := Description{Addr: netip.MustParseAddrPort("203.0.113.1:20000"), Codecs: []Codec{pcma, te}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bl.Build(d); err != nil {
			b.Fatal(err)
		}
	}
}
