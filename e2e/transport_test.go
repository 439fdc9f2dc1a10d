package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/dialtone/dialtone/switch/digest"
)

// wsPhone is a SIP client on one WebSocket (RFC 7118), as a browser's.
type wsPhone struct {
	t    *testing.T
	conn *websocket.Conn
	seq  int
}

func dialWS(ctx context.Context, t *testing.T, url string, roots *x509.CertPool) (*wsPhone, error) {
	opts := &websocket.DialOptions{Subprotocols: []string{"sip"}}
	if roots != nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	}
	c, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsPhone{t: t, conn: c}, nil
}

// request sends one SIP request and returns the first line and headers
// of its answer.
func (p *wsPhone) request(ctx context.Context, msg string) (string, error) {
	if err := p.conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return "", err
	}
	for {
		_, b, err := p.conn.Read(ctx)
		if err != nil {
			return "", err
		}
		if s := string(b); !strings.HasPrefix(s, "SIP/2.0 1") {
			return s, nil
		}
	}
}

// register signs user in: REGISTER, its 401, and REGISTER with the
// digest answer. It returns the final answer.
func (p *wsPhone) register(ctx context.Context, user, password string) (string, error) {
	msg := func(auth string) string {
		p.seq++
		return fmt.Sprintf("REGISTER sip:dialtone SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK-w%d\r\nMax-Forwards: 70\r\n"+
			"From: <sip:%s@dialtone>;tag=w%d\r\nTo: <sip:%s@dialtone>\r\nCall-ID: w%p@df7jal23ls0d.invalid\r\nCSeq: %d REGISTER\r\n"+
			"Contact: <sip:%s@df7jal23ls0d.invalid;transport=ws>\r\nExpires: 300\r\n%sContent-Length: 0\r\n\r\n",
			p.seq, user, p.seq, user, p, p.seq, user, auth)
	}
	res, err := p.request(ctx, msg(""))
	if err != nil || !strings.HasPrefix(res, "SIP/2.0 401") {
		return res, err
	}
	return p.request(ctx, msg(digestAuth("Authorization", res, user, password, "REGISTER", "sip:dialtone")))
}

// digestAuth answers the MD5 challenge in a 401 or 407.
func digestAuth(header, challenge, user, password, method, uri string) string {
	_, rest, _ := strings.Cut(challenge, `nonce="`)
	nonce, _, _ := strings.Cut(rest, `"`)
	ha1 := digest.HA1(digest.MD5, user, "dialtone", password)
	res := digest.Response(digest.MD5, ha1, method, uri, nonce, "auth", "00000001", "e2e")
	return fmt.Sprintf("%s: Digest username=%q, realm=\"dialtone\", nonce=%q, uri=%q, response=%q, algorithm=MD5, qop=auth, nc=00000001, cnonce=\"e2e\"\r\n",
		header, user, nonce, uri, res)
}

