package digest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

// The address the test client sends from, and another one.
const (
	clientAddr = "192.0.2.10:5060"
	otherAddr  = "198.51.100.7:5060"
	testURI    = "sip:12125550100@127.0.0.1"
)

func newTestServer(tb testing.TB) (*Server, *fakeClock) {
	tb.Helper()
	clk := &fakeClock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	s, err := NewServer(Config{Realm: "dialtone", Secret: []byte("test-secret"), NonceTTL: time.Minute, Now: clk.Now, Algorithms: []Algorithm{SHA256, MD5}})
	if err != nil {
		tb.Fatal(err)
	}
	return s, clk
}

func lookupAlice(username string) (Credentials, error) {
	if username != "alice" {
		return Credentials{}, fmt.Errorf("%w: no such account", ErrUnknownUser)
	}
	return Credentials{
		HA1MD5:    HA1(MD5, "alice", "dialtone", "secret"),
		HA1SHA256: HA1(SHA256, "alice", "dialtone", "secret"),
		Realm:     "dialtone",
	}, nil
}

// reply is a client's answer to a challenge.
type reply struct {
	user, password, method, uri string
	nc                          int
}

// answer plays the client: it parses the challenge and computes
// credentials (alice's password, INVITE to testURI, nc 1 unless set).
func answer(tb testing.TB, chal string, r reply) string {
	tb.Helper()
	if r.user == "" {
		r.user, r.password = "alice", "secret"
	}
	if r.method == "" {
		r.method = "INVITE"
	}
	if r.uri == "" {
		r.uri = testURI
	}
	if r.nc == 0 {
		r.nc = 1
	}
	c, err := digest.ParseChallenge(chal)
	if err != nil {
		tb.Fatalf("ParseChallenge(%q) = %v", chal, err)
	}
	cr, err := digest.Digest(c, digest.Options{Username: r.user, Password: r.password, Method: r.method, URI: r.uri, Cnonce: "0a4f113b", Count: r.nc})
	if err != nil {
		tb.Fatalf("Digest = %v", err)
	}
	return cr.String()
}

// request is the request an answer comes with: INVITE to testURI from
// clientAddr unless set.
func request(tb testing.TB, method, uri, source string) Request {
	tb.Helper()
	if method == "" {
		method = "INVITE"
	}
	if uri == "" {
		uri = testURI
	}
	if source == "" {
		source = clientAddr
	}
	var u sip.Uri
	if err := sip.ParseUri(uri, &u); err != nil {
		tb.Fatalf("ParseUri(%q) = %v", uri, err)
	}
	return Request{Method: method, URI: u, Source: source}
}

