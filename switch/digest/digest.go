// Package digest is the server side of SIP digest authentication
// (RFC 3261 section 22.4, RFC 7616, and RFC 8760 for SHA-256 in SIP).
//
// Only HA1 hashes are kept, never passwords. Nonces are stateless: each
// carries its issue time and an HMAC over it, so any node holding the same
// secret can check a nonce, and an authentic but expired nonce is reported
// as stale (RFC 7616 section 3.3, stale=true) so the client retries without
// asking the user again. A response may be replayed while its nonce lives;
// nonces are short-lived for that reason.
//
// Concurrency: a Server is immutable after New and safe for concurrent use.
package digest

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/icholy/digest"
)

// Algorithm is a digest hash algorithm.
type Algorithm string

const (
	MD5    Algorithm = "MD5"
	SHA256 Algorithm = "SHA-256"
)

// Errors of Verify. Missing and Stale call for a challenge; Malformed for
// 400; the others for 403.
var (
	ErrMissing     = errors.New("no credentials")
	ErrMalformed   = errors.New("malformed credentials")
	ErrStale       = errors.New("stale nonce")
	ErrBadNonce    = errors.New("nonce not issued by us")
	ErrRealm       = errors.New("wrong realm")
	ErrAlgorithm   = errors.New("unsupported algorithm")
	ErrUnknownUser = errors.New("unknown user")
	ErrBadPassword = errors.New("wrong password")
)

// HA1 is hex(H(username:realm:password)).
func HA1(alg Algorithm, username, realm, password string) string {
	return hexHash(newHash(alg), username+":"+realm+":"+password)
}

// Credentials are what the server knows of a user.
type Credentials struct {
	HA1MD5    string
	HA1SHA256 string
	Realm     string // the realm the hashes were made for
}

// Config configures a Server.
type Config struct {
	Realm    string
	Secret   []byte        // signs nonces; random when empty
	NonceTTL time.Duration // 5 minutes when zero
	// Algorithms are challenged in this order; [MD5, SHA-256] when empty.
	// Many deployed clients (sipp, older phones) answer only the first
	// challenge and know only MD5, so MD5 first is the compatible default;
	// put SHA-256 first where every client follows RFC 8760. (The browser
	// stacks JsSIP and SIP.js know only MD5 too but read the last challenge:
	// see ChallengeWith.)
	Algorithms []Algorithm
	Now        func() time.Time
}

// Server issues challenges and verifies credentials.
type Server struct {
	algs  []Algorithm
	realm string
	key   []byte
	ttl   time.Duration
	now   func() time.Time
}

// NewServer returns a Server for cfg.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Realm == "" {
		return nil, errors.New("digest: realm is empty")
	}
	key := cfg.Secret
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("digest: nonce key: %w", err)
		}
	}
	ttl := cfg.NonceTTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = []Algorithm{MD5, SHA256}
	}
	for _, a := range algs {
		if a != MD5 && a != SHA256 {
			return nil, fmt.Errorf("digest: %w %q", ErrAlgorithm, a)
		}
	}
	return &Server{algs: algs, realm: cfg.Realm, key: key, ttl: ttl, now: now}, nil
}

// Realm is the realm the server challenges for.
func (s *Server) Realm() string { return s.realm }

// Challenge returns the values of the WWW-Authenticate (or
// Proxy-Authenticate) headers to send, one per configured algorithm in
// order of preference (RFC 8760 section 2.4).
func (s *Server) Challenge(stale bool) []string {
	return s.ChallengeWith(stale, s.algs)
}

// ChallengeWith is Challenge with other algorithms than the configured
// ones, for clients known to read the challenges differently; Verify
// accepts an answer to any of them.
func (s *Server) ChallengeWith(stale bool, algs []Algorithm) []string {
	nonce := s.nonce(s.now())
	out := make([]string, 0, len(algs))
	for _, alg := range algs {
		c := digest.Challenge{Realm: s.realm, Nonce: nonce, Algorithm: string(alg), QOP: []string{"auth"}, Stale: stale}
		out = append(out, c.String())
	}
	return out
}

