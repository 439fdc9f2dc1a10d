package webrtc

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

func TestTwoCallsShareThePort(t *testing.T) {
	e := newEngine(t, Config{})
	calls := []*call{dial(t, e, "opus", 48000), dial(t, e, "PCMA", 8000)}
	port := strconv.Itoa(int(e.Addr().Port()))
	for i, k := range calls {
		for _, c := range attrs(audioMedia(t, k.answer), "candidate") {
			if f := splitFields(c); f[5] != port {
				t.Errorf("call %d candidate %q, want port %s", i, c, port)
			}
		}
	}
	// Interleave both directions of both calls; each packet must come out
	// of its own call only.
	for round := range 3 {
		for i, k := range calls {
			pt := uint8(111)
			if i == 1 {
				pt = 8
			}
			k.toEngine(t, pt, []byte(fmt.Sprintf("call %d browser round %d", i, round)))
			k.toClient(t, pt, []byte(fmt.Sprintf("call %d switch round %d", i, round)))
		}
	}
	// Nothing of one call may have reached the other.
	time.Sleep(50 * time.Millisecond)
	for i, k := range calls {
		for len(k.got) > 0 {
			if b := <-k.got; !contains(b, fmt.Sprintf("call %d ", i)) {
				t.Errorf("call %d ReadRTP gave another call's packet %q", i, b[12:])
			}
		}
		for len(k.c.rtp) > 0 {
			if b := <-k.c.rtp; !contains(b, fmt.Sprintf("call %d ", i)) {
				t.Errorf("client %d got another call's packet %q", i, b[12:])
			}
		}
	}
}
