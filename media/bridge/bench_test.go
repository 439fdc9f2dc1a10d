package bridge

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dialtone/dialtone/media/codec"
	"github.com/dialtone/dialtone/media/rtp"
)

// The benchmarks' media ports: below the kernel's ephemeral range (32768
// and up, where the fake peers bind), apart from media/rtp's benchmarks
// (20000-24099 and 31100-31199) and this package's tests (46000-46099),
// since `go test -bench . ./...` runs packages side by side.
const (
	forwardPorts = 30200 // BenchmarkTranscodeForward: 30200-30299
	callsPorts   = 24200 // BenchmarkTranscodeCalls: 4 a call, 24200-26299 at 500 calls
)

// pcmuOffer is a softphone offering PCMU only: its calls pass through.
const pcmuOffer = "v=0\r\no=app 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio %d RTP/AVP 0 126\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:126 telephone-event/8000\r\n"

// benchEventPT is the telephone-event both offers carry at 8000 Hz, which
// the carrier is offered and answers with.
const benchEventPT = 126

// stream is what one side of a benchmark call sends: 20 ms frames of
// audio in one payload type, in turn, encoded once up front.
type stream struct {
	pt     uint8
	tick   uint32 // RTP timestamp step of a 20 ms frame
	frames [][]byte
}

// packet writes into buf the stream's n-th packet, with sequence number n
// (mod 2^16), and returns it. It does not allocate.
func (s *stream) packet(buf []byte, ssrc uint32, n int) []byte {
	buf[0], buf[1] = 0x80, s.pt
	binary.BigEndian.PutUint16(buf[2:], uint16(n))
	binary.BigEndian.PutUint32(buf[4:], uint32(n)*s.tick)
	binary.BigEndian.PutUint32(buf[8:], ssrc)
	return buf[:12+copy(buf[12:], s.frames[n%len(s.frames)])]
}

// benchStreams are the app's and the carrier's streams: the carrier sends
// 50 frames of a 1000 Hz tone in PCMU; the app sends 50 frames of a 700 Hz
// tone in Opus (codec.DefaultOpusConfig, as a browser would at 8 kHz), or
// in PCMU when the call passes through. Different frames keep the Opus
// decoder doing real work.
func benchStreams(tb testing.TB, transcode bool) (app, carrier *stream) {
	tb.Helper()
	const frames = 50
	enc, err := codec.NewOpusEncoder(codec.DefaultOpusConfig())
	if err != nil {
		tb.Fatal(err)
	}
	opus := &stream{pt: 111, tick: 960} // opusOffer's Opus
	pcmu := &stream{pt: 0, tick: codec.FrameSamples}
	carrier = &stream{pt: 0, tick: codec.FrameSamples}
	for i := range frames {
		buf := make([]byte, codec.MaxPayload)
		n, err := enc.Encode(buf, sine(700, i*codec.FrameSamples, codec.FrameSamples))
		if err != nil {
			tb.Fatal(err)
		}
		opus.frames = append(opus.frames, buf[:n])
		for _, s := range []struct {
			to   *stream
			freq float64
		}{{pcmu, 700}, {carrier, 1000}} {
			frame := make([]byte, codec.FrameSamples)
			if _, err := codec.PCMU.Encode(frame, sine(s.freq, i*codec.FrameSamples, codec.FrameSamples)); err != nil {
				tb.Fatal(err)
			}
			s.to.frames = append(s.to.frames, frame)
		}
	}
	if transcode {
		return opus, carrier
	}
	return pcmu, carrier
}

func newBenchFactory(tb testing.TB, min, max int) *Factory {
	tb.Helper()
	pool, err := rtp.NewPortPool(netip.MustParseAddr("127.0.0.1"), min, max)
	if err != nil {
		tb.Fatal(err)
	}
	return NewFactory(Config{Pool: pool, Advertise: netip.MustParseAddr("127.0.0.1"), Timeout: time.Minute, Strict: rtp.DefaultStrict()})
}

