package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dialtone/dialtone/media/codec"

	"github.com/dialtone/dialtone/internal/benchproc"
)

// Directions of a call.
const (
	toCarrier = iota // sent by the app, through the relay to the carrier
	toApp            // sent by the carrier, through the relay to the app
)

// PCMU and Opus as the generator sends them: 20 ms a packet.
const (
	ptPCMU   = 0
	ptOpus   = 111
	tickPCMU = 160 // 8 kHz
	tickOpus = 960 // 48 kHz RTP clock whatever the audio's rate (RFC 7587)
	frameLen = 20 * time.Millisecond
	logSize  = 4096 // send times kept per stream, by frame index: 82 s of frames
)

// call is one call as a relay set it up: the app's and the carrier's
// sockets and the relay's ports each of them sends to, and what each
// receives from the relay.
type call struct {
	app, carrier     *net.UDPConn
	appTo, carrierTo netip.AddrPort
	// rx are the payload type and RTP clock step of a 20 ms frame the
	// relay sends to each side, by direction.
	rxPT   [2]uint8
	rxTick [2]uint32
}

func (c *call) close() {
	c.app.Close()
	c.carrier.Close()
}

// listenPeer opens a peer's RTP socket on loopback.
func listenPeer() (*net.UDPConn, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	_ = c.SetReadBuffer(1 << 20)
	return c, nil
}

func portOf(c *net.UDPConn) int { return c.LocalAddr().(*net.UDPAddr).Port }

// stream is what one side sends: onsetFrame frames of silence, then 20 ms
// frames of a tone in turn, of one payload type, encoded once up front.
type stream struct {
	pt     uint8
	tick   uint32
	silent [][]byte // frames 0 to onsetFrame-1
	frames [][]byte // the tone, from onsetFrame on
}

// onsetFrame is the first frame with sound. When transcoding, a receiver
// takes the first packet with sound for it: the relay may lose or hold
// back frames while it starts, but what it sends after that follows the
// frames' timeline.
const onsetFrame = 10

// packet writes the stream's n-th packet into buf (sequence number n mod
// 2^16, timestamp n*tick) and returns it. When stamp, the payload starts
// with n and the send time (see stampTo).
func (s *stream) packet(buf []byte, ssrc uint32, n int, stamp bool, sent int64) []byte {
	buf[0], buf[1] = 0x80, s.pt
	binary.BigEndian.PutUint16(buf[2:], uint16(n))
	binary.BigEndian.PutUint32(buf[4:], uint32(n)*s.tick)
	binary.BigEndian.PutUint32(buf[8:], ssrc)
	frame := s.frames[max(n-onsetFrame, 0)%len(s.frames)]
	if n < onsetFrame && n < len(s.silent) {
		frame = s.silent[n]
	}
	end := 12 + copy(buf[12:], frame)
	if stamp {
		stampTo(buf[12:end], n, sent)
	}
	return buf[:end]
}

// stampLen is the length of a stamp: a frame number and a send time.
const stampLen = 12

// stampTo writes frame and sent (nanoseconds since the run's start) at the
// start of payload, which must hold stampLen bytes.
func stampTo(payload []byte, frame int, sent int64) {
	binary.BigEndian.PutUint32(payload, uint32(frame))
	binary.BigEndian.PutUint64(payload[4:], uint64(sent))
}

// unstamp reads what stampTo wrote.
func unstamp(payload []byte) (frame int, sent int64) {
	return int(binary.BigEndian.Uint32(payload)), int64(binary.BigEndian.Uint64(payload[4:]))
}

