package sdp

import (
	"errors"
	"strings"
	"testing"
)

// Offers as real endpoints send them. The fuzz corpus in
// testdata/fuzz/FuzzParse holds the same bodies.
const (
	// sipp's built-in uac scenario.
	sippOffer = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	// sipp's uac_pcap scenario: PCMA and DTMF from its bundled pcaps.
	sippPcapOffer = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-11,16\r\n"
	// baresip 3.x with opus, G.722 and G.711 enabled.
	baresipOffer = "v=0\r\no=- 1543 4321 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\na=tool:baresip 3.10.1\r\nm=audio 10170 RTP/AVP 96 9 8 0 101\r\nb=AS:64\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1;sprop-stereo=1\r\na=rtpmap:9 G722/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=rtcp-rsize\r\na=sendrecv\r\na=label:1\r\na=ssrc:2978301426 cname:2bc0f8a5-6a4c-4a3e-8fb3-51a0c1b2f1d1\r\na=ptime:20\r\n"
	// Chromium's first offer (ICE, DTLS-SRTP, rtcp-mux).
	chromeOffer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS 7d1b\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef01234567\r\na=ice-options:trickle\r\na=fingerprint:sha-256 4F:1A:00:9C:2B:7E:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA\r\na=setup:actpass\r\na=mid:0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=sendrecv\r\na=msid:7d1b 2f3c\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:13 CN/8000\r\na=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\na=ssrc:1001 cname:x\r\n"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		addr   string
		rtcp   string
		proto  string
		codecs string
		fmtp   string // of the last codec
		dir    Direction
		ptime  int
	}{
		{"sipp", sippOffer, "127.0.0.1:6000", "127.0.0.1:6001", "RTP/AVP", "PCMU/8000", "", SendRecv, 0},
		{"sipp pcap", sippPcapOffer, "127.0.0.1:6000", "127.0.0.1:6001", "RTP/AVP", "PCMA/8000, telephone-event/8000", "0-11,16", SendRecv, 0},
		{"baresip", baresipOffer, "10.0.0.5:10170", "10.0.0.5:10171", "RTP/AVP", "opus/48000, G722/8000, PCMA/8000, PCMU/8000, telephone-event/8000", "0-15", SendRecv, 20},
		{"chrome", chromeOffer, "0.0.0.0:9", "0.0.0.0:9", "UDP/TLS/RTP/SAVPF", "opus/48000, red/48000, G722/8000, PCMU/8000, PCMA/8000, CN/8000, telephone-event/48000, telephone-event/8000", "", SendRecv, 0},
		{"static types without rtpmap",
			"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 8 0 18 96\r\n",
			"192.0.2.1:7000", "192.0.2.1:7001", "RTP/AVP", "PCMA/8000, PCMU/8000, G729/8000", "", SendRecv, 0},
		{"session-level direction",
			"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=sendonly\r\nm=audio 7000 RTP/AVP 0\r\n",
			"192.0.2.1:7000", "192.0.2.1:7001", "RTP/AVP", "PCMU/8000", "", SendOnly, 0},
		{"media-level direction wins",
			"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=sendonly\r\nm=audio 7000 RTP/AVP 0\r\na=inactive\r\n",
			"192.0.2.1:7000", "192.0.2.1:7001", "RTP/AVP", "PCMU/8000", "", Inactive, 0},
		{"recvonly", strings.Replace(sippOffer, "a=rtpmap:0 PCMU/8000\r\n", "a=recvonly\r\n", 1),
			"127.0.0.1:6000", "127.0.0.1:6001", "RTP/AVP", "PCMU/8000", "", RecvOnly, 0},
		{"media-level c= wins",
			"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 8\r\nc=IN IP4 198.51.100.2\r\na=ptime:30\r\n",
			"198.51.100.2:7000", "198.51.100.2:7001", "RTP/AVP", "PCMA/8000", "", SendRecv, 30},
		{"a=rtcp port and address (RFC 3605)",
			"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 5004 RTP/AVP 8\r\nc=IN IP4 10.0.0.1\r\na=rtcp:5010 IN IP4 10.0.0.2\r\n",
			"10.0.0.1:5004", "10.0.0.2:5010", "RTP/AVP", "PCMA/8000", "", SendRecv, 0},
		{"a=rtcp port only",
			"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 8\r\na=rtcp:6000\r\n",
			"10.0.0.1:5004", "10.0.0.1:6000", "RTP/AVP", "PCMA/8000", "", SendRecv, 0},
		{"IPv6",
			"v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n",
			"[2001:db8::1]:5004", "[2001:db8::1]:5005", "RTP/AVP", "PCMU/8000", "", SendRecv, 0},
		{"LF line ends", strings.ReplaceAll(sippPcapOffer, "\r\n", "\n"),
			"127.0.0.1:6000", "127.0.0.1:6001", "RTP/AVP", "PCMA/8000, telephone-event/8000", "0-11,16", SendRecv, 0},
		{"first audio stream of two, after video",
			"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=video 9000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 7000 RTP/AVP 8\r\nm=audio 7002 RTP/AVP 0\r\n",
			"192.0.2.1:7000", "192.0.2.1:7001", "RTP/AVP", "PCMA/8000", "", SendRecv, 0},
		{"garbled attributes are ignored",
			"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0 x 300 97\r\na=rtpmap:97\r\na=rtpmap:0 PCMU/abc\r\na=fmtp:x y\r\na=ptime:-5\r\na=rtcp:banana\r\n",
			"192.0.2.1:7000", "192.0.2.1:7001", "RTP/AVP", "PCMU/8000", "", SendRecv, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want no error", tt.in, err)
			}
			fmtp := ""
			if len(s.Codecs) > 0 {
				fmtp = s.Codecs[len(s.Codecs)-1].Fmtp
			}
			got := []string{s.Addr.String(), s.RTCP.String(), s.Proto, codecList(s.Codecs), fmtp, string(s.Direction)}
			want := []string{tt.addr, tt.rtcp, tt.proto, tt.codecs, tt.fmtp, string(tt.dir)}
			if strings.Join(got, " | ") != strings.Join(want, " | ") || s.Ptime != tt.ptime {
				t.Errorf("Parse(%s) = %s, ptime %d\nwant %s, ptime %d", tt.name, strings.Join(got, " | "), s.Ptime, strings.Join(want, " | "), tt.ptime)
			}
		})
	}
}