// nonce is base64url(8-byte unix nanoseconds || first 16 bytes of HMAC-SHA256).
func (s *Server) nonce(t time.Time) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixNano()))
	copy(b[8:], s.mac(b[:8]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) mac(ts []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(ts)
	m.Write([]byte(s.realm))
	return m.Sum(nil)[:16]
}

// checkNonce reports ErrBadNonce for a nonce we did not issue and ErrStale
// for one of ours that has expired.
func (s *Server) checkNonce(nonce string) error {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 24 {
		return ErrBadNonce
	}
	if !hmac.Equal(b[8:], s.mac(b[:8])) {
		return ErrBadNonce
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	age := s.now().Sub(issued)
	if age > s.ttl || age < -time.Minute {
		return ErrStale
	}
	return nil
}

// Verify checks the value of an Authorization or Proxy-Authorization
// header for a request with the given method. lookup returns the
// credentials of a username. On success it returns the username.
func (s *Server) Verify(method, authorization string, lookup func(username string) (Credentials, error)) (string, error) {
	if strings.TrimSpace(authorization) == "" {
		return "", ErrMissing
	}
	if !digest.IsDigest(authorization) {
		return "", fmt.Errorf("%w: not a Digest scheme", ErrMalformed)
	}
	cr, err := digest.ParseCredentials(authorization)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if cr.Username == "" || cr.Nonce == "" || cr.URI == "" || cr.Response == "" {
		return "", fmt.Errorf("%w: username, nonce, uri and response are required", ErrMalformed)
	}
	if cr.Realm != s.realm {
		return "", fmt.Errorf("%w: %q", ErrRealm, cr.Realm)
	}
	alg := Algorithm(strings.ToUpper(cr.Algorithm))
	if alg == "" {
		alg = MD5
	}
	if alg != MD5 && alg != SHA256 {
		return "", fmt.Errorf("%w: %q", ErrAlgorithm, cr.Algorithm)
	}
	qop := cr.QOP
	if qop != "" && qop != "auth" {
		return "", fmt.Errorf("%w: qop %q", ErrMalformed, qop)
	}
	if qop == "auth" && (cr.Cnonce == "" || cr.Nc == 0) {
		return "", fmt.Errorf("%w: qop=auth needs cnonce and nc", ErrMalformed)
	}
	if err := s.checkNonce(cr.Nonce); err != nil {
		return "", err
	}
	creds, err := lookup(cr.Username)
	if err != nil {
		// The hash work of a known user, so that the time taken does not
		// tell an unknown username from a wrong password.
		dummy := strings.Repeat("0", 2*newHash(alg).Size())
		_ = Response(alg, dummy, method, cr.URI, cr.Nonce, qop, fmt.Sprintf("%08x", cr.Nc), cr.Cnonce)
		return "", fmt.Errorf("%w %q: %v", ErrUnknownUser, cr.Username, err)
	}
	if creds.Realm != "" && creds.Realm != s.realm {
		return "", fmt.Errorf("%w: account %q was hashed for realm %q", ErrRealm, cr.Username, creds.Realm)
	}
	ha1 := creds.HA1MD5
	if alg == SHA256 {
		ha1 = creds.HA1SHA256
	}
	if ha1 == "" {
		return "", fmt.Errorf("%w: no %s hash for %q", ErrAlgorithm, alg, cr.Username)
	}
	want := Response(alg, ha1, method, cr.URI, cr.Nonce, qop, fmt.Sprintf("%08x", cr.Nc), cr.Cnonce)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(cr.Response)), []byte(want)) != 1 {
		return "", fmt.Errorf("%w for %q", ErrBadPassword, cr.Username)
	}
	return cr.Username, nil
}

// Response computes the request-digest of RFC 7616 section 3.4.1 from HA1.
// With an empty qop it is the RFC 2069 form H(HA1:nonce:HA2).
func Response(alg Algorithm, ha1, method, uri, nonce, qop, nc, cnonce string) string {
	h := newHash(alg)
	ha2 := hexHash(h, method+":"+uri)
	if qop == "" {
		return hexHash(h, ha1+":"+nonce+":"+ha2)
	}
	return hexHash(h, ha1+":"+nonce+":"+nc+":"+cnonce+":"+qop+":"+ha2)
}

func newHash(alg Algorithm) hash.Hash {
	if alg == SHA256 {
		return sha256.New()
	}
	return md5.New()
}

func hexHash(h hash.Hash, s string) string {
	h.Reset()
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}
