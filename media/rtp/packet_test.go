package rtp

import (
	"testing"

	pionrtp "github.com/pion/rtp"
)

func TestSequenceLoss(t *testing.T) {
	type pkt struct {
		ssrc uint32
		seq  uint16
	}
	seqs := func(ssrc uint32, ns ...uint16) []pkt {
		var ps []pkt
		for _, n := range ns {
			ps = append(ps, pkt{ssrc, n})
		}
		return ps
	}
	tests := []struct {
		name string
		pkts []pkt
		lost int64
	}{
		{"in order", seqs(1, 1, 2, 3, 4), 0},
		{"gap", seqs(1, 1, 2, 5, 6), 2},
		{"reordered", seqs(1, 1, 3, 2, 4), 0},
		{"reordered, then lost", seqs(1, 1, 3, 2, 4, 7), 2},
		{"duplicate", seqs(1, 1, 2, 2, 3), 0},
		{"wrap-around", seqs(1, 65534, 65535, 0, 1), 0},
		{"loss across the wrap", seqs(1, 65534, 65535, 2, 3), 2},
		{"late packet from before the wrap", seqs(1, 65534, 0, 65535, 1), 0},
		{"only a gap, not a packet, is lost", seqs(1, 10, 11, 13), 1},
		{"a lone stray jump is ignored", seqs(1, 1, 2, 30000, 3, 4), 0},
		{"a jump followed in sequence is a restart", seqs(1, 1, 2, 4, 30000, 30001, 30003), 2},
		{"new SSRC restarts, loss before it kept", append(seqs(1, 1, 2, 4), seqs(2, 40000, 40001, 40003)...), 2},
		{"back to an old SSRC", append(append(seqs(1, 100, 101), seqs(2, 7, 8)...), seqs(1, 102, 103)...), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s seqTracker
			var lost int64
			for _, p := range tt.pkts {
				lost = s.update(p.ssrc, p.seq)
			}
			if lost != tt.lost {
				t.Errorf("seqTracker.update(%v) lost = %d, want %d", tt.pkts, lost, tt.lost)
			}
		})
	}
}

func TestValidRTP(t *testing.T) {
	ext := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 9, SSRC: 5, CSRC: []uint32{1, 2}}, Payload: []byte("abc")}
	if err := ext.SetExtension(1, []byte{0xaa, 0xbb}); err != nil {
		t.Fatal(err)
	}
	withExt, err := ext.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	padded := append(packet(1, 0, []byte("ab")), 0, 0, 3)
	padded[0] |= 0x20
	tests := []struct {
		name string
		pkt  []byte
		want bool
	}{
		{"G.711", packet(1, 0, make([]byte, 160)), true},
		{"telephone-event", packet(1, 101, []byte{1, 0x8a, 0, 160}), true},
		{"no payload (keepalive)", packet(1, 13, nil), true},
		{"CSRCs and a one-byte extension", withExt, true},
		{"padding", padded, true},
		{"empty", nil, false},
		{"11 bytes", packet(1, 0, nil)[:11], false},
		{"version 0", append([]byte{0x00}, packet(1, 0, []byte("x"))[1:]...), false},
		{"RTCP packet type", []byte{0x80, 0xc8, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0}, false},
		{"CSRC count past the end", append([]byte{0x81}, packet(1, 0, nil)[1:]...), false},
		{"extension header cut", []byte{0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde}, false},
		{"one-byte extension element past its block", []byte{0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 0x1f, 0, 0, 0}, false},
		{"padding past the payload", append(append([]byte{0xa0}, packet(1, 0, nil)[1:]...), 40), false},
	}
	var h pionrtp.Header
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validRTP(tt.pkt, &h); got != tt.want {
				t.Errorf("validRTP(%x) = %v, want %v", tt.pkt, got, tt.want)
			}
		})
	}
}

// FuzzRelayPacket drives the checks every datagram meets on the relay's
// sockets. They must never panic, and a packet they pass must be RTP that
// pion/rtp reads in full, with the fields the relay uses where they belong.
func FuzzRelayPacket(f *testing.F) {
	// testdata/fuzz/FuzzRelayPacket holds more seeds.
	f.Add(packet(1, 0, []byte("payload")))
	f.Add([]byte{0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 1, 0x10, 0, 0, 0})
	f.Add([]byte{0x81, 201, 0, 1, 0, 0, 0x12, 0x34})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h pionrtp.Header
		if validRTP(b, &h) {
			var p pionrtp.Packet
			if err := p.Unmarshal(b); err != nil {
				t.Fatalf("validRTP(%x) = true, but pion/rtp Packet.Unmarshal = %v", b, err)
			}
			if h.Version != 2 || h.SequenceNumber != uint16(b[2])<<8|uint16(b[3]) || h.PayloadType != b[1]&0x7f || p.PayloadType != h.PayloadType {
				t.Fatalf("validRTP(%x) read %+v", b, h)
			}
			var s seqTracker
			if lost := s.update(h.SSRC, h.SequenceNumber); lost != 0 {
				t.Fatalf("first packet: lost = %d, want 0", lost)
			}
		}
		if validRTCP(b) && (len(b) < 8 || b[0]>>6 != 2) {
			t.Fatalf("validRTCP(%x) = true", b)
		}
	})
}