// streams are the app's and the carrier's: after the silence, 50 frames
// of a 1000 Hz tone in PCMU from the carrier; from the app 50 frames of a
// 700 Hz tone, in Opus (the switch's own encoder settings, as a browser
// at 8 kHz would) when transcoding, else in PCMU.
func streams(transcode bool) (app, carrier *stream, err error) {
	app = &stream{pt: ptPCMU, tick: tickPCMU}
	carrier = &stream{pt: ptPCMU, tick: tickPCMU}
	var enc *codec.OpusEncoder
	if transcode {
		app = &stream{pt: ptOpus, tick: tickOpus}
		if enc, err = codec.NewOpusEncoder(codec.DefaultOpusConfig()); err != nil {
			return nil, nil, err
		}
	}
	for _, s := range []struct {
		to   *stream
		freq float64
	}{{app, 700}, {carrier, 1000}} {
		for i := range onsetFrame + 50 {
			pcm := sine(s.freq, i*codec.FrameSamples, codec.FrameSamples)
			if i < onsetFrame {
				clear(pcm)
			}
			buf := make([]byte, codec.MaxPayload)
			var n int
			if s.to.pt == ptOpus {
				n, err = enc.Encode(buf, pcm)
			} else {
				n, err = codec.PCMU.Encode(buf, pcm)
			}
			if err != nil {
				return nil, nil, err
			}
			if i < onsetFrame {
				s.to.silent = append(s.to.silent, buf[:n])
			} else {
				s.to.frames = append(s.to.frames, buf[:n])
			}
		}
	}
	return app, carrier, nil
}

// loudness is the RMS level of a packet's audio, decoded by its payload
// type (PCMU, or Opus with dec); -1 when it cannot be decoded.
func loudness(pt uint8, payload []byte, dec *codec.OpusDecoder, pcm []int16) int {
	var n int
	var err error
	switch {
	case pt == ptPCMU:
		n, err = codec.PCMU.Decode(pcm, payload[:min(len(payload), len(pcm))])
	case dec != nil:
		n, err = dec.Decode(pcm, payload)
	default:
		return -1
	}
	if err != nil {
		return -1
	}
	return rms(pcm[:n])
}

func rms(pcm []int16) int {
	var sum float64
	for _, v := range pcm {
		sum += float64(v) * float64(v)
	}
	return int(math.Sqrt(sum / float64(max(len(pcm), 1))))
}

// soundLevel is the RMS above which a frame has sound: the tones are at
// an RMS of about 11,000; silence through a codec stays below a few
// hundred.
const soundLevel = 3000

// sine is n samples at 8 kHz of a tone at half scale, from sample start.
func sine(freq float64, start, n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(16000 * math.Sin(2*math.Pi*freq*float64(start+i)/8000))
	}
	return pcm
}

// result is one measured run.
type result struct {
	relay, mode    string
	calls          int
	sent, received int64
	odd            int64         // packets received that were not the run's (wrong payload type, off the frame grid)
	warm           int64         // streams that had a packet (when transcoding: sound) through
	lat            [2]*histogram // by direction
	cpu, wall      time.Duration // the relay's CPU time over the run's wall time
	genCPU         time.Duration // the generator's own
}

// warmFrames are sent before the measured frames: the relay learns the
// peers and starts its transcoders, and the sound starts (onsetFrame).
// Only what follows is measured.
const warmFrames = 25