// closedBy reports whether the switch closes c by the deadline; what it
// sends until then is read and dropped.
func closedBy(c net.Conn, deadline time.Time) bool {
	c.SetReadDeadline(deadline)
	_, err := io.Copy(io.Discard, c) // nil at EOF
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestSilentConnectionsDoNotStallSignIn: 100 TCP connections to the
// WebSocket port, and a few to the WSS and TLS ports, that say nothing
// do not keep a browser-like client from signing in at once over WS and
// WSS (sipgo v1.7.2 upgraded WebSockets one at a time in its accept loop,
// so each one waited for every silent connection before it); they are
// closed after sip.handshake_timeout. A connection that sent one request
// is closed after sip.tcp_idle_timeout; a registered one stays.
func TestSilentConnectionsDoNotStallSignIn(t *testing.T) {
	const handshake, idle = 4 * time.Second, 2 * time.Second
	certPath, keyPath, _ := selfSigned(t)
	wsPort, wssPort, tlsPort := freePort(t), freePort(t), freePort(t)
	o := carrierAt("127.0.0.5", freePort(t)) // 127.0.0.1 is not a trunk's, so not allow-listed
	o.SIPExtra = fmt.Sprintf("tls_cert: %q\n  tls_key: %q\n  handshake_timeout: %v\n  tcp_idle_timeout: %v\n"+
		"  listen: [{transport: udp, addr: \"127.0.0.1:%d\"}, {transport: ws, addr: \"127.0.0.1:%d\"}, {transport: wss, addr: \"127.0.0.1:%d\"}, {transport: tls, addr: \"127.0.0.1:%d\"}]",
		certPath, keyPath, handshake, idle, freePort(t), wsPort, wssPort, tlsPort)
	o.Extra = "guard: {max_connections_per_source: 200}\n"
	sw := startSwitch(t, o)
	sw.Account("alice", "secret")
	pem, _ := os.ReadFile(certPath)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)

	opened := time.Now()
	var silent []net.Conn
	for _, p := range []struct{ port, n int }{{wsPort, 100}, {wssPort, 5}, {tlsPort, 5}} {
		for range p.n {
			c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(p.port))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			silent = append(silent, c)
		}
	}

	// Signing in is not held up: one second is far less than the
	// handshake time the silent connections could hold each upgrade for.
	phones := map[string]*wsPhone{}
	for _, u := range []struct {
		name, url string
		roots     *x509.CertPool
	}{{"WS", fmt.Sprintf("ws://127.0.0.1:%d", wsPort), nil}, {"WSS", fmt.Sprintf("wss://127.0.0.1:%d", wssPort), roots}} {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		p, err := dialWS(ctx, t, u.url, u.roots)
		res := ""
		if err == nil {
			res, err = p.register(ctx, "alice", "secret")
		}
		cancel()
		if err != nil || !strings.HasPrefix(res, "SIP/2.0 200") {
			t.Fatalf("sign-in over %s while 110 connections say nothing: %q, %v after %v; want 200 within 1 s", u.name, firstLine(res), err, time.Since(start).Round(time.Millisecond))
		}
		phones[u.name] = p
	}

	// One request, then nothing: closed after the idle time.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pinger, err := dialWS(ctx, t, fmt.Sprintf("ws://127.0.0.1:%d", wsPort), nil)
	if err != nil {
		t.Fatal(err)
	}
	options := "OPTIONS sip:dialtone SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK-opt1\r\nMax-Forwards: 70\r\n" +
		"From: <sip:probe@dialtone>;tag=opt1\r\nTo: <sip:dialtone>\r\nCall-ID: opt1@df7jal23ls0d.invalid\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if res, err := pinger.request(ctx, options); err != nil || !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("OPTIONS = %q, %v; want 200", firstLine(res), err)
	}
	pinged := time.Now()

	// The silent connections are closed once the handshake time is over.
	deadline := opened.Add(handshake + 5*time.Second)
	open := 0
	for _, c := range silent {
		if !closedBy(c, deadline) {
			open++
		}
	}
	if open > 0 {
		t.Errorf("%d of %d silent connections still open 5 s after sip.handshake_timeout (%v)", open, len(silent), handshake)
	}
	readCtx, readCancel := context.WithDeadline(ctx, pinged.Add(idle+5*time.Second))
	_, msg, err := pinger.conn.Read(readCtx)
	readCancel()
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a WebSocket idle after one OPTIONS: read = %q, %v; want it closed 5 s after sip.tcp_idle_timeout (%v)", msg, err, idle)
	}

	// The registered ones outlived the idle time: each answers a CRLF
	// keep-alive.
	for name, p := range phones {
		if err := p.conn.Write(ctx, websocket.MessageText, []byte("\r\n\r\n")); err != nil {
			t.Errorf("registered %s WebSocket: %v", name, err)
			continue
		}
		if _, msg, err := p.conn.Read(ctx); err != nil || string(msg) != "\r\n" {
			t.Errorf("registered %s WebSocket after the idle time: pong = %q, %v; want CRLF", name, msg, err)
		}
	}
	if got := sw.Metric("dialtone_sip_connections"); got != float64(len(phones)) {
		t.Errorf("dialtone_sip_connections = %v, want %d (the registered WebSockets)", got, len(phones))
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// TestConnectionsPerSource: past guard.max_connections_per_source, a new
// connection from the same address is closed at accept, while another
// address still connects; one closed makes room again.
func TestConnectionsPerSource(t *testing.T) {
	const max = 5
	o := carrierAt("127.0.0.5", freePort(t))
	o.Extra = fmt.Sprintf("guard: {max_connections_per_source: %d}\n", max)
	sw := startSwitch(t, o)
	addr := fmt.Sprintf("127.0.0.1:%d", sw.SIPPort) // the harness's TCP listener
	options := func(from string, n int) (net.Conn, string) {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "OPTIONS sip:dialtone SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK-cap%d\r\nMax-Forwards: 70\r\n"+
			"From: <sip:probe@dialtone>;tag=cap%d\r\nTo: <sip:dialtone>\r\nCall-ID: cap%d@%s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
			c.LocalAddr(), n, n, n, from)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return c, line
	}
	var conns []net.Conn
	for i := range max {
		c, line := options("127.0.0.1", i)
		if !strings.HasPrefix(line, "SIP/2.0 200") {
			t.Fatalf("OPTIONS on connection %d = %q, want 200", i+1, line)
		}
		conns = append(conns, c)
	}
	if _, line := options("127.0.0.1", max); line != "" {
		t.Errorf("connection %d from 127.0.0.1 answered %q, want it closed at accept", max+1, line)
	}
	if _, line := options("127.0.0.2", max+1); !strings.HasPrefix(line, "SIP/2.0 200") {
		t.Errorf("OPTIONS from 127.0.0.2 = %q, want 200: the cap is per address", line)
	}
	if got := sw.sample(`dialtone_guard_requests_dropped_total{transport="tcp",why="connections"}`); got != 1 {
		t.Errorf("connections refused = %v, want 1", got)
	}
	conns[0].Close()
	waitFor(t, 5*time.Second, func() bool {
		_, line := options("127.0.0.1", max+2)
		return strings.HasPrefix(line, "SIP/2.0 200")
	})
}
