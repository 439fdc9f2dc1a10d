package main

import (
	"encoding/binary"
	"net"
	"os"
	"testing"
	"time"
)

// directCalls are calls without a relay: the peers send to each other,
// the app's packets through a forwarder that drops those drop says.
func directCalls(t *testing.T, n int, transcode bool, drop func(seq uint16) bool) []*call {
	t.Helper()
	cs := make([]*call, n)
	for i := range cs {
		app, err := listenPeer()
		if err != nil {
			t.Fatal(err)
		}
		carrier, err := listenPeer()
		if err != nil {
			t.Fatal(err)
		}
		c := &call{app: app, carrier: carrier}
		t.Cleanup(c.close)
		c.appTo, c.carrierTo = carrier.LocalAddr().(*net.UDPAddr).AddrPort(), app.LocalAddr().(*net.UDPAddr).AddrPort()
		c.rxPT[toCarrier], c.rxTick[toCarrier] = ptPCMU, tickPCMU
		c.rxPT[toApp], c.rxTick[toApp] = ptPCMU, tickPCMU
		if transcode { // the carrier gets the app's Opus as sent
			c.rxPT[toCarrier], c.rxTick[toCarrier] = ptOpus, tickOpus
		}
		if drop != nil {
			fwd, err := listenPeer()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { fwd.Close() })
			to := c.appTo
			c.appTo = fwd.LocalAddr().(*net.UDPAddr).AddrPort()
			go func() {
				buf := make([]byte, 2048)
				for {
					k, err := fwd.Read(buf)
					if err != nil {
						return
					}
					if k >= 12 && !drop(binary.BigEndian.Uint16(buf[2:])) {
						_, _ = fwd.WriteToUDPAddrPort(buf[:k], to)
					}
				}
			}()
		}
		cs[i] = c
	}
	return cs
}

// measure over calls without a relay: every packet counted once, and the
// loss a forwarder makes is the loss reported, in both modes (send time in
// the payload, or matched by RTP timestamp).
func TestMeasure(t *testing.T) {
	// Frames 25-74 are measured; 30, 40, ..., 70 of the app's are dropped:
	// 5 of 50 in one direction, 5 % of both.
	tens := func(seq uint16) bool { return seq%10 == 0 && seq >= warmFrames }
	// A relay starting up may lose the first frames: the receiver
	// finds its place by the onset of the sound.
	start := func(seq uint16) bool { return seq < onsetFrame }
	for _, tt := range []struct {
		name      string
		transcode bool
		drop      func(uint16) bool
		wantLoss  float64
	}{
		{"passthrough", false, nil, 0},
		{"timestamps", true, nil, 0},
		{"passthrough lossy", false, tens, 5},
		{"timestamps lossy", true, tens, 5},
		{"timestamps start lost", true, start, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const calls = 3
			res, err := measure(directCalls(t, calls, tt.transcode, tt.drop), tt.transcode, time.Second, os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(2 * calls * 50); res.sent != want {
				t.Errorf("sent %d, want %d", res.sent, want)
			}
			if got := lossPercent(res.sent, res.received); got != tt.wantLoss {
				t.Errorf("loss %v %%, want %v %% (sent %d, received %d)", got, tt.wantLoss, res.sent, res.received)
			}
			if n := res.lat[toCarrier].count() + res.lat[toApp].count(); n != res.received {
				t.Errorf("%d delays for %d packets received", n, res.received)
			}
			if res.odd != 0 {
				t.Errorf("%d packets off the run's frames", res.odd)
			}
			if res.wall <= 0 {
				t.Errorf("wall time %v", res.wall)
			}
		})
	}
}