func TestParseOriginAndHold(t *testing.T) {
	s, err := Parse([]byte(sippOffer))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Origin{Username: "user1", SessionID: 53655765, Version: 2353687637}); s.Origin != want {
		t.Errorf("Parse(sipp).Origin = %+v, want %+v", s.Origin, want)
	}
	tests := []struct {
		name string
		in   string
		hold bool
	}{
		{"sendrecv", sippOffer, false},
		{"sendonly", sippOffer + "a=sendonly\r\n", true},
		{"inactive", sippOffer + "a=inactive\r\n", true},
		{"recvonly", sippOffer + "a=recvonly\r\n", false},
		{"RFC 2543 hold, c=0.0.0.0", strings.Replace(sippOffer, "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", 1), true},
		{"ICE offer with c=0.0.0.0 is no hold", chromeOffer, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if s.Hold() != tt.hold {
				t.Errorf("Parse(%q).Hold() = %v, want %v", tt.in, s.Hold(), tt.hold)
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
		{"binary", "\x00\xff\xfe\x01", ErrMalformed},
		{"SIP message instead of SDP", "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n\r\n", ErrMalformed},
		{"truncated", "v=0\r\no=- 1 1 IN IP4\r\nm=audio 99999 RTP/AVP 0\r\n", ErrMalformed},
		{"no audio", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n", ErrNoAudio},
		{"no media at all", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n", ErrNoAudio},
		{"rejected audio (port 0)", strings.Replace(sippOffer, "m=audio 6000", "m=audio 0", 1), ErrNoAudio},
		{"port out of range", strings.Replace(sippOffer, "m=audio 6000", "m=audio 70000", 1), ErrMalformed},
		{"no connection", strings.Replace(sippOffer, "c=IN IP4 127.0.0.1\r\n", "", 1), ErrMalformed},
		{"hostname connection", strings.Replace(sippOffer, "c=IN IP4 127.0.0.1", "c=IN IP4 media.example.com", 1), ErrMalformed},
		{"multicast connection", strings.Replace(sippOffer, "c=IN IP4 127.0.0.1", "c=IN IP4 224.2.1.1/127", 1), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse(%q) = %+v, %v, want %v", tt.in, s, err, tt.want)
			}
		})
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name      string
		offer     string
		supported []string
		audio     string
		pt        int // of the audio codec
		dtmf      int // payload type, -1 for none
		err       error
	}{
		{"baresip: offerer's order wins", baresipOffer, []string{"PCMU", "PCMA", "telephone-event/8000"}, "PCMA/8000", 8, 101, nil},
		{"sipp: no telephone-event offered", sippOffer, []string{"PCMU", "PCMA", "telephone-event/8000"}, "PCMU/8000", 0, -1, nil},
		{"sipp pcap", sippPcapOffer, []string{"PCMU", "PCMA"}, "PCMA/8000", 8, 101, nil},
		// Chromium: the telephone-event at the audio codec's clock, never the other.
		{"chrome G.711", chromeOffer, []string{"PCMU", "PCMA"}, "PCMU/8000", 0, 126, nil},
		{"chrome opus", chromeOffer, []string{"opus/48000"}, "opus/48000", 111, 110, nil},
		{"name with clock", baresipOffer, []string{"pcmu/8000"}, "PCMU/8000", 0, 101, nil},
		{"wrong clock", baresipOffer, []string{"PCMU/16000"}, "", 0, -1, ErrNoCodec},
		{"telephone-event is no audio codec",
			"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n",
			[]string{"telephone-event/8000", "PCMU"}, "", 0, -1, ErrNoCodec},
		{"nothing in common", sippOffer, []string{"PCMA"}, "", 0, -1, ErrNoCodec},
		{"nothing supported", sippOffer, nil, "", 0, -1, ErrNoCodec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offer, err := Parse([]byte(tt.offer))
			if err != nil {
				t.Fatal(err)
			}
			audio, dtmf, err := Negotiate(offer, tt.supported)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Negotiate(%s, %q) = %v, want %v", codecList(offer.Codecs), tt.supported, err, tt.err)
			}
			if err != nil {
				return
			}
			gotDTMF := -1
			if dtmf != nil {
				gotDTMF = int(dtmf.PT)
			}
			if audio.String() != tt.audio || int(audio.PT) != tt.pt || gotDTMF != tt.dtmf {
				t.Errorf("Negotiate(%s, %q) = %s pt %d, dtmf %d, want %s pt %d, dtmf %d",
					codecList(offer.Codecs), tt.supported, audio, audio.PT, gotDTMF, tt.audio, tt.pt, tt.dtmf)
			}
		})
	}
}

func TestDirectionAnswer(t *testing.T) {
	tests := []struct {
		offer, answer Direction
	}{
		{SendRecv, SendRecv}, {SendOnly, RecvOnly}, {RecvOnly, SendOnly}, {Inactive, Inactive}, {"", SendRecv},
	}
	for _, tt := range tests {
		if got := tt.offer.Answer(); got != tt.answer {
			t.Errorf("Direction(%q).Answer() = %q, want %q", tt.offer, got, tt.answer)
		}
	}
}
