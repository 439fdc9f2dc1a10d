package guard

import (
	"bufio"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestPacketConnDropsRefusedSources(t *testing.T) {
	g, _ := newGuard(t, Defaults(), nil)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	conn := g.PacketConn(pc, "udp")
	send := func(msg string) {
		t.Helper()
		c, err := net.Dial("udp", pc.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	loopback := netip.MustParseAddr("127.0.0.1")
	for range Defaults().Failures {
		g.AuthFailed(loopback, "", "udp")
	}
	buf := make([]byte, 100)
	send("while banned")
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := conn.ReadFrom(buf); !isTimeout(err) {
		t.Fatalf("ReadFrom while banned = %q, %v, want nothing until the deadline", buf[:n], err)
	}
	g.Unban(loopback)
	send("after the ban")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	if got := string(buf[:n]); got != "after the ban" {
		t.Errorf("ReadFrom = %q, want %q (the banned datagram dropped)", got, "after the ban")
	}
}

func TestListenerRefusesBannedSources(t *testing.T) {
	g, _ := newGuard(t, Defaults(), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	gl := g.Listener(ln, "tcp")
	accepted := make(chan net.Conn, 1)
	go func() {
		for {
			c, err := gl.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// An open connection ends at its next read once its source is banned.
	open := dial()
	server := <-accepted
	loopback := netip.MustParseAddr("127.0.0.1")
	for range Defaults().Failures {
		g.AuthFailed(loopback, "", "tcp")
	}
	open.Write([]byte("OPTIONS sip:x SIP/2.0\r\n"))
	if _, err := bufio.NewReader(server).ReadByte(); err == nil {
		t.Errorf("Read on a banned source's connection = nil error, want the connection ended")
	}
	// A new connection is closed at accept: the client reads EOF.
	refused := dial()
	refused.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := refused.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("Read on a banned source's new connection = %v, want it closed by the switch", err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestListenerCapsConnectionsPerSource(t *testing.T) {
	cfg := Defaults()
	cfg.MaxConnections = 2
	g, _ := newGuard(t, cfg, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	gl := g.Listener(ln, "tcp")
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := gl.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	loopback := netip.MustParseAddr("127.0.0.1")
	dial("127.0.0.1")
	dial("127.0.0.1")
	first, second := <-accepted, <-accepted
	if n := g.Connections(loopback); n != 2 {
		t.Fatalf("Connections = %d, want 2", n)
	}
	refused := dial("127.0.0.1")
	refused.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := refused.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("Read on a third connection from one source = %v, want it closed at accept", err)
	}
	// Another source is not held back.
	dial("127.0.0.2")
	if c := <-accepted; addrOf(c.RemoteAddr()) != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("accepted %v, want the connection from 127.0.0.2", c.RemoteAddr())
	}
	// Closing one (twice: counted once) makes room for one more.
	first.Close()
	first.Close()
	if n := g.Connections(loopback); n != 1 {
		t.Fatalf("Connections after a close = %d, want 1", n)
	}
	dial("127.0.0.1")
	if c := <-accepted; addrOf(c.RemoteAddr()) != loopback {
		t.Errorf("accepted %v, want the new connection from 127.0.0.1", c.RemoteAddr())
	}
	second.Close()
	// An allowed source is not counted.
	g.SetAllow([]netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")})
	for range 4 {
		dial("127.0.0.3")
		<-accepted
	}
	if n := g.Connections(netip.MustParseAddr("127.0.0.3")); n != 0 {
		t.Errorf("Connections of an allowed source = %d, want 0 (not counted)", n)
	}
}
