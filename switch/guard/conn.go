package guard

import (
	"io"
	"net"
	"net/netip"
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
// connection is closed at its next read once its source is banned.
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
		return &conn{Conn: c, g: l.g, src: src}, nil
	}
}

type conn struct {
	net.Conn
	g   *Guard
	src netip.Addr
}

// Read ends the connection once its source is banned.
func (c *conn) Read(b []byte) (int, error) {
	if c.g.Banned(c.src) {
		c.Conn.Close()
		return 0, io.EOF
	}
	return c.Conn.Read(b)
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
