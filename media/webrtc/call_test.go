package webrtc

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
)

func TestCall(t *testing.T) {
	tests := []struct {
		audio    string
		teClock  int
		audioPT  uint8
		dtmfPT   uint8
		wantRTP  []string // the answer's rtpmaps
		wantFmtp []string
	}{
		{"opus", 48000, 111, 110, []string{"111 opus/48000/2", "110 telephone-event/48000"}, []string{"111 minptime=10;useinbandfec=1"}},
		{"PCMU", 8000, 0, 126, []string{"0 PCMU/8000", "126 telephone-event/8000"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.audio, func(t *testing.T) {
			e := newEngine(t, Config{})
			k := dial(t, e, tt.audio, tt.teClock)

			wantOffered := []string{"111 opus/48000/2", "63 red/48000/2", "9 G722/8000", "0 PCMU/8000", "8 PCMA/8000", "13 CN/8000", "110 telephone-event/48000", "126 telephone-event/8000"}
			var offered []string
			for _, c := range k.p.Offered() {
				offered = append(offered, c.String())
			}
			if !slices.Equal(offered, wantOffered) {
				t.Errorf("Offered() = %v, want %v", offered, wantOffered)
			}

			m := audioMedia(t, k.answer)
			if want := []string{strconv.Itoa(int(tt.audioPT)), strconv.Itoa(int(tt.dtmfPT))}; !slices.Equal(m.MediaName.Formats, want) {
				t.Errorf("answer formats = %v, want %v", m.MediaName.Formats, want)
			}
			if got := attrs(m, "rtpmap"); !slices.Equal(got, tt.wantRTP) {
				t.Errorf("answer rtpmaps = %v, want %v", got, tt.wantRTP)
			}
			if got := attrs(m, "fmtp"); !slices.Equal(got, tt.wantFmtp) {
				t.Errorf("answer fmtps = %v, want %v", got, tt.wantFmtp)
			}
			if got := attrs(m, "setup"); !slices.Equal(got, []string{"active"}) {
				t.Errorf("answer a=setup = %v, want [active]", got)
			}
			if _, ok := m.Attribute("sendrecv"); !ok {
				t.Errorf("answer is not sendrecv:\n%s", k.answer)
			}
			cands := attrs(m, "candidate")
			if len(cands) == 0 {
				t.Errorf("answer has no candidates:\n%s", k.answer)
			}
			for _, c := range cands {
				f := strings.Fields(c)
				if len(f) < 8 || f[2] != "udp" || f[4] != "127.0.0.1" || f[5] != strconv.Itoa(int(e.Addr().Port())) || f[7] != "host" {
					t.Errorf("answer candidate %q, want a udp host candidate on %s", c, e.Addr())
				}
			}
			again, err := k.p.Answer(Codec{}, nil)
			if err != nil || string(again) != string(k.answer) {
				t.Errorf("second Answer() = %v, want the first answer", err)
			}

			// Browser to switch: audio, then a DTMF event (RFC 4733).
			if pkt := k.toEngine(t, tt.audioPT, []byte("voice from the browser")); pkt.PayloadType != tt.audioPT {
				t.Errorf("ReadRTP payload type = %d, want %d", pkt.PayloadType, tt.audioPT)
			}
			if pkt := k.toEngine(t, tt.dtmfPT, []byte{5, 0x0a, 0x01, 0x40}); pkt.PayloadType != tt.dtmfPT {
				t.Errorf("ReadRTP payload type = %d, want %d", pkt.PayloadType, tt.dtmfPT)
			}
			// Switch to browser, with our SSRC in place of the switch's.
			ssrc := answerSSRC(t, m)
			for _, pt := range []uint8{tt.audioPT, tt.dtmfPT} {
				pkt := k.toClient(t, pt, []byte(fmt.Sprintf("from the switch, pt %d", pt)))
				if pkt.PayloadType != pt || pkt.SSRC != ssrc {
					t.Errorf("client got pt %d ssrc %d, want pt %d ssrc %d", pkt.PayloadType, pkt.SSRC, pt, ssrc)
				}
			}
		})
	}
}

// audioMedia parses an SDP and returns its audio m-line.
func audioMedia(tb testing.TB, b []byte) *sdp.MediaDescription {
	tb.Helper()
	var d sdp.SessionDescription
	if err := d.Unmarshal(b); err != nil {
		tb.Fatalf("parse %s: %v", b, err)
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media == "audio" {
			return m
		}
	}
	tb.Fatalf("no audio in %s", b)
	return nil
}

// attrs lists the values of m's attributes named key.
func attrs(m *sdp.MediaDescription, key string) []string {
	var v []string
	for _, a := range m.Attributes {
		if a.Key == key {
			v = append(v, a.Value)
		}
	}
	return v
}

// answerSSRC is the SSRC of the answer's a=ssrc lines.
func answerSSRC(tb testing.TB, m *sdp.MediaDescription) uint32 {
	tb.Helper()
	for _, v := range attrs(m, "ssrc") {
		s, _, _ := strings.Cut(v, " ")
		n, err := strconv.ParseUint(s, 10, 32)
		if err == nil {
			return uint32(n)
		}
	}
	tb.Fatal("answer has no a=ssrc")
	return 0
}

// TestReadRTPPassesOnlyAnswered: what the browser sends with a payload
// type the answer does not have (offered but not chosen, or never
// offered) does not come out of ReadRTP.
func TestReadRTPPassesOnlyAnswered(t *testing.T) {
	e := newEngine(t, Config{})
	k := dial(t, e, "opus", 48000)
	k.toEngine(t, 111, []byte("first"))
	for _, pt := range []uint8{8, 126, 96, 13} {
		if err := k.c.write(pt, []byte("not answered")); err != nil {
			t.Fatal(err)
		}
	}
	// Then 111 until one arrives: nothing else may come out first.
	deadline := time.After(wait)
	for {
		if err := k.c.write(111, []byte("second")); err != nil {
			t.Fatal(err)
		}
		select {
		case b := <-k.got:
			if pt := b[1] & 0x7f; pt != 111 {
				t.Fatalf("ReadRTP gave payload type %d, answered were 111 and 110", pt)
			}
			return
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatal("nothing came out of ReadRTP")
		}
	}
}
