package digest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func newTestServer(t *testing.T) (*Server, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	s, err := NewServer(Config{Realm: "dialtone", Secret: []byte("test-secret"), NonceTTL: time.Minute, Now: clk.Now, Algorithms: []Algorithm{SHA256, MD5}})
	if err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func lookupAlice(username string) (Credentials, error) {
	if username != "alice" {
		return Credentials{}, errors.New("no such account")
	}
	return Credentials{
		HA1MD5:    HA1(MD5, "alice", "dialtone", "secret"),
		HA1SHA256: HA1(SHA256, "alice", "dialtone", "secret"),
		Realm:     "dialtone",
	}, nil
}

// answer plays the client: it parses challenge i and computes credentials.
func answer(t *testing.T, chal, user, password, method string) string {
	t.Helper()
	c, err := digest.ParseChallenge(chal)
	if err != nil {
		t.Fatalf("ParseChallenge(%q) = %v", chal, err)
	}
	cr, err := digest.Digest(c, digest.Options{Username: user, Password: password, Method: method, URI: "sip:12125550100@127.0.0.1", Cnonce: "0a4f113b", Count: 1})
	if err != nil {
		t.Fatalf("Digest = %v", err)
	}
	return cr.String()
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
	chals := s.Challenge(false)
	if len(chals) != 2 || !strings.Contains(chals[0], "SHA-256") || !strings.Contains(chals[1], "MD5") {
		t.Fatalf("Challenge() = %q, want SHA-256 then MD5", chals)
	}
	tests := []struct {
		name     string
		chal     string
		user, pw string
		method   string
		verifyAs string
		want     error
	}{
		{"sha256 ok", chals[0], "alice", "secret", "INVITE", "INVITE", nil},
		{"md5 ok", chals[1], "alice", "secret", "REGISTER", "REGISTER", nil},
		{"wrong password", chals[0], "alice", "guess", "INVITE", "INVITE", ErrBadPassword},
		{"unknown user", chals[1], "mallory", "secret", "INVITE", "INVITE", ErrUnknownUser},
		{"method mismatch", chals[1], "alice", "secret", "REGISTER", "INVITE", ErrBadPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := answer(t, tt.chal, tt.user, tt.pw, tt.method)
			user, err := s.Verify(tt.verifyAs, h, lookupAlice)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%q) = %q, %v, want %v", h, user, err, tt.want)
			}
			if tt.want == nil && user != tt.user {
				t.Errorf("Verify user = %q, want %q", user, tt.user)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	s, clk := newTestServer(t)
	good := answer(t, s.Challenge(false)[0], "alice", "secret", "INVITE")
	other, _ := NewServer(Config{Realm: "dialtone", Secret: []byte("another-node")})
	forged := answer(t, other.Challenge(false)[0], "alice", "secret", "INVITE")
	tests := []struct {
		name string
		hdr  string
		want error
	}{
		{"missing", "", ErrMissing},
		{"basic scheme", "Basic YWxpY2U6c2VjcmV0", ErrMalformed},
		{"garbage", "Digest ,,,=\"", ErrMalformed},
		{"no response", `Digest username="alice", realm="dialtone", nonce="x", uri="sip:a@b"`, ErrMalformed},
		{"wrong realm", strings.Replace(good, `realm="dialtone"`, `realm="other"`, 1), ErrRealm},
		{"forged nonce", forged, ErrBadNonce},
		{"tampered nonce", strings.Replace(good, `nonce="`, `nonce="A`, 1), ErrBadNonce},
		{"md4", strings.Replace(good, "algorithm=SHA-256", "algorithm=MD4", 1), ErrAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Verify("INVITE", tt.hdr, lookupAlice); !errors.Is(err, tt.want) {
				t.Errorf("Verify(%q) = %v, want %v", tt.hdr, err, tt.want)
			}
		})
	}
	t.Run("stale", func(t *testing.T) {
		clk.t = clk.t.Add(2 * time.Minute)
		if _, err := s.Verify("INVITE", good, lookupAlice); !errors.Is(err, ErrStale) {
			t.Errorf("Verify(expired nonce) = %v, want %v", err, ErrStale)
		}
		if c := s.Challenge(true); !strings.Contains(strings.ToLower(c[0]), "stale=true") {
			t.Errorf("Challenge(stale) = %q, want stale=true", c[0])
		}
	})
}

func TestChallengeDefaultOrder(t *testing.T) {
	s, err := NewServer(Config{Realm: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Challenge(false); len(c) != 2 || !strings.Contains(c[0], "MD5") || !strings.Contains(c[1], "SHA-256") {
		t.Errorf("Challenge() = %q, want MD5 then SHA-256", c)
	}
	if _, err := NewServer(Config{Realm: "r", Algorithms: []Algorithm{"SHA-1"}}); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("NewServer(SHA-1) = %v, want %v", err, ErrAlgorithm)
	}
}

func TestVerifyLegacyNoQOP(t *testing.T) {
	s, _ := newTestServer(t)
	c, _ := digest.ParseChallenge(s.Challenge(false)[1])
	c.QOP = nil // an RFC 2069 client ignores qop
	cr, err := digest.Digest(c, digest.Options{Username: "alice", Password: "secret", Method: "INVITE", URI: "sip:1@h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify("INVITE", cr.String(), lookupAlice); err != nil {
		t.Errorf("Verify(RFC 2069 form) = %v, want nil", err)
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := newTestServer(&testing.T{})
	f.Add("INVITE", `Digest username="alice", realm="dialtone", nonce="abc", uri="sip:1@h", response="00", qop=auth, nc=00000001, cnonce="x"`)
	f.Add("REGISTER", "Digest ")
	f.Add("INVITE", `Digest username="\"", nc=zz`)
	f.Fuzz(func(t *testing.T, method, hdr string) {
		_, _ = s.Verify(method, hdr, lookupAlice)
	})
}

func BenchmarkVerify(b *testing.B) {
	s, err := NewServer(Config{Realm: "dialtone", Secret: []byte("k")})
	if err != nil {
		b.Fatal(err)
	}
	c, _ := digest.ParseChallenge(s.Challenge(false)[0])
	cr, _ := digest.Digest(c, digest.Options{Username: "alice", Password: "secret", Method: "INVITE", URI: "sip:1@h", Cnonce: "c", Count: 1})
	h := cr.String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify("INVITE", h, lookupAlice); err != nil {
			b.Fatal(err)
		}
	}
}
