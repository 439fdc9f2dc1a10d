package guard

import (
	"io"
	"net"
	"net/netip"
	"sync"
)

// PacketConn wraps the UDP socket sipgo reads so that a datagram from a
// banned source, or from one over its rate, is dropped before it is
// parsed and gets no answer at all.
func (g *Guard) PacketConn(pc net.PacketConn, transport string) net.PacketConn {
	return &packetConn{PacketConn: pc, g: g, transport: transport}
}

type packetConn struct {
	net.PacketConn
	g         *Guard
	transport string
}

// ReadFrom returns the next datagram the guard admits.
func (c *packetConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, addr, err
		}
		if c.g.Admit(addrOf(addr), c.transport) {
			return n, addr, nil
		}
	}
}

// Listener wraps a stream listener (tcp, and under TLS for tls and wss)
// so that a banned source's connection is closed at accept, and an open
// connection is closed at its next read once its source is banned. A
// source that already holds MaxConnections connections (over every
// stream listener of the guard) has its next one closed at accept too;
// allowed sources are not counted.
func (g *Guard) Listener(l net.Listener, transport string) net.Listener {
	return &listener{Listener: l, g: g, transport: transport}
}

type listener struct {
	net.Listener
	g         *Guard
	transport string
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := addrOf(c.RemoteAddr())
		if l.g.Banned(src) {
			l.g.metrics.drop(l.transport, "banned")
			c.Close()
			continue
		}
		counted, ok := l.g.openConn(src)
		if !ok {
			l.g.metrics.drop(l.transport, "connections")
			l.g.log.Debug("connection refused: too many from its source", "source", src, "transport", l.transport, "max", l.g.cfg.MaxConnections)
			c.Close()
			continue
		}
		return &conn{Conn: c, g: l.g, src: src, counted: counted}, nil
	}
}

// openConn counts a new connection from src. ok is false when src holds
// MaxConnections already; counted is false for an allowed source, which
// is not counted.
func (g *Guard) openConn(src netip.Addr) (counted, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.allowedLocked(src) {
		return false, true
	}
	if g.conns[src] >= g.cfg.MaxConnections {
		return false, false
	}
	g.conns[src]++
	return true, true
}

// closeConn uncounts a connection openConn counted.
func (g *Guard) closeConn(src netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := g.conns[src] - 1; n > 0 {
		g.conns[src] = n
	} else {
		delete(g.conns, src)
	}
}

// Connections is how many connections src holds open, as counted
// against MaxConnections.
func (g *Guard) Connections(src netip.Addr) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conns[src.Unmap()]
}

type conn struct {
	net.Conn
	g       *Guard
	src     netip.Addr
	counted bool
	once    sync.Once
}

// Read ends the connection once its source is banned.
func (c *conn) Read(b []byte) (int, error) {
	if c.g.Banned(c.src) {
		c.Close()
		return 0, io.EOF
	}
	return c.Conn.Read(b)
}

// Close closes the connection and uncounts it, once.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.counted {
			c.g.closeConn(c.src)
		}
	})
	return err
}

// addrOf is the IP of a socket address; the zero Addr for other kinds.
func addrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
