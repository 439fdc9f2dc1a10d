package bridge

import (
	"encoding/binary"
	"testing"

	pionrtp "github.com/pion/rtp"

	"github.com/dialtone/dialtone/media/codec"
	"github.com/dialtone/dialtone/media/rtp"
	"github.com/dialtone/dialtone/media/sdp"
)

// FuzzTranscoder feeds a transcoder packets a hostile peer could send:
// any payload, sequence numbers and timestamps jumping anywhere, events
// and audio mixed, SSRCs changing. It must not panic, and what it sends
// must be RTP of its own SSRC, sequence numbers one apart, G.711 packets
// of exactly the packet time.
//
// The input is a list of packets, each 8 bytes of header then its payload:
// kind (audio, event, other; and the SSRC's low bit), sequence number
// step (2 bytes), timestamp step (4 bytes, signed), payload length; the
// audio of an Opus source is a real Opus packet from a table when the
// length is 0.
func FuzzTranscoder(f *testing.F) {
	f.Add(byte(0), []byte{0, 0, 1, 0, 0, 3, 192, 0, 0, 0, 1, 0, 0, 3, 192, 0, 1, 0, 1, 0, 0, 3, 192, 4, 5, 10, 0, 160})
	f.Add(byte(1), []byte{0, 0, 1, 0, 0, 0, 160, 240})
	f.Add(byte(2), []byte{0, 0, 1, 255, 255, 255, 0, 0, 0, 0, 1, 0, 0, 0, 160, 0})
	enc, err := codec.NewOpusEncoder(codec.DefaultOpusConfig())
	if err != nil {
		f.Fatal(err)
	}
	var opus [][]byte
	for i := range 4 {
		b := make([]byte, codec.MaxPayload)
		n, err := enc.Encode(b, sine(700, i*160, 160))
		if err != nil {
			f.Fatal(err)
		}
		opus = append(opus, b[:n])
	}
	f.Fuzz(func(t *testing.T, dir byte, in []byte) {
		legs := [][2]sdp.Codec{{opusCodec, pcmuCodec}, {pcmaCodec, opusCodec}, {pcmaCodec, pcmuCodec}}[int(dir)%3]
		events := [2]sdp.Codec{opusEvent, g711Event}
		if legs[0].Clock == 8000 {
			events = [2]sdp.Codec{g711Event, opusEvent}
		}
		if legs[1].Clock == 8000 && legs[0].Clock == 8000 {
			events[1] = g711Event
		}
		ptime := []int{0, 10, 20, 30, 60}[int(dir/3)%5]
		tr, err := newTranscoder(legs[0], &events[0], legs[1], &events[1], ptime, codec.DefaultOpusConfig(), nil)
		if err != nil {
			t.Fatal(err)
		}
		frame := packetTime(ptime, legs[1].Clock == 48000) * 8
		out := make([]byte, rtp.MaxPacket)
		var h pionrtp.Header
		var seq uint16
		var ts uint32
		var sent int
		var lastSeq uint16
		var ssrc uint32
		for len(in) >= 8 {
			kind, n := in[0], int(in[7])
			seq += binary.BigEndian.Uint16(in[1:])
			ts += binary.BigEndian.Uint32(in[3:])
			in = in[8:]
			payload := in[:min(n, len(in))]
			in = in[len(payload):]
			pt := []uint8{legs[0].PT, events[0].PT, 13}[int(kind)%3]
			if pt == opusCodec.PT && n == 0 {
				payload = opus[int(seq)%len(opus)]
			}
			h = pionrtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: uint32(kind>>7) + 1}
			pkt, err := (&pionrtp.Packet{Header: h, Payload: payload}).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			for n := tr.Process(out, pkt, &h); n > 0; n = tr.Next(out) {
				var p pionrtp.Packet
				if err := p.Unmarshal(out[:n]); err != nil {
					t.Fatalf("sent a packet that does not parse: %v", err)
				}
				if sent > 0 && (p.SSRC != ssrc || p.SequenceNumber != lastSeq+1) {
					t.Fatalf("packet %d: SSRC %x seq %d after SSRC %x seq %d", sent, p.SSRC, p.SequenceNumber, ssrc, lastSeq)
				}
				if p.PayloadType == legs[1].PT && legs[1].Clock == 8000 && len(p.Payload) != frame {
					t.Fatalf("packet %d: %d bytes of G.711, want %d", sent, len(p.Payload), frame)
				}
				sent, ssrc, lastSeq = sent+1, p.SSRC, p.SequenceNumber
			}
		}
	})
}
