package webrtc

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestOutStream(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	type pkt struct {
		ssrc    uint32
		seq     uint16
		ts      uint32
		after   time.Duration // since t0
		wantSeq uint16
		wantTS  uint32
		marker  bool
		drop    bool
	}
	tests := []struct {
		name string
		pkts []pkt
	}{
		{"one source passes as it is, loss and reordering included", []pkt{
			{ssrc: 1, seq: 65534, ts: 1000, wantSeq: 65534, wantTS: 1000},
			{ssrc: 1, seq: 65535, ts: 1160, after: 20 * time.Millisecond, wantSeq: 65535, wantTS: 1160},
			{ssrc: 1, seq: 2, ts: 1640, after: 80 * time.Millisecond, wantSeq: 2, wantTS: 1640},
			{ssrc: 1, seq: 1, ts: 1480, after: 81 * time.Millisecond, wantSeq: 1, wantTS: 1480},
			{ssrc: 1, seq: 80, ts: 14120, after: 2 * time.Second, wantSeq: 80, wantTS: 14120},
		}},
		{"a new SSRC carries on from the last packet, 20 ms of 8 kHz later", []pkt{
			{ssrc: 1, seq: 100, ts: 8000, wantSeq: 100, wantTS: 8000},
			{ssrc: 2, seq: 40000, ts: 123456, after: 20 * time.Millisecond, wantSeq: 101, wantTS: 8160, marker: true},
			{ssrc: 2, seq: 40001, ts: 123616, after: 40 * time.Millisecond, wantSeq: 102, wantTS: 8320},
			{ssrc: 1, seq: 101, ts: 8160, after: 41 * time.Millisecond, drop: true},
			{ssrc: 2, seq: 40002, ts: 123776, after: 60 * time.Millisecond, wantSeq: 103, wantTS: 8480},
		}},
		{"a jump of the same SSRC back by 20000 is a new stream", []pkt{
			{ssrc: 7, seq: 30000, ts: 0, wantSeq: 30000, wantTS: 0},
			{ssrc: 7, seq: 10000, ts: 5, after: 20 * time.Millisecond, wantSeq: 30001, wantTS: 160, marker: true},
			{ssrc: 7, seq: 10001, ts: 165, after: 40 * time.Millisecond, wantSeq: 30002, wantTS: 320},
		}},
		{"the former source back after the straggler window is a change", []pkt{
			{ssrc: 1, seq: 100, ts: 8000, wantSeq: 100, wantTS: 8000},
			{ssrc: 2, seq: 500, ts: 0, after: 20 * time.Millisecond, wantSeq: 101, wantTS: 8160, marker: true},
			{ssrc: 1, seq: 101, ts: 8160, after: 300 * time.Millisecond, drop: true},
			{ssrc: 1, seq: 150, ts: 16160, after: 2 * time.Second, wantSeq: 102, wantTS: 8160 + 1980*8, marker: true},
			{ssrc: 1, seq: 151, ts: 16320, after: 2020 * time.Millisecond, wantSeq: 103, wantTS: 8160 + 2000*8},
		}},
		{"a third source follows the second", []pkt{
			{ssrc: 1, seq: 5, ts: 0, wantSeq: 5, wantTS: 0},
			{ssrc: 2, seq: 9, ts: 0, after: 20 * time.Millisecond, wantSeq: 6, wantTS: 160, marker: true},
			{ssrc: 3, seq: 65535, ts: 0, after: 1 * time.Second, wantSeq: 7, wantTS: 8000, marker: true}, // 980 ms after the last
			{ssrc: 3, seq: 0, ts: 160, after: 1020 * time.Millisecond, wantSeq: 8, wantTS: 8160},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s outStream
			for i, p := range tt.pkts {
				h := rtp.Header{SSRC: p.ssrc, SequenceNumber: p.seq, Timestamp: p.ts}
				ok := s.rewrite(&h, 8000, t0.Add(p.after))
				switch {
				case ok == p.drop:
					t.Errorf("packet %d (ssrc %d seq %d): rewrite = %v, want %v", i, p.ssrc, p.seq, ok, !p.drop)
				case ok && (h.SequenceNumber != p.wantSeq || h.Timestamp != p.wantTS || h.Marker != p.marker):
					t.Errorf("packet %d (ssrc %d seq %d ts %d) sent as seq %d ts %d marker %v, want seq %d ts %d marker %v",
						i, p.ssrc, p.seq, p.ts, h.SequenceNumber, h.Timestamp, h.Marker, p.wantSeq, p.wantTS, p.marker)
				}
			}
		})
	}
}

// TestSourceChangeKeepsAudio: the switch's packets to the browser change
// SSRC and jump their sequence numbers back by 20000 mid-call, as when a
// carrier's answer comes from another media server than its early media,
// or a transcoder is replaced. The browser (a pion peer) must go on
// getting every packet, numbered on from the last: passed on as they
// were, the numbers jumped, and Chromium, whose SRTP then guessed another
// rollover counter than pion's sender, dropped every packet after.
func TestSourceChangeKeepsAudio(t *testing.T) {
	e := newEngine(t, Config{})
	k := dial(t, e, "opus", 48000)
	k.toClient(t, 111, []byte("first source")) // up and flowing
	var last uint16
	for i := range 50 { // the first source: 25 more packets, then the second: 25
		ssrc, seq := uint32(0xdeadbeef), uint16(100+i)
		if i >= 25 {
			ssrc, seq = 0xfeedface, uint16(100+i-20000)
		}
		h := rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: ssrc}
		b, _ := (&rtp.Packet{Header: h, Payload: []byte{byte(i), 0xee, 0xee}}).Marshal()
		if err := k.p.WriteRTP(b); err != nil {
			t.Fatalf("WriteRTP: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	got := map[byte]bool{}
	deadline := time.After(wait)
	for len(got) < 50 {
		select {
		case b := <-k.c.rtp:
			var pkt rtp.Packet
			if err := pkt.Unmarshal(b); err != nil || len(pkt.Payload) != 3 || pkt.Payload[1] != 0xee {
				continue // the "first source" packets
			}
			if len(got) > 0 && pkt.SequenceNumber != last+1 {
				t.Errorf("packet %d arrived as seq %d after %d, want consecutive numbers", pkt.Payload[0], pkt.SequenceNumber, last)
			}
			last = pkt.SequenceNumber
			got[pkt.Payload[0]] = true
		case <-deadline:
			t.Fatalf("the browser got %d of 50 packets (first source 0-24, second 25-49): %v", len(got), got)
		}
	}
}
