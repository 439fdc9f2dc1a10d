package webrtc

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"
)

func TestReoffer(t *testing.T) {
	e := newEngine(t, Config{})
	k := dial(t, e, "opus", 48000)
	ufrag := attrs(audioMedia(t, k.answer), "ice-ufrag")

	// reoffer sends the client's next offer, edited, and checks the
	// answer's direction and formats; the client takes the answer.
	reoffer := func(t *testing.T, opts *pion.OfferOptions, edit func(string) string, wantHold bool, wantDir string) []byte {
		t.Helper()
		answer, hold, err := k.p.Reoffer(k.c.offer(opts, edit))
		if err != nil {
			t.Fatalf("Reoffer() = %v", err)
		}
		if hold != wantHold {
			t.Errorf("Reoffer() hold = %v, want %v", hold, wantHold)
		}
		m := audioMedia(t, answer)
		if _, ok := m.Attribute(wantDir); !ok {
			t.Errorf("Reoffer() answer is not %s:\n%s", wantDir, answer)
		}
		if !slices.Equal(m.MediaName.Formats, []string{"111", "110"}) {
			t.Errorf("Reoffer() answer formats = %v, want [111 110]", m.MediaName.Formats)
		}
		k.c.accept(answer)
		return answer
	}
	both := func(t *testing.T, what string) {
		t.Helper()
		k.toEngine(t, 111, []byte("browser "+what))
		k.toClient(t, 111, []byte("switch "+what))
	}
	// quiet checks that WriteRTP sends nothing while the browser is on hold.
	quiet := func(t *testing.T) {
		t.Helper()
		for len(k.c.rtp) > 0 {
			<-k.c.rtp
		}
		for range 5 {
			if err := k.p.WriteRTP(opusPacket(1, 20)); err != nil {
				t.Fatalf("WriteRTP on hold = %v, want nil", err)
			}
		}
		select {
		case b := <-k.c.rtp:
			t.Errorf("client got %d bytes while on hold", len(b))
		case <-time.After(100 * time.Millisecond):
		}
	}

	t.Run("hold sendonly", func(t *testing.T) {
		reoffer(t, nil, func(s string) string { return strings.Replace(s, "a=sendrecv", "a=sendonly", 1) }, true, "recvonly")
		quiet(t)
		k.toEngine(t, 111, []byte("browser music on hold")) // a sendonly browser still sends
	})
	t.Run("unhold", func(t *testing.T) {
		reoffer(t, nil, nil, false, "sendrecv")
		both(t, "after sendonly")
	})
	var before *pion.TrackRemote
	t.Run("hold inactive", func(t *testing.T) {
		before = k.p.remoteTrack()
		// As Chromium: an inactive m-line lists no SSRC, so pion stops
		// the browser's track and starts a new one on unhold.
		inactive := func(s string) string {
			var lines []string
			for _, l := range strings.Split(s, "\r\n") {
				if !strings.HasPrefix(l, "a=ssrc:") && !strings.HasPrefix(l, "a=msid:") {
					lines = append(lines, l)
				}
			}
			return strings.Replace(strings.Join(lines, "\r\n"), "a=sendrecv", "a=inactive", 1)
		}
		reoffer(t, nil, inactive, true, "inactive")
		quiet(t)
	})
	t.Run("unhold after inactive", func(t *testing.T) {
		reoffer(t, nil, nil, false, "sendrecv")
		both(t, "after inactive")
		if k.p.remoteTrack() == before {
			t.Errorf("ReadRTP read the same track after a=inactive; want pion's new one (this test no longer covers the track switch)")
		}
	})
	t.Run("ice restart", func(t *testing.T) {
		answer := reoffer(t, &pion.OfferOptions{ICERestart: true}, nil, false, "sendrecv")
		if got := attrs(audioMedia(t, answer), "ice-ufrag"); slices.Equal(got, ufrag) {
			t.Errorf("ICE restart answer keeps ice-ufrag %v", got)
		}
		both(t, "after ice restart")
	})
	t.Run("without the audio codec", func(t *testing.T) {
		noOpus := func(s string) string { return dropFormat(t, s, "111") }
		// Pion cannot roll back a local offer, so the client does not
		// set this one: it only drafts it.
		o, err := k.c.pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := k.p.Reoffer([]byte(noOpus(o.SDP))); !errors.Is(err, ErrNoAudio) {
			t.Errorf("Reoffer(no opus) = %v, want %v", err, ErrNoAudio)
		}
		both(t, "after a refused offer")
	})
	t.Run("new fingerprint", func(t *testing.T) {
		o, err := k.c.pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(o.SDP, "a=fingerprint:sha-256 ") + len("a=fingerprint:sha-256 ")
		other := o.SDP[:i] + "00:" + o.SDP[i+3:]
		if _, _, err := k.p.Reoffer([]byte(other)); !errors.Is(err, ErrNotDTLS) {
			t.Errorf("Reoffer(new fingerprint) = %v, want %v", err, ErrNotDTLS)
		}
		both(t, "after a new fingerprint")
	})
	t.Run("without telephone-event", func(t *testing.T) {
		noDTMF := func(s string) string { return dropFormat(t, s, "110") }
		answer, _, err := k.p.Reoffer(k.c.offer(nil, noDTMF))
		if err != nil {
			t.Fatalf("Reoffer(no telephone-event/48000) = %v", err)
		}
		if f := audioMedia(t, answer).MediaName.Formats; !slices.Equal(f, []string{"111"}) {
			t.Errorf("Reoffer(no telephone-event/48000) answer formats = %v, want [111]", f)
		}
		k.c.accept(answer)
		both(t, "without dtmf")
	})
	select {
	case <-k.p.Done():
		t.Errorf("peer done after re-offers: %v", k.p.Err())
	default:
	}
}

// dropFormat removes payload type pt from the audio m-line of s.
func dropFormat(tb testing.TB, s, pt string) string {
	tb.Helper()
	lines := strings.Split(s, "\r\n")
	for i, l := range lines {
		if f := strings.Fields(l); len(f) > 3 && f[0] == "m=audio" {
			n := len(f)
			f = slices.DeleteFunc(f, func(x string) bool { return x == pt })
			if len(f) == n {
				tb.Fatalf("%q lists no %s", l, pt)
			}
			lines[i] = strings.Join(f, " ")
			return strings.Join(lines, "\r\n")
		}
	}
	tb.Fatalf("no m=audio in %s", s)
	return ""
}