func TestHA1KnownVectors(t *testing.T) {
	// RFC 7616 section 3.9.1: Mufasa / http-auth@example.org / Circle of Life.
	tests := []struct {
		alg  Algorithm
		want string
	}{
		{MD5, "3d78807defe7de2157e2b0b6573a855f"}, // md5sum of the same string
		{SHA256, "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"},
	}
	for _, tt := range tests {
		got := HA1(tt.alg, "Mufasa", "http-auth@example.org", "Circle of Life")
		if got != tt.want {
			t.Errorf("HA1(%s) = %s, want %s", tt.alg, got, tt.want)
		}
	}
	// RFC 7616 section 3.9.1 response for SHA-256.
	ha1 := HA1(SHA256, "Mufasa", "http-auth@example.org", "Circle of Life")
	got := Response(SHA256, ha1, "GET", "/dir/index.html", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "auth", "00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
	if want := "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"; got != want {
		t.Errorf("Response(SHA-256, RFC 7616 example) = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	s, _ := newTestServer(t)
	chals := s.Challenge(clientAddr, false)
	if len(chals) != 2 || !strings.Contains(chals[0], "SHA-256") || !strings.Contains(chals[1], "MD5") {
		t.Fatalf("Challenge() = %q, want SHA-256 then MD5", chals)
	}
	tests := []struct {
		name string
		chal string
		r    reply
		req  Request
		want error
	}{
		{"sha256 ok", s.Challenge(clientAddr, false)[0], reply{}, request(t, "", "", ""), nil},
		{"md5 ok", s.Challenge(clientAddr, false)[1], reply{method: "REGISTER", uri: "sip:127.0.0.1"}, request(t, "REGISTER", "sip:127.0.0.1", ""), nil},
		{"wrong password", chals[0], reply{user: "alice", password: "guess"}, request(t, "", "", ""), ErrBadPassword},
		{"unknown user", chals[1], reply{user: "mallory", password: "secret"}, request(t, "", "", ""), ErrUnknownUser},
		{"method mismatch", chals[1], reply{method: "REGISTER"}, request(t, "INVITE", "", ""), ErrBadPassword},
		{"other source", chals[0], reply{}, request(t, "", "", otherAddr), ErrBadNonce},
		{"same host other port", s.Challenge(clientAddr, false)[0], reply{}, request(t, "", "", "192.0.2.10:40000"), nil},
		{"uri mismatch", chals[0], reply{uri: "sip:14155550100@127.0.0.1"}, request(t, "", "", ""), ErrURI},
		{"uri of another number", chals[0], reply{}, request(t, "", "sip:14155550100@127.0.0.1", ""), ErrURI},
		{"uri equal as RFC 3261 URIs", s.Challenge(clientAddr, false)[0], reply{uri: "sip:12125550100@LOCALHOST;transport=udp;lr"}, request(t, "", "sip:%31%32125550100@localhost;lr;transport=UDP", ""), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := answer(t, tt.chal, tt.r)
			user, err := s.Verify(context.Background(), tt.req, h, lookupAlice)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%q) = %q, %v, want %v", h, user, err, tt.want)
			}
			if tt.want == nil && user != "alice" {
				t.Errorf("Verify(%q) user = %q, want alice", h, user)
			}
		})
	}
}

// TestVerifyNonceCount: each (nonce, nc) authorizes one request, in
// increasing nc order (RFC 7616 section 3.4 nc, Kamailio's nonce_count).
func TestVerifyNonceCount(t *testing.T) {
	s, _ := newTestServer(t)
	chal := s.Challenge(clientAddr, false)[1]
	steps := []struct {
		name string
		nc   int
		want error
	}{
		{"first use", 1, nil},
		{"replay same nc", 1, ErrReplay},
		{"higher nc", 3, nil},
		{"lower nc", 2, ErrReplay},
		{"same nc again", 3, ErrReplay},
		{"next nc", 4, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			h := answer(t, chal, reply{nc: st.nc})
			if _, err := s.Verify(context.Background(), request(t, "", "", ""), h, lookupAlice); !errors.Is(err, st.want) {
				t.Errorf("Verify(nc=%d) = %v, want %v", st.nc, err, st.want)
			}
		})
	}
	t.Run("a wrong answer uses no count", func(t *testing.T) {
		chal := s.Challenge(clientAddr, false)[1]
		bad := answer(t, chal, reply{user: "alice", password: "guess", nc: 9})
		if _, err := s.Verify(context.Background(), request(t, "", "", ""), bad, lookupAlice); !errors.Is(err, ErrBadPassword) {
			t.Fatalf("Verify(wrong password) = %v, want %v", err, ErrBadPassword)
		}
		good := answer(t, chal, reply{nc: 1})
		if _, err := s.Verify(context.Background(), request(t, "", "", ""), good, lookupAlice); err != nil {
			t.Errorf("Verify(nc=1 after a wrong nc=9) = %v, want nil", err)
		}
	})
}