func listenLoopback(tb testing.TB) *net.UDPConn {
	tb.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// benchCall is one call of the benchmarks: the app's phone and the
// carrier, a UDP socket each, and the bridge between them, or nothing
// when they send to each other directly.
type benchCall struct {
	b                *Bridge // nil when direct
	app, carrier     *net.UDPConn
	appTo, carrierTo netip.AddrPort // where the app and the carrier send
}

// newBenchCall sets a call up as the call controller does: the app's
// offer (Opus first when transcode, else PCMU only), the carrier offered
// PCMU and PCMA and answering PCMU, the app answered. With a nil f the
// peers send to each other.
func newBenchCall(tb testing.TB, f *Factory, callID string, transcode bool) *benchCall {
	tb.Helper()
	c := &benchCall{app: listenLoopback(tb), carrier: listenLoopback(tb)}
	if f == nil {
		c.appTo, c.carrierTo = addrOf(c.carrier), addrOf(c.app)
		return c
	}
	offer := pcmuOffer
	if transcode {
		offer = opusOffer
	}
	b, err := f.New(context.Background(), callID, fmt.Appendf(nil, offer, addrOf(c.app).Port()))
	if err != nil {
		tb.Fatal(err)
	}
	c.b = b
	tb.Cleanup(func() { b.Close() })
	if _, err := b.CarrierOffer([]string{"PCMU", "PCMA"}); err != nil {
		tb.Fatal(err)
	}
	answer := fmt.Appendf(nil, carrierAnswer, addrOf(c.carrier).Port(), 0, benchEventPT, 0, "PCMU", benchEventPT)
	if err := b.SetCarrierAnswer(answer); err != nil {
		tb.Fatal(err)
	}
	if _, err := b.AppAnswer(); err != nil {
		tb.Fatal(err)
	}
	if b.Transcoding() != transcode {
		tb.Fatalf("Transcoding() = %v, want %v", b.Transcoding(), transcode)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	c.appTo = netip.AddrPortFrom(lo, uint16(b.relay.A().Port()))
	c.carrierTo = netip.AddrPortFrom(lo, uint16(b.relay.B().Port()))
	return c
}

func (c *benchCall) close() {
	if c.b != nil {
		c.b.Close()
	}
	c.app.Close()
	c.carrier.Close()
}

// latencies is a histogram of one-way delays in microseconds, safe for
// concurrent use and free of allocation once made.
type latencies struct {
	us [50_000]atomic.Uint32 // 0-49.999 ms by the microsecond; the last bucket takes the rest
	n  atomic.Int64
}

func (l *latencies) add(d time.Duration) {
	l.us[min(max(d.Microseconds(), 0), int64(len(l.us)-1))].Add(1)
	l.n.Add(1)
}

// quantile is the delay in microseconds below which a fraction q of the
// samples of all of ls are.
func quantile(q float64, ls ...*latencies) float64 {
	var total int64
	for _, l := range ls {
		total += l.n.Load()
	}
	want, seen := int64(q*float64(total)), int64(0)
	for i := range ls[0].us {
		for _, l := range ls {
			seen += int64(l.us[i].Load())
		}
		if seen > want {
			return float64(i)
		}
	}
	return float64(len(ls[0].us))
}

// BenchmarkTranscodeForward sends one packet at a time through a bridge
// over loopback and waits for it on the far side: packets per second
// through one call, allocations per packet (the relay's goroutines and
// libopus's Go side included: the count is the process's), and the
// one-way delay, send to receive.
//   - opus-to-pcmu: the app sends Opus 20 ms packets, the carrier gets PCMU;
//   - pcmu-to-opus: the carrier sends PCMU (160 bytes), the app gets Opus;
//   - passthrough: the app offered PCMU only; its PCMU goes to the carrier
//     untouched, the baseline of the other two.
//
// media/rtp's BenchmarkForward has the relay against no relay at all.
func BenchmarkTranscodeForward(b *testing.B) {
	for _, tt := range []struct {
		name        string
		transcode   bool
		fromCarrier bool
		wantPT      uint8 // what the far side gets
	}{
		{"opus-to-pcmu", true, false, 0},
		{"pcmu-to-opus", true, true, 111},
		{"passthrough", false, false, 0},
	} {
		b.Run(tt.name, func(b *testing.B) {
			app, carrier := benchStreams(b, tt.transcode)
			c := newBenchCall(b, newBenchFactory(b, forwardPorts, forwardPorts+99), "bench-forward", tt.transcode)
			st, from, to, dst := app, c.app, c.carrier, c.appTo
			if tt.fromCarrier {
				st, from, to, dst = carrier, c.carrier, c.app, c.carrierTo
			}
			buf, rbuf := make([]byte, rtp.MaxPacket), make([]byte, rtp.MaxPacket)
			roundTrip := func(n int) (time.Duration, []byte) {
				pkt := st.packet(buf, 0x5eed, n)
				start := time.Now()
				if _, err := from.WriteToUDPAddrPort(pkt, dst); err != nil {
					b.Fatal(err)
				}
				got, err := to.Read(rbuf)
				if err != nil {
					b.Fatalf("packet %d: %v", n, err)
				}
				return time.Since(start), rbuf[:got]
			}
			// The first packet latches the legs and starts the transcoder's stream.
			to.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, got := roundTrip(0); len(got) < 12 || got[1]&0x7f != tt.wantPT {
				b.Fatalf("the far side got % x, want payload type %d", got[:min(len(got), 12)], tt.wantPT)
			}
			lat := &latencies{}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%1024 == 0 {
					to.SetReadDeadline(time.Now().Add(5 * time.Second)) // a lost packet fails, not hangs
				}
				d, _ := roundTrip(i + 1)
				lat.add(d)
			}
			b.StopTimer()
			b.ReportMetric(quantile(0.5, lat), "p50-µs")
			b.ReportMetric(quantile(0.99, lat), "p99-µs")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

// BenchmarkTranscodeCalls carries concurrent calls through bridges, each
// 20 ms audio both ways (50 packets/s each way), for b.N rounds of 20 ms:
// "transcoded" calls whose app sends Opus and whose carrier sends PCMU,
// so the relay decodes Opus and encodes it (libopus, codec.DefaultOpusConfig)
// on every packet; "passthrough" calls with PCMU on both legs, through the
// same bridge code, also at the transcoded counts so that what
// transcoding adds is read at equal load. It reports:
//   - loss-%: packets the fake phones and carriers sent that never reached
//     the other side, both directions;
//   - p50-µs, p99-µs: the one-way delay under that load, from the sender's
//     clock before its write to the receiver's after its read;
//     to-carrier-p99-µs and to-app-p99-µs split it by direction (Opus
//     decoded, Opus encoded); direct-p50-µs and direct-p99-µs are the same
//     load sent by the peers to each other, so the difference is what the
//     bridges add, their goroutines' wait to be scheduled on cores shared
//     with the peers included;
//   - own-p50-µs, own-p99-µs, own-p999-µs: the relay's own time per packet
//     (rtp.PacketSeconds: read to write, transcoding included), to the
//     bound of its histogram bucket (within 41 %);
//   - relay-cpu-%/call: the process's CPU time (getrusage) with the
//     bridges, less that of the direct load (the fake peers' own cost), per
//     call, as a percentage of one core; calls/core is its inverse.
//
// The packets a transcoder sends are its own stream, which follows the
// source's sequence numbers at a fixed offset: the sender keeps its send
// time per call, direction and sequence number (mod 1024), and the
// receiver learns the offset from a first packet of known sequence number
// sent before the clock starts, then looks the send time up. No
// timestamp rides in the payload, which is real audio.
//
// Each call sends in its own millisecond of the round, as real calls
// spread over the packet time. The fake peers run in the same process on
// the same cores as the bridges, so past the load the cores carry, loss
// and delay climb and the CPU difference no longer measures the bridges.
// Run it with a fixed count of rounds, e.g. -benchtime 250x (5 s a
// phase), as `make bench` does. The default benchtime (1 s) is about 50
// rounds a phase, under a minute for all of them.
func BenchmarkTranscodeCalls(b *testing.B) {
	for _, tt := range []struct {
		name      string
		transcode bool
		calls     []int
	}{
		{"transcoded", true, []int{50, 100, 200, 300}},
		{"passthrough", false, []int{50, 100, 200, 250, 500}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			for _, calls := range tt.calls {
				b.Run(strconv.Itoa(calls), func(b *testing.B) {
					direct := runTranscodeCalls(b, calls, tt.transcode, false)
					before := snapshot(rtp.PacketSeconds)
					bridged := runTranscodeCalls(b, calls, tt.transcode, true)
					own := snapshot(rtp.PacketSeconds)
					b.ReportMetric(own.quantileSince(before, 0.5), "own-p50-µs")
					b.ReportMetric(own.quantileSince(before, 0.99), "own-p99-µs")
					b.ReportMetric(own.quantileSince(before, 0.999), "own-p999-µs")
					b.ReportMetric(quantile(0.5, bridged.lat[:]...), "p50-µs")
					b.ReportMetric(quantile(0.99, bridged.lat[:]...), "p99-µs")
					b.ReportMetric(quantile(0.99, bridged.lat[toCarrier]), "to-carrier-p99-µs")
					b.ReportMetric(quantile(0.99, bridged.lat[toApp]), "to-app-p99-µs")
					b.ReportMetric(quantile(0.5, direct.lat[:]...), "direct-p50-µs")
					b.ReportMetric(quantile(0.99, direct.lat[:]...), "direct-p99-µs")
					sent := bridged.sent.Load()
					got := bridged.lat[toCarrier].n.Load() + bridged.lat[toApp].n.Load()
					b.ReportMetric(100*float64(sent-got)/float64(max(sent, 1)), "loss-%")
					share := (bridged.cpu.Seconds() - direct.cpu.Seconds()) / bridged.wall.Seconds() / float64(calls)
					b.ReportMetric(100*share, "relay-cpu-%/call")
					if share > 0 {
						b.ReportMetric(1/share, "calls/core")
					}
					b.ReportMetric(float64(sent)/bridged.wall.Seconds(), "pkts/s")
				})
			}
		})
	}
}

// Directions of a call.
const (
	toCarrier = iota // sent by the app
	toApp            // sent by the carrier
)

// sendLog is when a stream's packets were sent, by sequence number mod
// 1024 (20 s of packets), as nanoseconds since the run's start.
type sendLog [1024]atomic.Int64

type callsRun struct {
	lat       [2]*latencies // by direction
	sent      atomic.Int64
	cpu, wall time.Duration
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runTranscodeCalls sends b.N rounds over calls calls, through bridges
// or directly between the peers.
func runTranscodeCalls(b *testing.B, calls int, transcode, bridged bool) *callsRun {
	b.Helper()
	appStream, carrierStream := benchStreams(b, transcode)
	var f *Factory
	if bridged {
		f = newBenchFactory(b, callsPorts, callsPorts+4*calls+99)
	}
	run := &callsRun{lat: [2]*latencies{{}, {}}}
	logs := make([][2]sendLog, calls) // by call and direction
	var warm atomic.Int64             // streams whose first packet arrived
	t0 := time.Now()
	var wg sync.WaitGroup
	cs := make([]*benchCall, calls)
	for i := range cs {
		c := newBenchCall(b, f, "bench-"+strconv.Itoa(i), transcode)
		cs[i] = c
		for dir, conn := range [2]*net.UDPConn{toCarrier: c.carrier, toApp: c.app} {
			lat, sentAt := run.lat[dir], &logs[i][dir]
			wg.Go(func() {
				buf := make([]byte, rtp.MaxPacket)
				var off uint16 // what the stream received adds to the sequence numbers sent
				first := true
				for {
					n, err := conn.Read(buf)
					if err != nil {
						return
					}
					if n < 12 {
						continue
					}
					seq := binary.BigEndian.Uint16(buf[2:])
					if first { // the packet of sequence number 0
						off, first = seq, false
						warm.Add(1)
						continue
					}
					lat.add(time.Since(t0) - time.Duration(sentAt[(seq-off)%1024].Load()))
				}
			})
		}
	}
	closeAll := func() {
		for _, c := range cs {
			c.close()
		}
		wg.Wait()
	}
	defer closeAll()

	// Packet 0 of every stream latches the bridge's legs, starts its
	// transcoders and tells the receivers the offset.
	pkt := make([]byte, rtp.MaxPacket)
	for i, c := range cs {
		if _, err := c.app.WriteToUDPAddrPort(appStream.packet(pkt, 0xA0000000|uint32(i), 0), c.appTo); err != nil {
			b.Fatal(err)
		}
		if _, err := c.carrier.WriteToUDPAddrPort(carrierStream.packet(pkt, 0xC0000000|uint32(i), 0), c.carrierTo); err != nil {
			b.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); warm.Load() < int64(2*calls); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the first packet of %d of %d streams never arrived", int64(2*calls)-warm.Load(), 2*calls)
		}
	}

	// A few senders, each for a share of the calls. A round of 20 ms is
	// cut in 1 ms slots and each call sends in its own slot. A sender that
	// cannot keep up sends late, which shows as ns/op above 20 ms and in
	// pkts/s; the delay is counted from the actual send.
	send := func(conn *net.UDPConn, to netip.AddrPort, pkt []byte, sentAt *sendLog) {
		sentAt[binary.BigEndian.Uint16(pkt[2:])%1024].Store(int64(time.Since(t0)))
		if _, err := conn.WriteToUDPAddrPort(pkt, to); err == nil {
			run.sent.Add(1)
		}
	}
	const slots = 20
	senders := max(1, min(calls, 4))
	start := make(chan struct{})
	var begin time.Time // set before start is closed
	var swg sync.WaitGroup
	for s := range senders {
		swg.Go(func() {
			buf := make([]byte, rtp.MaxPacket)
			<-start
			for round := 0; round < b.N; round++ {
				for slot := range slots {
					// Against the clock, not a ticker: a late slot is made up, not lost.
					time.Sleep(time.Until(begin.Add(time.Duration(round*slots+slot) * time.Millisecond)))
					for i := s + slot*senders; i < len(cs); i += senders * slots {
						c := cs[i]
						send(c.app, c.appTo, appStream.packet(buf, 0xA0000000|uint32(i), round+1), &logs[i][toCarrier])
						send(c.carrier, c.carrierTo, carrierStream.packet(buf, 0xC0000000|uint32(i), round+1), &logs[i][toApp])
					}
				}
			}
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.StartTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	begin = wall0
	close(start)
	swg.Wait()
	run.cpu, run.wall = cpuTime()-cpu0, time.Since(wall0)
	b.StopTimer()
	time.Sleep(200 * time.Millisecond) // the last packets land
	return run
}

// histogram is a snapshot of a Prometheus histogram: the cumulative count
// at each bucket's upper bound, in seconds.
type histogram struct {
	bounds []float64
	cum    []uint64
}

func snapshot(h prometheus.Histogram) histogram {
	var m dto.Metric
	_ = h.Write(&m)
	var s histogram
	for _, b := range m.GetHistogram().GetBucket() {
		s.bounds = append(s.bounds, b.GetUpperBound())
		s.cum = append(s.cum, b.GetCumulativeCount())
	}
	return s
}

// quantileSince is the bound, in microseconds, of the bucket that holds
// quantile q of what was counted after prev; the last bound when beyond.
func (h histogram) quantileSince(prev histogram, q float64) float64 {
	if len(h.cum) == 0 {
		return 0
	}
	total := h.cum[len(h.cum)-1] - prev.cum[len(prev.cum)-1]
	for i := range h.cum {
		if float64(h.cum[i]-prev.cum[i]) > q*float64(total) {
			return h.bounds[i] * 1e6
		}
	}
	return h.bounds[len(h.bounds)-1] * 1e6
}
