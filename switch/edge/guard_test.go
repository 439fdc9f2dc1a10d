package edge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/switch/digest"
	"github.com/dialtone/dialtone/switch/guard"
)

type noCalls struct{}

func (noCalls) HandleInvite(*dialtone.Account, *sip.Request, sip.ServerTransaction) {}
func (noCalls) HandleAck(*sip.Request, sip.ServerTransaction)                       {}
func (noCalls) HandleBye(*sip.Request, sip.ServerTransaction)                       {}

// phone is a UDP socket that sends hand-written REGISTERs to an edge.
type phone struct {
	tb   testing.TB
	conn net.PacketConn
	to   net.Addr
	seq  int
	// header is one more header line ("Name: value") for every request.
	header string

	devices *memDevices // the edge's
}

// startEdge serves an edge with one account, alice (password secret), on
// a UDP socket of 127.0.0.1, guarded by g.
func startEdge(tb testing.TB, g *guard.Guard) *phone {
	tb.Helper()
	return startEdgeWith(tb, g, Config{Realm: "dialtone", MaxExpires: 3600})
}

// startEdgeWith is startEdge with the edge's configuration.
func startEdgeWith(tb testing.TB, g *guard.Guard, cfg Config) *phone {
	tb.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, ua, devices := newAliceEdge(tb, cfg, g, log)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	e.Serve([]Listener{{Transport: "udp", Packet: pc}})
	tb.Cleanup(func() { e.Close(); ua.Close() })
	p := newPhone(tb, "127.0.0.1", pc.LocalAddr())
	p.devices = devices
	return p
}

// newPhone binds a phone's socket on ip, sending to the edge at to.
func newPhone(tb testing.TB, ip string, to net.Addr) *phone {
	tb.Helper()
	conn, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &phone{tb: tb, conn: conn, to: to}
}

// register sends a REGISTER for user, answering nonce with password
// when nonce is set, and returns the response, or nil when none came
// within wait.
func (p *phone) register(user, password, nonce string, wait time.Duration) *sip.Response {
	p.tb.Helper()
	p.seq++
	local := p.conn.LocalAddr().String()
	var b strings.Builder
	fmt.Fprintf(&b, "REGISTER sip:dialtone SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-%d\r\nMax-Forwards: 70\r\n", local, p.seq)
	fmt.Fprintf(&b, "From: <sip:%s@dialtone>;tag=t%d\r\nTo: <sip:%s@dialtone>\r\nCall-ID: c%d@test\r\nCSeq: 1 REGISTER\r\n", user, p.seq, user, p.seq)
	fmt.Fprintf(&b, "Contact: <sip:%s@%s>\r\n", user, local)
	if p.header != "" {
		b.WriteString(p.header + "\r\n")
	}
	if nonce != "" {
		ha1 := digest.HA1(digest.MD5, user, "dialtone", password)
		res := digest.Response(digest.MD5, ha1, "REGISTER", "sip:dialtone", nonce, "auth", "00000001", "abc")
		fmt.Fprintf(&b, "Authorization: Digest username=%q, realm=\"dialtone\", nonce=%q, uri=\"sip:dialtone\", response=%q, algorithm=MD5, qop=auth, nc=00000001, cnonce=\"abc\"\r\n", user, nonce, res)
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	if _, err := p.conn.WriteTo([]byte(b.String()), p.to); err != nil {
		p.tb.Fatal(err)
	}
	buf := make([]byte, 4096)
	p.conn.SetReadDeadline(time.Now().Add(wait))
	n, _, err := p.conn.ReadFrom(buf)
	if err != nil {
		return nil
	}
	msg, err := sip.ParseMessage(buf[:n])
	if err != nil {
		p.tb.Fatalf("parse response: %v", err)
	}
	return msg.(*sip.Response)
}

// nonce registers without credentials and returns the challenge's nonce.
func (p *phone) nonce(user string) string {
	p.tb.Helper()
	res := p.register(user, "", "", 5*time.Second)
	if res == nil || res.StatusCode != 401 {
		p.tb.Fatalf("REGISTER without credentials = %v, want 401", res)
	}
	h := res.GetHeader("WWW-Authenticate").Value()
	_, rest, _ := strings.Cut(h, `nonce="`)
	nonce, _, _ := strings.Cut(rest, `"`)
	return nonce
}

func newTestGuard(tb testing.TB, cfg guard.Config) *guard.Guard {
	tb.Helper()
	g, err := guard.New(cfg, guard.NewMemoryStore(), nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { g.Close() })
	return g
}

// headerNames lists a response's header names but those that differ by
// request (Via, From, To, Call-ID, CSeq).
func headerNames(res *sip.Response) string {
	var names []string
	for _, h := range res.Headers() {
		switch strings.ToLower(h.Name()) {
		case "via", "from", "to", "call-id", "cseq":
		default:
			names = append(names, h.Name())
		}
	}
	return strings.Join(names, ",")
}

func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	p := startEdge(t, newTestGuard(t, guard.Defaults()))
	challengeKnown := p.register("alice", "", "", 5*time.Second)
	challengeUnknown := p.register("mallory", "", "", 5*time.Second)
	if challengeKnown.StatusCode != challengeUnknown.StatusCode || headerNames(challengeKnown) != headerNames(challengeUnknown) {
		t.Errorf("challenge for alice = %d %s, for an unknown user = %d %s, want the same", challengeKnown.StatusCode, headerNames(challengeKnown), challengeUnknown.StatusCode, headerNames(challengeUnknown))
	}
	wrong := p.register("alice", "guess", p.nonce("alice"), 5*time.Second)
	unknown := p.register("mallory", "guess", p.nonce("mallory"), 5*time.Second)
	if wrong.StatusCode != 403 || unknown.StatusCode != 403 || wrong.Reason != unknown.Reason || headerNames(wrong) != headerNames(unknown) {
		t.Errorf("wrong password = %d %q %s, unknown user = %d %q %s, want the same 403", wrong.StatusCode, wrong.Reason, headerNames(wrong), unknown.StatusCode, unknown.Reason, headerNames(unknown))
	}
	if ok := p.register("alice", "secret", p.nonce("alice"), 5*time.Second); ok.StatusCode != 200 {
		t.Errorf("REGISTER with the right password = %d, want 200", ok.StatusCode)
	}
}

