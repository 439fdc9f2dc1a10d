package rtp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/dialtone/dialtone"
)

// ErrNoPorts means every port pair of the range is in use. Allocate's error
// wraps dialtone.ErrUnavailable too, which the call controller answers
// with 503.
var ErrNoPorts = errors.New("no free rtp ports")

// PortPool allocates RTP/RTCP socket pairs from a port range. It cycles
// through the range, so a port just released is not reused at once (late
// packets of the previous call would land in the next), and skips ports
// that another process holds. Safe for concurrent use.
type PortPool struct {
	ip       netip.Addr
	min, max int // RTP ports are the even ports p in [min, max) with p+1 <= max
	pairs    int

	mu    sync.Mutex
	next  int
	inUse map[int]bool // RTP ports reserved or bound
}

// NewPortPool serves the pairs of ports in [min, max] (an odd min is
// rounded up) and binds them on ip (0.0.0.0 binds every address). The error
// wraps dialtone.ErrInvalid when the range holds no pair.
func NewPortPool(ip netip.Addr, min, max int) (*PortPool, error) {
	if min%2 == 1 {
		min++
	}
	if !ip.IsValid() || min < 1 || max > 65535 || max-min < 1 {
		return nil, fmt.Errorf("new rtp port pool %v %d-%d: %w: needs an IP and at least one even/odd pair of ports", ip, min, max, dialtone.ErrInvalid)
	}
	return &PortPool{ip: ip.Unmap(), min: min, max: max, pairs: (max - min + 1) / 2, next: min, inUse: map[int]bool{}}, nil
}

// Pair is a bound RTP socket and its RTCP socket.
type Pair struct {
	RTP, RTCP *net.UDPConn
	Port      int // the RTP port; RTCP is on Port+1
	pool      *PortPool
	once      sync.Once
}

// Allocate binds the next free pair. Ports another process holds are
// skipped. The error wraps ErrNoPorts and dialtone.ErrUnavailable when no
// pair of the range can be bound.
func (p *PortPool) Allocate() (*Pair, error) {
	for range p.pairs {
		port, ok := p.reserve()
		if !ok {
			break
		}
		// Bind outside the lock: concurrent calls do not wait on each other's syscalls.
		rtp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
		if err != nil {
			p.release(port)
			continue
		}
		rtcp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port+1))))
		if err != nil {
			rtp.Close()
			p.release(port)
			continue
		}
		return &Pair{RTP: rtp, RTCP: rtcp, Port: port, pool: p}, nil
	}
	return nil, fmt.Errorf("allocate rtp ports in %d-%d: %w: %w", p.min, p.max, ErrNoPorts, dialtone.ErrUnavailable)
}

// reserve marks the next port not in use, starting where the last one left off.
func (p *PortPool) reserve() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range p.pairs {
		port := p.next
		p.next += 2
		if p.next+1 > p.max {
			p.next = p.min
		}
		if !p.inUse[port] {
			p.inUse[port] = true
			return port, true
		}
	}
	return 0, false
}

func (p *PortPool) release(port int) {
	p.mu.Lock()
	delete(p.inUse, port)
	p.mu.Unlock()
}

// InUse counts the pairs allocated and not yet closed.
func (p *PortPool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inUse)
}

// Size is the number of pairs in the range, bound by others or not.
func (p *PortPool) Size() int { return p.pairs }

// Close closes both sockets and returns the port to the pool. Idempotent.
func (pr *Pair) Close() error {
	var err error
	pr.once.Do(func() {
		err = errors.Join(pr.RTP.Close(), pr.RTCP.Close())
		pr.pool.release(pr.Port)
	})
	return err
}
