package webrtc

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmarks run a connected call over loopback. b.ReportAllocs counts
// every allocation of the process: pion's inside our calls, and the pion
// client's on the other end (its SRTP read or write path) too.

// opusSize is the payload of 20 ms of Opus at ~48 kbit/s.
const opusSize = 120

func BenchmarkWriteRTP(b *testing.B) {
	e := newEngine(b, Config{})
	k := connect(b, e, "opus", 48000)
	pkt := opusPacket(1, opusSize)
	k.toClient(b, 111, []byte("warm"))
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		if err := k.p.WriteRTP(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadRTP(b *testing.B) {
	e := newEngine(b, Config{})
	k := connect(b, e, "opus", 48000)
	payload := make([]byte, opusSize)
	buf := make([]byte, 1500)

	// The client writes while at most window packets are in flight, so
	// that none is lost to a full socket; a tick lets one more go if the
	// reader made no progress (a packet was lost after all).
	const window = 32
	tokens := make(chan struct{}, 2*window)
	for range window {
		tokens <- struct{}{}
	}
	var read atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-tokens:
			}
			if err := k.c.write(111, payload); err != nil {
				return
			}
		}
	})
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		last := int64(-1)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if n := read.Load(); n == last {
				select {
				case tokens <- struct{}{}:
				default:
				}
			} else {
				last = n
			}
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
	}()
	if _, err := k.p.ReadRTP(buf); err != nil { // the track exists
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(12 + opusSize))
	for b.Loop() {
		if _, err := k.p.ReadRTP(buf); err != nil {
			b.Fatal(err)
		}
		read.Add(1)
		select {
		case tokens <- struct{}{}:
		default:
		}
	}
}
