package codec

import (
	"fmt"
	"testing"
)

// reportCallShare reports the share of one core that one call direction
// costs at 50 packets a second (20 ms packets), from the time per op.
func reportCallShare(b *testing.B) {
	b.Helper()
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp*50/1e9*100, "%core@50pps")
}

// benchPackets is one second of a tone swept 300-3300 Hz, 20 ms Opus
// packets at the default settings.
func benchPackets(b *testing.B) ([][]byte, [][]int16) {
	b.Helper()
	enc, err := NewOpusEncoder(DefaultOpusConfig())
	if err != nil {
		b.Fatal(err)
	}
	var pkts [][]byte
	var pcm [][]int16
	for i := range 50 {
		frame := sine(300+float64(i)*60, 8000, i*FrameSamples, FrameSamples)
		buf := make([]byte, MaxPayload)
		n, err := enc.Encode(buf, frame)
		if err != nil {
			b.Fatal(err)
		}
		pkts, pcm = append(pkts, buf[:n]), append(pcm, frame)
	}
	return pkts, pcm
}

func BenchmarkG711(b *testing.B) {
	pcm := sine(1000, 8000, 0, FrameSamples)
	g := make([]byte, FrameSamples)
	for _, law := range []Law{PCMU, PCMA} {
		law.Encode(g, pcm)
		b.Run(law.String()+"/Encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				law.Encode(g, pcm)
			}
			reportCallShare(b)
		})
		b.Run(law.String()+"/Decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				law.Decode(pcm, g)
			}
			reportCallShare(b)
		})
	}
}

func BenchmarkOpusEncode(b *testing.B) {
	_, frames := benchPackets(b)
	for _, complexity := range []int{0, 5, 10} {
		b.Run(fmt.Sprintf("complexity=%d", complexity), func(b *testing.B) {
			cfg := DefaultOpusConfig()
			cfg.Complexity = complexity
			enc, err := NewOpusEncoder(cfg)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]byte, MaxPayload)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := enc.Encode(dst, frames[i%len(frames)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportCallShare(b)
		})
	}
}

func BenchmarkOpusDecode(b *testing.B) {
	pkts, _ := benchPackets(b)
	dec, err := NewOpusDecoder()
	if err != nil {
		b.Fatal(err)
	}
	pcm := make([]int16, maxOpusSamples)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := dec.Decode(pcm, pkts[i%len(pkts)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportCallShare(b)
}

func BenchmarkTranscode(b *testing.B) {
	pkts, frames := benchPackets(b)
	b.Run("OpusToG711", func(b *testing.B) {
		down, err := NewOpusToG711(PCMU, mustTimeline(b, 48000, 8000, 0, 0))
		if err != nil {
			b.Fatal(err)
		}
		dst := make([]byte, MaxPayload)
		b.ReportAllocs()
		var seq uint16
		for b.Loop() {
			if _, _, err := down.Transcode(dst, seq, uint32(seq)*960, pkts[int(seq)%len(pkts)]); err != nil {
				b.Fatal(err)
			}
			seq++
		}
		reportCallShare(b)
	})
	b.Run("G711ToOpus", func(b *testing.B) {
		up, err := NewG711ToOpus(PCMU, mustTimeline(b, 8000, 48000, 0, 0), DefaultOpusConfig())
		if err != nil {
			b.Fatal(err)
		}
		g := make([][]byte, len(frames))
		for i, f := range frames {
			g[i] = make([]byte, FrameSamples)
			PCMU.Encode(g[i], f)
		}
		dst := make([]byte, MaxPayload)
		b.ReportAllocs()
		var seq uint16
		for b.Loop() {
			if _, _, err := up.Transcode(dst, seq, uint32(seq)*160, g[int(seq)%len(g)]); err != nil {
				b.Fatal(err)
			}
			seq++
		}
		reportCallShare(b)
	})
}

func BenchmarkEventTranslate(b *testing.B) {
	tr, err := NewEventTranslator(mustTimeline(b, 48000, 8000, 0, 0))
	if err != nil {
		b.Fatal(err)
	}
	ev := []byte{5, 0x0a, 0x12, 0xc0}
	dst := make([]byte, EventSize)
	b.ReportAllocs()
	for b.Loop() {
		tr.Translate(dst, 964800, ev)
	}
}

// BenchmarkPacketizer: 20 ms of G.711 in, one 20 ms packet out, and 30 ms
// in to 20 ms packets: what the transcoder adds to each packet.
func BenchmarkPacketizer(b *testing.B) {
	for _, in := range []int{FrameSamples, 240} {
		b.Run(fmt.Sprintf("%d_bytes_in", in), func(b *testing.B) {
			p, err := NewPacketizer[byte](FrameSamples, MaxPayload, PCMU.Silence())
			if err != nil {
				b.Fatal(err)
			}
			g := make([]byte, in)
			var ts uint32
			b.ReportAllocs()
			for b.Loop() {
				p.Push(g, ts)
				for _, _, _, ok := p.Pop(); ok; _, _, _, ok = p.Pop() {
				}
				ts += uint32(in)
			}
		})
	}
}
