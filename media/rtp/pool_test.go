package rtp

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

func TestNewPortPool(t *testing.T) {
	tests := []struct {
		name     string
		ip       netip.Addr
		min, max int
		pairs    int // 0: an error
	}{
		{"one pair", loopback(), 20000, 20001, 1},
		{"odd min rounds up", loopback(), 20001, 20010, 4},
		{"even max leaves its port out", loopback(), 20000, 20010, 5},
		{"no pair after rounding", loopback(), 20001, 20002, 0},
		{"upside down", loopback(), 20010, 20000, 0},
		{"port 0", loopback(), 0, 10, 0},
		{"past 65535", loopback(), 65534, 65536, 0},
		{"no IP", netip.Addr{}, 20000, 20010, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPortPool(tt.ip, tt.min, tt.max)
			if tt.pairs == 0 {
				if !errors.Is(err, dialtone.ErrInvalid) {
					t.Errorf("NewPortPool(%v, %d, %d) = %v, want %v", tt.ip, tt.min, tt.max, err, dialtone.ErrInvalid)
				}
				return
			}
			if err != nil || p.Size() != tt.pairs {
				t.Fatalf("NewPortPool(%v, %d, %d) = %v, size %d, want size %d", tt.ip, tt.min, tt.max, err, p.Size(), tt.pairs)
			}
		})
	}
}

// allocateAll takes pairs until the pool is exhausted.
func allocateAll(t *testing.T, pool *PortPool) []*Pair {
	t.Helper()
	var pairs []*Pair
	for {
		p, err := pool.Allocate()
		if err != nil {
			if !errors.Is(err, ErrNoPorts) || !errors.Is(err, dialtone.ErrUnavailable) {
				t.Fatalf("Allocate() = %v, want %v and %v", err, ErrNoPorts, dialtone.ErrUnavailable)
			}
			return pairs
		}
		if p.Port%2 != 0 || p.Port < poolPorts || p.Port+1 > poolPorts+9 {
			t.Errorf("Allocate() RTP port %d, want an even port in %d-%d", p.Port, poolPorts, poolPorts+8)
		}
		if got := p.RTCP.LocalAddr().(*net.UDPAddr).Port; got != p.Port+1 {
			t.Errorf("Allocate() RTCP port %d, want %d", got, p.Port+1)
		}
		pairs = append(pairs, p)
	}
}

func TestPortPoolExhaustionAndRelease(t *testing.T) {
	pool := newPool(t, poolPorts, poolPorts+9) // 5 pairs
	pairs := allocateAll(t, pool)
	if len(pairs) != 5 || pool.InUse() != 5 {
		t.Fatalf("allocated %d pairs (%d in use), want 5", len(pairs), pool.InUse())
	}
	seen := map[int]bool{}
	for _, p := range pairs {
		if seen[p.Port] {
			t.Errorf("port %d allocated twice", p.Port)
		}
		seen[p.Port] = true
		if err := p.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
		if err := p.Close(); err != nil { // idempotent
			t.Errorf("second Close() = %v", err)
		}
	}
	if pool.InUse() != 0 {
		t.Errorf("InUse() = %d after Close, want 0", pool.InUse())
	}
	again := allocateAll(t, pool)
	if len(again) != 5 {
		t.Errorf("after releasing every pair, allocated %d again, want 5", len(again))
	}
	for _, p := range again {
		p.Close()
	}
}

func TestPortPoolSkipsPortsOthersHold(t *testing.T) {
	pool := newPool(t, poolPorts, poolPorts+9)
	// Another process holds the RTCP port of one pair and the RTP port of another.
	for _, port := range []int{poolPorts + 3, poolPorts + 6} {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback(), uint16(port))))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	pairs := allocateAll(t, pool)
	for _, p := range pairs {
		defer p.Close()
		if p.Port == poolPorts+2 || p.Port == poolPorts+6 {
			t.Errorf("Allocate() gave port %d, which another socket holds", p.Port)
		}
	}
	if len(pairs) != 3 || pool.InUse() != 3 {
		t.Errorf("allocated %d pairs (%d in use), want the 3 free ones", len(pairs), pool.InUse())
	}
}

func TestPortPoolConcurrent(t *testing.T) {
	pool := newPool(t, relayPorts, relayPorts+199) // 100 pairs
	var mu sync.Mutex
	ports := map[int]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				p, err := pool.Allocate()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				dup := ports[p.Port]
				ports[p.Port] = true
				mu.Unlock()
				if dup {
					t.Errorf("port %d allocated to two callers at once", p.Port)
				}
				mu.Lock()
				delete(ports, p.Port)
				mu.Unlock()
				p.Close()
			}
		})
	}
	wg.Wait()
	if pool.InUse() != 0 {
		t.Errorf("InUse() = %d after every pair closed, want 0", pool.InUse())
	}
}

func TestRelayCloseReleasesPorts(t *testing.T) {
	pool := newPool(t, poolPorts, poolPorts+9)
	for round := range 3 {
		pairs := allocateAll(t, pool)
		if len(pairs) != 5 {
			t.Fatalf("round %d: allocated %d pairs, want 5", round, len(pairs))
		}
		relays := []*Relay{NewRelay(pairs[0], pairs[1], DefaultStrict()), NewRelay(pairs[2], pairs[3], DefaultStrict())}
		relays[0].Arm(time.Hour, func() {})
		for _, r := range relays {
			if err := r.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
			if err := r.Close(); err != nil {
				t.Errorf("second Close() = %v, want nil", err)
			}
		}
		pairs[4].Close()
		if n := pool.InUse(); n != 0 {
			t.Fatalf("round %d: InUse() = %d after closing every relay, want 0", round, n)
		}
	}
}
