// Package rtp relays a call's RTP and RTCP between two legs (RFC 3550).
//
// A PortPool hands out socket pairs (RTP on an even port, RTCP on the next
// odd one). A Relay joins two pairs: what one leg receives is sent out of
// the other leg's sockets, unmodified (G.711 and RFC 4733 events pass
// through). Each leg is symmetric and latching (RFC 4961, as SBCs do for
// NAT): the first valid packet fixes the peer's address and packets from
// any other source are dropped and counted, so media from elsewhere never
// bleeds into a call. RTCP is relayed the same way on the odd sockets.
//
// Concurrency: a Relay runs one goroutine per socket (four per call) and
// one timer; Close stops and waits for all of them. The per-packet path
// reuses one buffer per goroutine, does not allocate and does not log;
// statistics are atomics read by Stats at any time.
package rtp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// ErrNoPorts means every port of the range is in use.
var ErrNoPorts = errors.New("no free rtp ports")

// PortPool allocates RTP/RTCP socket pairs from a port range. It cycles
// through the range so a port just released is not reused at once (late
// packets of the previous call would land in the next). Safe for concurrent use.
type PortPool struct {
	ip       netip.Addr
	min, max int // even ports in [min, max)

	mu    sync.Mutex
	next  int
	inUse map[int]bool
}

// NewPortPool serves ports in [min, max] bound on ip.
func NewPortPool(ip netip.Addr, min, max int) (*PortPool, error) {
	if min%2 == 1 {
		min++
	}
	if min < 1 || max > 65535 || max-min < 1 {
		return nil, fmt.Errorf("rtp port range %d-%d: needs at least one even/odd pair", min, max)
	}
	return &PortPool{ip: ip, min: min, max: max, next: min, inUse: map[int]bool{}}, nil
}

// Pair is an RTP socket and its RTCP socket.
type Pair struct {
	RTP, RTCP *net.UDPConn
	Port      int // the RTP port; RTCP is Port+1
	pool      *PortPool
	once      sync.Once
}

// Allocate binds the next free pair. Ports another process holds are skipped.
func (p *PortPool) Allocate() (*Pair, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	span := (p.max - p.min + 1) / 2
	for range span {
		port := p.next
		p.next += 2
		if p.next+1 > p.max {
			p.next = p.min
		}
		if p.inUse[port] {
			continue
		}
		rtp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
		if err != nil {
			continue
		}
		rtcp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port+1))))
		if err != nil {
			rtp.Close()
			continue
		}
		p.inUse[port] = true
		return &Pair{RTP: rtp, RTCP: rtcp, Port: port, pool: p}, nil
	}
	return nil, fmt.Errorf("allocate in %d-%d: %w", p.min, p.max, ErrNoPorts)
}

// InUse counts allocated pairs.
func (p *PortPool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inUse)
}

// Close closes both sockets and returns the port to the pool. Idempotent.
func (pr *Pair) Close() error {
	var err error
	pr.once.Do(func() {
		err = errors.Join(pr.RTP.Close(), pr.RTCP.Close())
		pr.pool.mu.Lock()
		delete(pr.pool.inUse, pr.Port)
		pr.pool.mu.Unlock()
	})
	return err
}
