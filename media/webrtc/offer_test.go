package webrtc

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

// chromiumOffer is an offer as Chromium writes it for JsSIP (ICE gathering
// complete), read from testdata.
func chromiumOffer(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile("testdata/chromium-offer.sdp")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// edit applies old->new replacements to s, failing if one does not match.
func edit(tb testing.TB, s string, oldNew ...string) string {
	tb.Helper()
	for i := 0; i < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			tb.Fatalf("offer has no %q", oldNew[i])
		}
		s = strings.ReplaceAll(s, oldNew[i], oldNew[i+1])
	}
	return s
}

func TestParseOfferChromium(t *testing.T) {
	o, err := parseOffer([]byte(chromiumOffer(t)))
	if err != nil {
		t.Fatalf("parseOffer(chromium) = %v", err)
	}
	want := []Codec{
		{111, "opus", 48000, 2, "minptime=10;useinbandfec=1"},
		{63, "red", 48000, 2, "111/111"},
		{9, "G722", 8000, 0, ""},
		{0, "PCMU", 8000, 0, ""},
		{8, "PCMA", 8000, 0, ""},
		{13, "CN", 8000, 0, ""},
		{110, "telephone-event", 48000, 0, ""},
		{126, "telephone-event", 8000, 0, ""},
	}
	if !slices.Equal(o.codecs, want) {
		t.Errorf("parseOffer(chromium).codecs = %v, want %v", o.codecs, want)
	}
	if o.mid != "0" || o.direction != "sendrecv" {
		t.Errorf("parseOffer(chromium) mid %q direction %q, want 0 sendrecv", o.mid, o.direction)
	}
}