func TestVerifyRejects(t *testing.T) {
	s, clk := newTestServer(t)
	good := answer(t, s.Challenge(clientAddr, false)[0], reply{})
	other, _ := NewServer(Config{Realm: "dialtone", Secret: []byte("another-node")})
	forged := answer(t, other.Challenge(clientAddr, false)[0], reply{})
	md5 := s.Challenge(clientAddr, false)[1]
	c, _ := digest.ParseChallenge(md5)
	c.QOP = nil // an RFC 2069 client ignores qop
	legacy, err := digest.Digest(c, digest.Options{Username: "alice", Password: "secret", Method: "INVITE", URI: testURI})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		hdr  string
		want error
	}{
		{"missing", "", ErrMissing},
		{"basic scheme", "Basic YWxpY2U6c2VjcmV0", ErrMalformed},
		{"garbage", "Digest ,,,=\"", ErrMalformed},
		{"no response", `Digest username="alice", realm="dialtone", nonce="x", uri="sip:a@b"`, ErrMalformed},
		{"no qop", legacy.String(), ErrNoQOP},
		{"qop auth-int", strings.Replace(good, "qop=auth", "qop=auth-int", 1), ErrMalformed},
		{"qop without nc", strings.Replace(good, "nc=00000001", "", 1), ErrMalformed},
		{"wrong realm", strings.Replace(good, `realm="dialtone"`, `realm="other"`, 1), ErrRealm},
		{"forged nonce", forged, ErrBadNonce},
		{"tampered nonce", strings.Replace(good, `nonce="`, `nonce="A`, 1), ErrBadNonce},
		{"md4", strings.Replace(good, "algorithm=SHA-256", "algorithm=MD4", 1), ErrAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Verify(context.Background(), request(t, "", "", ""), tt.hdr, lookupAlice); !errors.Is(err, tt.want) {
				t.Errorf("Verify(%q) = %v, want %v", tt.hdr, err, tt.want)
			}
		})
	}
	t.Run("expired is stale", func(t *testing.T) {
		clk.t = clk.t.Add(2 * time.Minute)
		if _, err := s.Verify(context.Background(), request(t, "", "", ""), good, lookupAlice); !errors.Is(err, ErrStale) {
			t.Errorf("Verify(expired nonce) = %v, want %v", err, ErrStale)
		}
		if _, err := s.Verify(context.Background(), request(t, "", "", otherAddr), good, lookupAlice); !errors.Is(err, ErrBadNonce) {
			t.Errorf("Verify(expired nonce from another address) = %v, want %v", err, ErrBadNonce)
		}
		if c := s.Challenge(clientAddr, true); !strings.Contains(strings.ToLower(c[0]), "stale=true") {
			t.Errorf("Challenge(stale) = %q, want stale=true", c[0])
		}
	})
}

