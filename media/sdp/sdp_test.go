package sdp

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

const sippOffer = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

const baresipOffer = "v=0\r\no=- 1543 4321 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\na=tool:baresip 1.0.0\r\nm=audio 10170 RTP/AVP 8 0 101\r\nb=AS:64\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\na=label:1\r\na=ptime:20\r\n"

const chromeOffer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:13 CN/8000\r\na=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n"

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		addr   string
		rtcp   string
		codecs string
		dir    Direction
	}{
		{"sipp", sippOffer, "127.0.0.1:6000", "127.0.0.1:6001", "PCMU/8000", SendRecv},
		{"baresip", baresipOffer, "10.0.0.5:10170", "10.0.0.5:10171", "PCMA/8000, PCMU/8000, telephone-event/8000", SendRecv},
		{"chrome", chromeOffer, "0.0.0.0:9", "0.0.0.0:9", "opus/48000, red/48000, G722/8000, PCMU/8000, PCMA/8000, CN/8000, telephone-event/48000, telephone-event/8000", SendRecv},
		{"static without rtpmap, hold", strings.Replace(sippOffer, "a=rtpmap:0 PCMU/8000\r\n", "a=sendonly\r\n", 1), "127.0.0.1:6000", "127.0.0.1:6001", "PCMU/8000", SendOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if a.Addr.String() != tt.addr || a.RTCP.String() != tt.rtcp || names(a.Codecs) != tt.codecs || a.Direction != tt.dir {
				t.Errorf("Parse(%s) = %v %v [%s] %s, want %s %s [%s] %s", tt.name, a.Addr, a.RTCP, names(a.Codecs), a.Direction, tt.addr, tt.rtcp, tt.codecs, tt.dir)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrMalformed},
		{"garbage", "hello world", ErrMalformed},
		{"no audio", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n", ErrNoAudio},
		{"rejected audio", strings.Replace(sippOffer, "m=audio 6000", "m=audio 0", 1), ErrNoAudio},
		{"no connection", strings.Replace(sippOffer, "c=IN IP4 127.0.0.1\r\n", "", 1), ErrMalformed},
		{"hostname connection", strings.Replace(sippOffer, "c=IN IP4 127.0.0.1", "c=IN IP4 media.example.com", 1), ErrMalformed},
	}
	for _, tt := range tests {
		if _, err := Parse([]byte(tt.in)); !errors.Is(err, tt.want) {
			t.Errorf("Parse(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		offer     string
		supported []string
		audio     string
		dtmf      int // payload type, -1 for none
		err       error
	}{
		{baresipOffer, []string{"PCMU", "PCMA"}, "PCMA/8000", 101, nil},
		{sippOffer, []string{"PCMU", "PCMA"}, "PCMU/8000", -1, nil},
		// Chromium: the telephone-event at the audio codec's clock, never the other.
		{chromeOffer, []string{"PCMU", "PCMA"}, "PCMU/8000", 126, nil},
		{chromeOffer, []string{"opus"}, "opus/48000", 110, nil},
		{sippOffer, []string{"PCMA"}, "", -1, ErrNoCodec},
	}
	for _, tt := range tests {
		offer, err := Parse([]byte(tt.offer))
		if err != nil {
			t.Fatal(err)
		}
		audio, dtmf, err := Negotiate(offer, tt.supported)
		if !errors.Is(err, tt.err) {
			t.Errorf("Negotiate(%s, %v) = %v, want %v", names(offer.Codecs), tt.supported, err, tt.err)
			continue
		}
		if err != nil {
			continue
		}
		gotDTMF := -1
		if dtmf != nil {
			gotDTMF = int(dtmf.PT)
		}
		if names([]Codec{audio}) != tt.audio || gotDTMF != tt.dtmf {
			t.Errorf("Negotiate(%s, %v) = %s, dtmf %d, want %s, dtmf %d", names(offer.Codecs), tt.supported, names([]Codec{audio}), gotDTMF, tt.audio, tt.dtmf)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	d := Description{
		SessionID: 42, Version: 1,
		Addr:   netip.MustParseAddrPort("192.0.2.10:20000"),
		Codecs: []Codec{{PT: 8, Name: "PCMA", Clock: 8000, Channels: 1}, {PT: 101, Name: "telephone-event", Clock: 8000, Channels: 1, Fmtp: "0-16"}},
	}
	a, err := Parse(d.Marshal())
	if err != nil {
		t.Fatalf("Parse(Marshal()) = %v\n%s", err, d.Marshal())
	}
	if a.Addr != d.Addr || names(a.Codecs) != "PCMA/8000, telephone-event/8000" || a.Codecs[1].Fmtp != "0-16" || a.Direction != SendRecv || a.Ptime != 20 {
		t.Errorf("Parse(Marshal()) = %+v, want the description back", a)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{sippOffer, baresipOffer, chromeOffer, "v=0\r\nm=audio x", "\x00\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Parse(b)
		if err != nil {
			return
		}
		if a.Addr.Port() == 0 {
			t.Errorf("Parse(%q) gave port 0 without an error", b)
		}
		_, _, _ = Negotiate(a, []string{"PCMU", "PCMA"})
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
