package rtp

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// latencies is a histogram of one-way delays in microseconds, safe for
// concurrent use and free of allocation once made.
type latencies struct {
	us   [50_000]atomic.Uint32 // 0-49.999 ms by the microsecond; the last bucket takes the rest
	n    atomic.Int64
	sent atomic.Int64
}

func (l *latencies) add(d time.Duration) {
	l.us[min(max(d.Microseconds(), 0), int64(len(l.us)-1))].Add(1)
	l.n.Add(1)
}

// quantile is the delay in microseconds below which a fraction q of the samples are.
func (l *latencies) quantile(q float64) float64 {
	want, seen := int64(q*float64(l.n.Load())), int64(0)
	for i := range l.us {
		seen += int64(l.us[i].Load())
		if seen > want {
			return float64(i)
		}
	}
	return float64(len(l.us))
}

func (l *latencies) report(b *testing.B, prefix string) {
	b.ReportMetric(l.quantile(0.5), prefix+"p50-µs")
	b.ReportMetric(l.quantile(0.99), prefix+"p99-µs")
}

// BenchmarkForward sends one packet at a time through a relay over
// loopback and waits for it on the far side: packets per second through
// one relay, allocations per packet (the relay's goroutines included:
// the count is the process's), and the one-way delay, send to receive.
// "direct" is the same round without the relay in between, so the
// difference is what the relay adds.
func BenchmarkForward(b *testing.B) {
	for _, relayed := range []bool{true, false} {
		name := "relay"
		if !relayed {
			name = "direct"
		}
		b.Run(name, func(b *testing.B) {
			app, carrier := newPeer(b), newPeer(b)
			to := carrier.addr()
			if relayed {
				pool := newPool(b, benchPorts, benchPorts+99)
				pa, err := pool.Allocate()
				if err != nil {
					b.Fatal(err)
				}
				pb, err := pool.Allocate()
				if err != nil {
					b.Fatal(err)
				}
				r := NewRelay(pa, pb, DefaultStrict())
				defer r.Close()
				r.A().SetRemote(app.addr(), app.addr())
				r.B().SetRemote(carrier.addr(), carrier.addr())
				to = netip.AddrPortFrom(loopback(), uint16(r.A().Port()))
			}
			pkt := packet(1, 0, make([]byte, 160))
			buf := make([]byte, 1500)
			lat := &latencies{}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pkt[2], pkt[3] = byte(i>>8), byte(i)
				start := time.Now()
				if _, err := app.conn.WriteToUDPAddrPort(pkt, to); err != nil {
					b.Fatal(err)
				}
				if _, _, err := carrier.conn.ReadFromUDPAddrPort(buf); err != nil {
					b.Fatal(err)
				}
				lat.add(time.Since(start))
			}
			b.StopTimer()
			lat.report(b, "")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

// BenchmarkCalls carries concurrent pass-through calls, each a G.711
// stream both ways (50 packets/s of 172 bytes, 20 ms apart), for b.N
// rounds of 20 ms, and reports:
//   - loss-%: packets sent by the fake phones and carriers that never
//     reached the other side;
//   - p50-µs, p99-µs: the one-way delay, from a timestamp the sender writes
//     into the payload to the receiver reading it; direct-p50-µs and
//     direct-p99-µs the same with the peers sending to each other, so the
//     difference is the delay the relay adds under that load;
//   - relay-cpu-%/call: the process's CPU time with the relay, less the
//     same load sent directly (the fake peers' own cost), per call, as a
//     percentage of one core; calls/core is its inverse.
//
// Each call sends in its own millisecond of the round, as real calls
// spread over the packet time. The fake peers run in the same process on
// the same cores as the relay, so past the load the cores carry, loss and
// delay climb and the CPU difference no longer measures the relay. Run it
// with a fixed count of rounds, e.g. -benchtime 250x (5 s a phase).
func BenchmarkCalls(b *testing.B) {
	for _, calls := range []int{100, 250, 500, 1000} {
		b.Run(strconv.Itoa(calls), func(b *testing.B) {
			direct := runCalls(b, calls, false)
			relayed := runCalls(b, calls, true)
			relayed.lat.report(b, "")
			direct.lat.report(b, "direct-")
			loss := float64(relayed.lat.sent.Load()-relayed.lat.n.Load()) / float64(max(relayed.lat.sent.Load(), 1))
			b.ReportMetric(100*loss, "loss-%")
			share := (relayed.cpu.Seconds() - direct.cpu.Seconds()) / relayed.wall.Seconds() / float64(calls)
			b.ReportMetric(100*share, "relay-cpu-%/call")
			if share > 0 {
				b.ReportMetric(1/share, "calls/core")
			}
			b.ReportMetric(float64(relayed.lat.sent.Load())/relayed.wall.Seconds(), "pkts/s")
		})
	}
}

type callsRun struct {
	lat       *latencies
	cpu, wall time.Duration
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runCalls sends b.N rounds over calls calls, through relays or directly.
func runCalls(b *testing.B, calls int, relayed bool) callsRun {
	b.Helper()
	type call struct {
		r            *Relay
		app, carrier *peer
		toA, toB     netip.AddrPort // where the app and the carrier send
	}
	// Below the ephemeral range the peers bind in; 4 ports a call.
	pool := newPool(b, 20000, 20000+4*calls+99)
	lat := &latencies{}
	t0 := time.Now()
	var wg sync.WaitGroup
	cs := make([]call, calls)
	for i := range cs {
		c := call{app: newPeer(b), carrier: newPeer(b)}
		c.toA, c.toB = c.carrier.addr(), c.app.addr()
		if relayed {
			pa, err := pool.Allocate()
			if err != nil {
				b.Fatal(err)
			}
			pb, err := pool.Allocate()
			if err != nil {
				b.Fatal(err)
			}
			c.r = NewRelay(pa, pb, DefaultStrict())
			c.r.A().SetRemote(c.app.addr(), c.app.addr())
			c.r.B().SetRemote(c.carrier.addr(), c.carrier.addr())
			c.toA = netip.AddrPortFrom(loopback(), uint16(pa.Port))
			c.toB = netip.AddrPortFrom(loopback(), uint16(pb.Port))
		}
		cs[i] = c
		for _, p := range []*peer{c.app, c.carrier} {
			wg.Go(func() {
				buf := make([]byte, 1500)
				for {
					n, _, err := p.conn.ReadFromUDPAddrPort(buf)
					if err != nil {
						return
					}
					if n >= 20 {
						lat.add(time.Since(t0) - time.Duration(binary.BigEndian.Uint64(buf[12:])))
					}
				}
			})
		}
	}

	// A few senders, each for a share of the calls. A round of 20 ms is
	// cut in 1 ms slots and each call sends in its own slot, as real calls
	// spread over the packet time. A sender that cannot keep up sends
	// late, which shows as ns/op above 20 ms and in pkts/s.
	const slots = 20
	senders := max(1, min(calls, 4))
	start := make(chan struct{})
	var begin time.Time // set before start is closed
	var swg sync.WaitGroup
	for s := range senders {
		swg.Go(func() {
			pkt := packet(1, 0, make([]byte, 160))
			<-start
			for round := 0; round < b.N; round++ {
				binary.BigEndian.PutUint16(pkt[2:], uint16(round))
				for slot := range slots {
					// Against the clock, not a ticker: a late slot is made up, not lost.
					time.Sleep(time.Until(begin.Add(time.Duration(round*slots+slot) * time.Millisecond)))
					for i := s + slot*senders; i < len(cs); i += senders * slots {
						c := cs[i]
						binary.BigEndian.PutUint64(pkt[12:], uint64(time.Since(t0)))
						if _, err := c.app.conn.WriteToUDPAddrPort(pkt, c.toA); err == nil {
							lat.sent.Add(1)
						}
						binary.BigEndian.PutUint64(pkt[12:], uint64(time.Since(t0)))
						if _, err := c.carrier.conn.WriteToUDPAddrPort(pkt, c.toB); err == nil {
							lat.sent.Add(1)
						}
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
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	b.StopTimer()
	time.Sleep(200 * time.Millisecond) // the last packets land
	for _, c := range cs {
		if c.r != nil {
			c.r.Close()
		}
		c.app.conn.Close()
		c.carrier.conn.Close()
	}
	wg.Wait()
	return callsRun{lat: lat, cpu: cpu, wall: wall}
}