// TestVerifyAcrossNodes: nodes sharing the secret and the nonce counts
// accept each other's nonces and refuse each other's replays; a node whose
// counts start empty (a restart with MemoryCounts) calls older nonces
// stale rather than risk a replay.
func TestVerifyAcrossNodes(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	shared := NewMemoryCounts(10, time.Minute, clk.Now)
	node := func() *Server {
		s, err := NewServer(Config{Realm: "dialtone", Secret: []byte("cluster"), NonceTTL: time.Minute, Now: clk.Now, Counts: shared})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := node(), node()
	h := answer(t, a.Challenge(clientAddr, false)[0], reply{})
	if _, err := b.Verify(context.Background(), request(t, "", "", ""), h, lookupAlice); err != nil {
		t.Fatalf("Verify on another node = %v, want nil", err)
	}
	if _, err := a.Verify(context.Background(), request(t, "", "", ""), h, lookupAlice); !errors.Is(err, ErrReplay) {
		t.Errorf("Verify(replay on the first node) = %v, want %v", err, ErrReplay)
	}
	h = answer(t, a.Challenge(clientAddr, false)[0], reply{})
	clk.t = clk.t.Add(time.Second)
	restarted, err := NewServer(Config{Realm: "dialtone", Secret: []byte("cluster"), NonceTTL: time.Minute, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restarted.Verify(context.Background(), request(t, "", "", ""), h, lookupAlice); !errors.Is(err, ErrStale) {
		t.Errorf("Verify(nonce from before a restart, counts in memory) = %v, want %v", err, ErrStale)
	}
}

// failingCounts is a NonceCounts whose store times out.
type failingCounts struct{}

func (failingCounts) Use(context.Context, string, uint32, time.Time) (bool, error) {
	return false, context.DeadlineExceeded
}

// TestVerifyServerFailures: a lookup failing other than with
// ErrUnknownUser, or nonce counts that cannot be kept, are the server's
// failures (ErrUnavailable), never an unknown user or a wrong password.
func TestVerifyServerFailures(t *testing.T) {
	s, err := NewServer(Config{Realm: "dialtone", Secret: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	down := func(string) (Credentials, error) { return Credentials{}, context.DeadlineExceeded }
	h := answer(t, s.Challenge(clientAddr, false)[0], reply{})
	if _, err := s.Verify(context.Background(), request(t, "", "", ""), h, down); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUnknownUser) {
		t.Errorf("Verify with the lookup timing out = %v, want %v alone", err, ErrUnavailable)
	}
	if _, err := s.Verify(context.Background(), request(t, "", "", ""), answer(t, s.Challenge(clientAddr, false)[0], reply{user: "mallory"}), lookupAlice); !errors.Is(err, ErrUnknownUser) || errors.Is(err, ErrUnavailable) {
		t.Errorf("Verify of an unknown user = %v, want %v", err, ErrUnknownUser)
	}
	f, err := NewServer(Config{Realm: "dialtone", Secret: []byte("k"), Counts: failingCounts{}})
	if err != nil {
		t.Fatal(err)
	}
	h = answer(t, f.Challenge(clientAddr, false)[0], reply{})
	if _, err := f.Verify(context.Background(), request(t, "", "", ""), h, lookupAlice); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Verify with the nonce counts timing out = %v, want %v", err, ErrUnavailable)
	}
}

func TestChallengeDefaultOrder(t *testing.T) {
	s, err := NewServer(Config{Realm: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Challenge(clientAddr, false); len(c) != 2 || !strings.Contains(c[0], "MD5") || !strings.Contains(c[1], "SHA-256") {
		t.Errorf("Challenge() = %q, want MD5 then SHA-256", c)
	}
	if _, err := NewServer(Config{Realm: "r", Algorithms: []Algorithm{"SHA-1"}}); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("NewServer(SHA-1) = %v, want %v", err, ErrAlgorithm)
	}
}

func TestSameURI(t *testing.T) {
	tests := []struct {
		digestURI, requestURI string
		want                  bool
	}{
		{"sip:12125550100@127.0.0.1", "sip:12125550100@127.0.0.1", true},
		{"sip:alice@EXAMPLE.com", "sip:alice@example.com", true},
		{"sip:%61lice@example.com", "sip:alice@example.com", true},
		{"sip:alice@example.com;transport=tcp;lr", "sip:alice@example.com;lr;transport=TCP", true},
		{"sip:alice@example.com;foo=1", "sip:alice@example.com", true}, // other params count only when in both
		{"sip:ALICE@example.com", "sip:alice@example.com", false},
		{"sip:alice@example.com", "sips:alice@example.com", false},
		{"sip:alice@example.com", "sip:alice@example.com:5060", false},
		{"sip:alice@example.com", "sip:alice@example.com;transport=ws", true}, // sipgo's answers drop the parameters
		{"sip:alice@example.com;transport=tcp", "sip:alice@example.com;transport=udp", false},
		{"sip:alice@example.com;foo=1", "sip:alice@example.com;foo=2", false},
		{"sip:alice@example.com?subject=x", "sip:alice@example.com", false},
		{"sip:bob@example.com", "sip:alice@example.com", false},
		{"tel:+12125550100", "tel:+12125550100", true},
		{"tel:+12125550100", "sip:+12125550100@example.com", false},
		{"not a uri", "sip:alice@example.com", false},
	}
	for _, tt := range tests {
		var u sip.Uri
		if err := sip.ParseUri(tt.requestURI, &u); err != nil {
			t.Fatalf("ParseUri(%q) = %v", tt.requestURI, err)
		}
		if got := sameURI(tt.digestURI, u); got != tt.want {
			t.Errorf("sameURI(%q, %q) = %v, want %v", tt.digestURI, tt.requestURI, got, tt.want)
		}
	}
}

// FuzzParseCredentials: the Authorization header parser never panics and
// what it accepts has every field Verify relies on.
func FuzzParseCredentials(f *testing.F) {
	f.Add(`Digest username="alice", realm="dialtone", nonce="abc", uri="sip:1@h", response="00", qop=auth, nc=00000001, cnonce="x"`)
	f.Add(`Digest username="\"", nc=zz`)
	f.Fuzz(func(t *testing.T, hdr string) {
		cr, err := parseCredentials(hdr)
		if err != nil {
			return
		}
		if cr.Username == "" || cr.Nonce == "" || cr.URI == "" || cr.Response == "" || cr.QOP != "auth" || cr.Cnonce == "" || cr.Nc <= 0 {
			t.Errorf("parseCredentials(%q) = %+v, nil; want every field set", hdr, cr)
		}
	})
}

// FuzzDecodeNonce: the nonce decoder never panics, takes only canonical
// 32-byte nonces, and checkNonce accepts only a MAC we made.
func FuzzDecodeNonce(f *testing.F) {
	s, clk := newTestServer(f)
	f.Add(s.nonce(clk.t, clientAddr))
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("not base64!")
	f.Fuzz(func(t *testing.T, nonce string) {
		b, issued, err := decodeNonce(nonce)
		if err != nil {
			return
		}
		if got := base64.RawURLEncoding.EncodeToString(b[:]); got != nonce {
			t.Errorf("decodeNonce(%q) = %x, which encodes to %q", nonce, b, got)
		}
		if want := time.Unix(0, int64(binary.BigEndian.Uint64(b[:8]))); !issued.Equal(want) {
			t.Errorf("decodeNonce(%q) issued = %v, want %v", nonce, issued, want)
		}
		if _, err := s.checkNonce(nonce, clientAddr); err == nil {
			var mac [nonceMACLen]byte
			s.mac(mac[:], b[:nonceBodyLen], clientAddr)
			if !bytes.Equal(mac[:], b[nonceBodyLen:]) {
				t.Errorf("checkNonce(%q) = nil for a nonce we did not issue", nonce)
			}
		}
	})
}

// FuzzVerify: Verify never panics, and an answer it accepts is refused
// when sent again. "NONCE" in the header stands for a nonce issued to
// source, so that the fuzzer reaches the checks past the nonce.
func FuzzVerify(f *testing.F) {
	s, clk := newTestServer(f)
	valid := answer(f, s.Challenge(clientAddr, false)[1], reply{})
	f.Add("INVITE", testURI, clientAddr, valid)
	f.Add("INVITE", testURI, clientAddr, `Digest username="alice", realm="dialtone", nonce="NONCE", uri="sip:1@h", response="00", qop=auth, nc=00000001, cnonce="x"`)
	f.Add("REGISTER", "sip:127.0.0.1", otherAddr, "Digest ")
	f.Add("INVITE", "sip:1@h", "[::1]:5060", `Digest username="\"", nc=zz`)
	f.Fuzz(func(t *testing.T, method, uri, source, hdr string) {
		var u sip.Uri
		if sip.ParseUri(uri, &u) != nil {
			return
		}
		s, err := NewServer(Config{Realm: "dialtone", Secret: []byte("test-secret"), NonceTTL: time.Minute, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		hdr = strings.ReplaceAll(hdr, "NONCE", s.nonce(clk.t, source))
		r := Request{Method: method, URI: u, Source: source}
		if _, err := s.Verify(context.Background(), r, hdr, lookupAlice); err != nil {
			return
		}
		if _, err := s.Verify(context.Background(), r, hdr, lookupAlice); !errors.Is(err, ErrReplay) {
			t.Errorf("Verify(%q) twice = %v the second time, want %v", hdr, err, ErrReplay)
		}
	})
}

// BenchmarkVerify verifies a fresh answer each time, as each call brings
// one; making the answer is not timed.
func BenchmarkVerify(b *testing.B) {
	s, err := NewServer(Config{Realm: "dialtone", Secret: []byte("k")})
	if err != nil {
		b.Fatal(err)
	}
	r := request(b, "", "", "")
	c, _ := digest.ParseChallenge(s.Challenge(clientAddr, false)[0])
	answers := make([]string, b.N)
	for i := range answers {
		c.Nonce = s.nonce(time.Now(), clientAddr)
		cr, _ := digest.Digest(c, digest.Options{Username: "alice", Password: "secret", Method: "INVITE", URI: testURI, Cnonce: "c", Count: 1})
		answers[i] = cr.String()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Verify(context.Background(), r, answers[i], lookupAlice); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMemoryCounts: bounded, expiring with the nonces, and failing closed
// when it has dropped a nonce it may be asked about again.
func TestMemoryCounts(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	m := NewMemoryCounts(2, time.Minute, clk.Now)
	at := func(sec int) time.Time { return clk.t.Add(time.Minute + time.Duration(sec)*time.Second) }
	steps := []struct {
		name    string
		nonce   string
		nc      uint32
		expires time.Time
		wantOK  bool
		wantErr error
	}{
		{"first", "n1", 1, at(1), true, nil},
		{"second", "n2", 1, at(2), true, nil},
		{"replay", "n1", 1, at(1), false, nil},
		{"third evicts the soonest to expire", "n3", 1, at(3), true, nil},
		{"evicted is stale, not new", "n1", 2, at(1), false, ErrStale},
		{"unknown older than the evicted is stale", "n0", 1, at(0), false, ErrStale},
		{"kept", "n2", 2, at(2), true, nil},
		{"issued before the store is stale", "old", 1, clk.t.Add(time.Minute - time.Second), false, ErrStale},
		{"expired is stale", "n9", 1, clk.t, false, ErrStale},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			ok, err := m.Use(context.Background(), st.nonce, st.nc, st.expires)
			if ok != st.wantOK || !errors.Is(err, st.wantErr) {
				t.Errorf("Use(%q, %d) = %v, %v, want %v, %v", st.nonce, st.nc, ok, err, st.wantOK, st.wantErr)
			}
			if m.Len() > 2 {
				t.Errorf("Len() = %d, want at most 2", m.Len())
			}
		})
	}
	t.Run("entries expire with their nonce", func(t *testing.T) {
		clk.t = at(10)
		if ok, err := m.Use(context.Background(), "n4", 1, at(70)); !ok || err != nil {
			t.Fatalf("Use(n4) = %v, %v, want true, nil", ok, err)
		}
		if m.Len() != 1 {
			t.Errorf("Len() = %d after the others expired, want 1", m.Len())
		}
	})
}

// TestVerifyEvictionFailsClosed: an answer whose nonce the counts dropped
// is stale, never accepted again.
func TestVerifyEvictionFailsClosed(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	s, err := NewServer(Config{Realm: "dialtone", Secret: []byte("k"), NonceTTL: time.Minute, Now: clk.Now, Counts: NewMemoryCounts(1, time.Minute, clk.Now)})
	if err != nil {
		t.Fatal(err)
	}
	first := answer(t, s.Challenge(clientAddr, false)[0], reply{})
	clk.t = clk.t.Add(time.Second)
	second := answer(t, s.Challenge(clientAddr, false)[0], reply{})
	for _, h := range []string{first, second} {
		if _, err := s.Verify(context.Background(), request(t, "", "", ""), h, lookupAlice); err != nil {
			t.Fatalf("Verify(%q) = %v, want nil", h, err)
		}
	}
	if _, err := s.Verify(context.Background(), request(t, "", "", ""), first, lookupAlice); !errors.Is(err, ErrStale) {
		t.Errorf("Verify(replay of an evicted nonce) = %v, want %v", err, ErrStale)
	}
	if _, err := s.Verify(context.Background(), request(t, "", "", ""), second, lookupAlice); !errors.Is(err, ErrReplay) {
		t.Errorf("Verify(replay of a kept nonce) = %v, want %v", err, ErrReplay)
	}
}