func TestBannedSourceGetsNoAnswer(t *testing.T) {
	cfg := guard.Defaults()
	cfg.Failures = 3
	g := newTestGuard(t, cfg)
	p := startEdge(t, g)
	for i := range cfg.Failures {
		if res := p.register("alice", "guess", p.nonce("alice"), 5*time.Second); res == nil || res.StatusCode != 403 {
			t.Fatalf("wrong password #%d = %v, want 403", i+1, res)
		}
	}
	if len(g.Bans()) != 1 {
		t.Fatalf("Bans() = %v after %d wrong passwords, want one", g.Bans(), cfg.Failures)
	}
	// The right password gets nothing while banned, not even a challenge.
	if res := p.register("alice", "", "", 300*time.Millisecond); res != nil {
		t.Errorf("REGISTER from a banned source = %d, want no answer", res.StatusCode)
	}
	for _, b := range g.Bans() {
		g.Unban(b.Addr)
	}
	if res := p.register("alice", "secret", p.nonce("alice"), 5*time.Second); res == nil || res.StatusCode != 200 {
		t.Errorf("REGISTER with the right password after unban = %v, want 200", res)
	}
}

// TestStoreFailureIsNoGuess: while the credentials store fails (a
// timeout under load), right answers get 503 with Retry-After and count
// as no failure of their source, however many there are; once the store
// is back, the same source registers.
func TestStoreFailureIsNoGuess(t *testing.T) {
	cfg := guard.Defaults()
	cfg.Failures = 3
	g := newTestGuard(t, cfg)
	p := startEdge(t, g)
	p.devices.mu.Lock()
	p.devices.fail = fmt.Errorf("device by username: %w", context.DeadlineExceeded)
	p.devices.mu.Unlock()
	for i := range 3 * cfg.Failures {
		res := p.register("alice", "secret", p.nonce("alice"), 5*time.Second)
		if res == nil || res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
			t.Fatalf("REGISTER #%d while the store fails = %v, want 503 with Retry-After", i+1, res)
		}
	}
	if bans := g.Bans(); len(bans) != 0 {
		t.Fatalf("Bans() = %v after the store's failures, want none", bans)
	}
	p.devices.mu.Lock()
	p.devices.fail = nil
	p.devices.mu.Unlock()
	if res := p.register("alice", "secret", p.nonce("alice"), 5*time.Second); res == nil || res.StatusCode != 200 {
		t.Errorf("REGISTER once the store is back = %v, want 200", res)
	}
	// A wrong password still counts.
	for range cfg.Failures {
		p.register("alice", "guess", p.nonce("alice"), 5*time.Second)
	}
	if len(g.Bans()) != 1 {
		t.Errorf("Bans() = %v after %d wrong passwords, want one", g.Bans(), cfg.Failures)
	}
}

// newAliceEdge is an edge with one account, alice, whose device alice has
// the password secret, guarded by g, in realm dialtone.
func newAliceEdge(tb testing.TB, cfg Config, g *guard.Guard, log *slog.Logger) (*Edge, *sipgo.UserAgent, *memDevices) {
	tb.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		tb.Fatal(err)
	}
	auth, err := digest.NewServer(digest.Config{Realm: "dialtone", Algorithms: []digest.Algorithm{digest.MD5}})
	if err != nil {
		tb.Fatal(err)
	}
	accounts := &countingAccounts{acct: &dialtone.Account{ID: 1, Username: "alice", Realm: "dialtone", Status: dialtone.AccountActive}}
	devices := newMemDevices(&dialtone.Device{ID: 1, AccountID: 1, Account: "alice", Username: "alice", Realm: "dialtone",
		HA1MD5: digest.HA1(digest.MD5, "alice", "dialtone", "secret"), HA1SHA256: digest.HA1(digest.SHA256, "alice", "dialtone", "secret")})
	cfg.Realm = "dialtone"
	return New(cfg, srv, auth, NewCredentials(accounts, devices, "dialtone", testAppKey, time.Hour), noCalls{}, NewRegistrar(), g, log), ua, devices
}