func TestAcceptRejects(t *testing.T) {
	e := newEngine(t, Config{})
	fp := "a=fingerprint:sha-256 4B:92:1A:6B:13:5E:0B:67:0E:9C:3D:9E:83:7E:6F:1D:A2:C5:0D:21:62:4A:BB:AE:8E:3A:91:F5:64:7A:02:5C\r\n"
	tests := []struct {
		name  string
		offer func(string) string
		want  error
		say   string // in the error text
	}{
		{"plain RTP", func(s string) string {
			return edit(t, s, "UDP/TLS/RTP/SAVPF", "RTP/AVP", fp, "")
		}, ErrNotDTLS, "plain RTP"},
		{"SDES only", func(s string) string {
			return edit(t, s, "UDP/TLS/RTP/SAVPF", "RTP/SAVPF", fp, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n")
		}, ErrNotDTLS, "SDES"},
		{"crypto without fingerprint", func(s string) string {
			return edit(t, s, fp, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n")
		}, ErrNotDTLS, "a=crypto"},
		{"no fingerprint", func(s string) string { return edit(t, s, fp, "") }, ErrNotDTLS, "fingerprint"},
		{"no ICE", func(s string) string { return edit(t, s, "a=ice-pwd:fYPDmUEEsdc0v7mo7kxIqvV2\r\n", "") }, ErrNotDTLS, "ICE"},
		{"TCP", func(s string) string { return edit(t, s, "UDP/TLS/RTP/SAVPF", "TCP/DTLS/RTP/SAVPF") }, ErrNotDTLS, "TCP/DTLS"},
		{"G722 only", func(s string) string {
			return edit(t, s, "UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126", "UDP/TLS/RTP/SAVPF 9 110 126")
		}, ErrNoAudio, "9 G722/8000"},
		{"video only", func(s string) string { return edit(t, s, "m=audio", "m=video") }, ErrNoAudio, "no audio"},
		{"audio rejected", func(s string) string { return edit(t, s, "m=audio 50414", "m=audio 0") }, ErrNoAudio, "no audio"},
		{"no mid", func(s string) string { return edit(t, s, "a=mid:0\r\n", "") }, ErrMalformedOffer, "mid"},
		{"bad format", func(s string) string { return edit(t, s, "SAVPF 111 63", "SAVPF 111 x3") }, ErrMalformedOffer, "x3"},
		{"garbage", func(string) string { return "\x00\x01 this is not SDP \xff" }, ErrMalformedOffer, ""},
		{"empty", func(string) string { return "" }, ErrMalformedOffer, ""},
		{"truncated", func(s string) string { return s[:len(s)/3] }, nil, ""},
		{"bad fingerprint", func(s string) string { return edit(t, s, "sha-256 4B:92", "sha-256 ZZ") }, ErrMalformedOffer, ""},
		{"huge", func(s string) string { return s + strings.Repeat("a=x:y\r\n", 20000) }, ErrMalformedOffer, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offer := tt.offer(chromiumOffer(t))
			p, err := e.Accept([]byte(offer))
			if err == nil {
				p.Close()
				t.Fatalf("Accept(%s) = nil error, want %v", tt.name, tt.want)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Accept(%s) = %v, want %v", tt.name, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.say) {
				t.Errorf("Accept(%s) = %q, want it to say %q", tt.name, err, tt.say)
			}
		})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.peers) != 0 {
		t.Errorf("engine holds %d peers after failed Accepts, want 0", len(e.peers))
	}
}

func TestAnswerRejects(t *testing.T) {
	e := newEngine(t, Config{})
	tests := []struct {
		name  string
		audio Codec
		dtmf  *Codec
	}{
		{"G722", Codec{9, "G722", 8000, 0, ""}, nil},
		{"not offered", Codec{96, "opus", 48000, 2, ""}, nil},
		{"telephone-event as audio", Codec{126, "telephone-event", 8000, 0, ""}, nil},
		{"PCMU as dtmf", Codec{0, "PCMU", 8000, 0, ""}, &Codec{0, "PCMU", 8000, 0, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.Accept([]byte(chromiumOffer(t)))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if _, err := p.Answer(tt.audio, tt.dtmf); err == nil {
				t.Errorf("Answer(%v, %v) = nil error, want one", tt.audio, tt.dtmf)
			}
		})
	}
}

func FuzzAccept(f *testing.F) {
	f.Add([]byte(chromiumOffer(f)))
	e := newEngine(f, Config{})
	f.Fuzz(func(t *testing.T, offer []byte) {
		p, err := e.Accept(offer)
		if err != nil {
			return
		}
		defer p.Close()
		var audio Codec
		var dtmf *Codec
		for _, c := range p.Offered() {
			switch {
			case c.isAudio() && audio.Name == "":
				audio = c
			case c.isDTMF() && dtmf == nil:
				dtmf = &c
			}
		}
		if audio.Name == "" {
			t.Fatalf("Accept took an offer without usable audio: %v", p.Offered())
		}
		_, _ = p.Answer(audio, dtmf)
	})
}

// TestAnswerOpusFmtp: an offer whose Opus fmtp differs from ours still
// gets Opus, with our fmtp (what we want to receive, RFC 7587 section 7).
func TestAnswerOpusFmtp(t *testing.T) {
	e := newEngine(t, Config{})
	for _, fmtp := range []string{"minptime=10;useinbandfec=0", "minptime=20;useinbandfec=1;stereo=1;usedtx=1", "x"} {
		offer := edit(t, chromiumOffer(t), "a=fmtp:111 minptime=10;useinbandfec=1", "a=fmtp:111 "+fmtp)
		p, err := e.Accept([]byte(offer))
		if err != nil {
			t.Fatal(err)
		}
		a, d := pick(t, p.Offered(), "opus", 48000)
		answer, err := p.Answer(a, d)
		if err != nil {
			t.Fatalf("Answer(opus with fmtp %q) = %v", fmtp, err)
		}
		m := audioMedia(t, answer)
		if got := attrs(m, "fmtp"); !slices.Equal(got, []string{"111 minptime=10;useinbandfec=1"}) {
			t.Errorf("Answer(opus with fmtp %q) fmtp = %v, want [111 minptime=10;useinbandfec=1]", fmtp, got)
		}
		p.Close()
	}
}

// TestAcceptShapes: offers Chromium or other WebRTC stacks write that
// differ from the usual, each answered on its audio m-line.
func TestAcceptShapes(t *testing.T) {
	e := newEngine(t, Config{})
	tests := []struct {
		name  string
		offer func(string) string
		mid   string
	}{
		// Chromium hides host addresses behind mDNS names (RFC 8445 and
		// draft-ietf-mmusic-mdns-ice-candidates); we resolve none and
		// connect peer-reflexive.
		{"mDNS candidate", func(s string) string {
			return edit(t, s, "192.0.2.2 50414 typ host", "6a1d3c2e-8b4f-4e71-9a0d-2f7c1b5e9d3a.local 50414 typ host")
		}, "0"},
		{"first audio rejected", func(s string) string {
			return edit(t, s, "a=group:BUNDLE 0", "a=group:BUNDLE 1", "m=audio 50414", "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=inactive\r\na=rtpmap:0 PCMU/8000\r\nm=audio 50414", "a=mid:0\r\na=extmap", "a=mid:1\r\na=extmap")
		}, "1"},
		{"static payload types without rtpmap", func(s string) string {
			return edit(t, s, "a=rtpmap:0 PCMU/8000\r\n", "", "a=rtpmap:8 PCMA/8000\r\n", "", "a=rtpmap:13 CN/8000\r\n", "", "a=rtpmap:9 G722/8000\r\n", "")
		}, "0"},
		{"session-level direction", func(s string) string {
			return edit(t, s, "a=sendrecv\r\n", "", "t=0 0\r\n", "t=0 0\r\na=sendrecv\r\n")
		}, "0"},
		{"LF line ends", func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.Accept([]byte(tt.offer(chromiumOffer(t))))
			if err != nil {
				t.Fatalf("Accept() = %v", err)
			}
			defer p.Close()
			a, d := pick(t, p.Offered(), "PCMU", 8000)
			answer, err := p.Answer(a, d)
			if err != nil {
				t.Fatalf("Answer(%v, %v) = %v", a, d, err)
			}
			var desc sdp.SessionDescription
			if err := desc.Unmarshal(answer); err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, m := range desc.MediaDescriptions {
				if mid, _ := m.Attribute("mid"); mid == tt.mid {
					found = true
					if !slices.Equal(m.MediaName.Formats, []string{"0", "126"}) || m.MediaName.Port.Value == 0 {
						t.Errorf("answer m-line %q, want port 9 and formats 0 126", m.MediaName)
					}
					if _, ok := m.Attribute("ssrc"); !ok {
						t.Errorf("answer m-line mid %s has no a=ssrc: we would not send on it", tt.mid)
					}
				}
			}
			if !found {
				t.Errorf("answer has no m-line for mid %s:\n%s", tt.mid, answer)
			}
		})
	}
}