// measure sends 20 ms frames both ways on every call, warmFrames and
// then duration's worth, and measures what the relay (process pid)
// delivers of the latter. In pass-through the payload carries the frame's
// number and send time. When transcoding the payload is real audio: the
// first packet with sound a receiver gets is frame onsetFrame's, and a
// later packet's frame is the distance of its RTP timestamp from that
// one's (a relay sends one packet per 20 ms frame, whenever it sends it);
// the send time is looked up by frame. A relay that lost the onset frame
// of a stream would make that stream's delays 20 ms too long, never too
// short.
func measure(calls []*call, transcode bool, duration time.Duration, pid int) (*result, error) {
	appStream, carrierStream, err := streams(transcode)
	if err != nil {
		return nil, err
	}
	res := &result{calls: len(calls), lat: [2]*histogram{newHistogram(), newHistogram()}}
	var received, odd, warm atomic.Int64
	last := warmFrames + int(duration/frameLen)          // frames from warmFrames to before it are measured
	logs := make([][2][logSize]atomic.Int64, len(calls)) // send times by call, direction, frame
	t0 := time.Now()
	var wg sync.WaitGroup
	for i, c := range calls {
		for dir, conn := range [2]*net.UDPConn{toCarrier: c.carrier, toApp: c.app} {
			h, sentAt, pt, tick := res.lat[dir], &logs[i][dir], c.rxPT[dir], c.rxTick[dir]
			wg.Go(func() {
				buf, pcm := make([]byte, 2048), make([]int16, 5760)
				var dec *codec.OpusDecoder // the onset in Opus
				if transcode && pt != ptPCMU {
					var err error
					if dec, err = codec.NewOpusDecoder(); err != nil {
						return
					}
				}
				var ts0 uint32 // of frame 0
				anchored := false
				for {
					n, err := conn.Read(buf)
					if err != nil {
						return
					}
					now := int64(time.Since(t0))
					if n < 12 || buf[1]&0x7f != pt {
						odd.Add(1)
						continue
					}
					ts := binary.BigEndian.Uint32(buf[4:])
					var frame int
					var sent int64
					if !transcode {
						if n < 12+stampLen {
							odd.Add(1)
							continue
						}
						if !anchored {
							anchored = true
							warm.Add(1)
						}
						frame, sent = unstamp(buf[12:n])
					} else {
						if !anchored {
							// Before the onset: silence, and what a relay
							// starting up may lose or hold back.
							if loudness(pt, buf[12:n], dec, pcm) < soundLevel {
								continue
							}
							ts0, anchored = ts-onsetFrame*tick, true
							warm.Add(1)
						}
						f, ok := frameIndex(ts, ts0, tick)
						if !ok {
							odd.Add(1)
							continue
						}
						frame, sent = f, sentAt[f%logSize].Load()
					}
					if frame > last { // past the flush frame: the timestamps went off the frames sent
						odd.Add(1)
						continue
					}
					if frame < warmFrames || frame == last {
						continue
					}
					if sent <= 0 || sent > now {
						odd.Add(1)
						continue
					}
					received.Add(1)
					h.add(time.Duration(now - sent))
				}
			})
		}
	}

	// Senders, each for a share of the calls. A 20 ms round is cut in
	// 1 ms slots and each call sends in its own, as real calls spread over
	// the packet time. Against the clock, not a ticker: a late slot is
	// sent late, not skipped, and the delay counts from the actual send.
	var sent atomic.Int64
	const slots = 20
	senders := max(1, min(len(calls), 4))
	begin := time.Now().Add(10 * time.Millisecond)
	var swg sync.WaitGroup
	for s := range senders {
		swg.Go(func() {
			buf := make([]byte, 2048)
			send := func(conn *net.UDPConn, to netip.AddrPort, st *stream, ssrc uint32, n int, sentAt *[logSize]atomic.Int64) {
				now := int64(time.Since(t0))
				sentAt[n%logSize].Store(now)
				if _, err := conn.WriteToUDPAddrPort(st.packet(buf, ssrc, n, !transcode, now), to); err == nil && n >= warmFrames && n < last {
					sent.Add(1)
				}
			}
			// One frame more than measured: a relay that holds a frame back
			// until the next arrives (rtpengine when transcoding) sends the
			// last measured one.
			for frame := range last + 1 {
				for slot := range slots {
					time.Sleep(time.Until(begin.Add(time.Duration(frame*slots+slot) * time.Millisecond)))
					for i := s + slot*senders; i < len(calls); i += senders * slots {
						c := calls[i]
						send(c.app, c.appTo, appStream, 0xA0000000|uint32(i), frame, &logs[i][toCarrier])
						send(c.carrier, c.carrierTo, carrierStream, 0xC0000000|uint32(i), frame, &logs[i][toApp])
					}
				}
			}
		})
	}
	measured := begin.Add(warmFrames * frameLen)
	time.Sleep(time.Until(measured))
	cpu0, gen0 := benchproc.CPU(pid), selfCPU()
	swg.Wait()
	res.wall = time.Since(measured) // and a frame more, with the CPU it took
	res.cpu, res.genCPU = benchproc.CPU(pid)-cpu0, selfCPU()-gen0
	time.Sleep(300 * time.Millisecond) // the last packets land
	for _, c := range calls {
		_ = c.app.SetReadDeadline(time.Now())
		_ = c.carrier.SetReadDeadline(time.Now())
	}
	wg.Wait()
	res.sent, res.received, res.odd, res.warm = sent.Load(), received.Load(), odd.Load(), warm.Load()
	if res.warm < int64(2*len(calls)) {
		what := "a packet"
		if transcode {
			what = "sound"
		}
		return res, fmt.Errorf("%d of %d streams never had %s through the relay", int64(2*len(calls))-res.warm, 2*len(calls), what)
	}
	return res, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
