// Package digest is the server side of SIP digest authentication
// (RFC 3261 section 22.4, RFC 7616, and RFC 8760 for SHA-256 in SIP).
//
// Only HA1 hashes are kept, never passwords. Nonces are stateless: each
// carries its issue time and an HMAC over it, the realm and the address it
// was issued to, so any node holding the same secret can check a nonce
// (after a restart too), a nonce answered from another address is refused,
// and an authentic but expired nonce is reported as stale (RFC 7616
// section 3.3, stale=true) so the client retries without asking the user
// again. Against replay, an answer must use qop=auth, its digest-uri must
// be the Request-URI, and each nonce count (nc) of a nonce authorizes one
// request: the counts used are kept in a NonceCounts, shared by every
// node that shares the secret.
//
// Concurrency: a Server is immutable after New and safe for concurrent
// use; its NonceCounts must be too.
package digest

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Algorithm is a digest hash algorithm.
type Algorithm string

const (
	MD5    Algorithm = "MD5"
	SHA256 Algorithm = "SHA-256"
)

// Errors of Verify. Missing and Stale call for a challenge (Stale with
// stale=true); NoQOP, BadNonce and Replay for a fresh challenge too, as
// failed attempts (Replay with stale=true: an honest client that sent two
// requests at once retries); Malformed for 400; the others for 403.
var (
	ErrMissing     = errors.New("no credentials")
	ErrMalformed   = errors.New("malformed credentials")
	ErrStale       = errors.New("stale nonce")
	ErrNoQOP       = errors.New("answer without qop=auth")
	ErrBadNonce    = errors.New("nonce not issued by us to this address")
	ErrReplay      = errors.New("nonce count already used")
	ErrURI         = errors.New("digest uri is not the Request-URI")
	ErrRealm       = errors.New("wrong realm")
	ErrAlgorithm   = errors.New("unsupported algorithm")
	ErrUnknownUser = errors.New("unknown user")
	ErrBadPassword = errors.New("wrong password")
	// ErrUnavailable is the server's failure, not the client's: a lookup
	// that failed other than with ErrUnknownUser, or nonce counts that
	// could not be kept (a store timing out).
	ErrUnavailable = errors.New("credentials unavailable")
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
	// Counts keeps the nonce counts used; a MemoryCounts of
	// DefaultMaxNonces when nil. Nodes sharing Secret must share it.
	Counts NonceCounts
	Now    func() time.Time
}

// Request is what Verify needs of the request an answer came with.
type Request struct {
	Method string
	URI    sip.Uri // the Request-URI
	// Source is the address the request came from ("host:port" or
	// "host"); the nonce is bound to its host, as in Challenge.
	Source string
}

// Server issues challenges and verifies credentials.
type Server struct {
	algs   []Algorithm
	realm  string
	key    []byte
	ttl    time.Duration
	counts NonceCounts
	now    func() time.Time
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
	counts := cfg.Counts
	if counts == nil {
		counts = NewMemoryCounts(DefaultMaxNonces, ttl, now)
	}
	return &Server{algs: algs, realm: cfg.Realm, key: key, ttl: ttl, counts: counts, now: now}, nil
}

// Realm is the realm the server challenges for.
func (s *Server) Realm() string { return s.realm }

// Challenge returns the values of the WWW-Authenticate (or
// Proxy-Authenticate) headers to send to a request from source, one per
// configured algorithm in order of preference (RFC 8760 section 2.4). They
// share one nonce, good for answers from source's host only.
func (s *Server) Challenge(source string, stale bool) []string {
	return s.ChallengeWith(source, stale, s.algs)
}

// ChallengeWith is Challenge with other algorithms than the configured
// ones, for clients known to read the challenges differently; Verify
// accepts an answer to any of them.
func (s *Server) ChallengeWith(source string, stale bool, algs []Algorithm) []string {
	nonce := s.nonce(s.now(), source)
	out := make([]string, 0, len(algs))
	for _, alg := range algs {
		c := digest.Challenge{Realm: s.realm, Nonce: nonce, Algorithm: string(alg), QOP: []string{"auth"}, Stale: stale}
		out = append(out, c.String())
	}
	return out
}

// Verify checks authorization, the value of an Authorization or
// Proxy-Authorization header, for the request r. lookup returns the
// credentials of a username, or an error wrapping ErrUnknownUser when it
// has none (any other error of lookup is the server's: ErrUnavailable).
// On success it returns the username and has used up the answer's nonce
// count.
//
// The checks run from the cheapest to the one that changes state: the
// answer's form (qop=auth), realm and algorithm; the nonce (ours, issued
// to r.Source, not expired); the digest-uri against r.URI; the password;
// and last the nonce count, so that only a correct answer can use one.
func (s *Server) Verify(ctx context.Context, r Request, authorization string, lookup func(username string) (Credentials, error)) (string, error) {
	cr, err := parseCredentials(authorization)
	if err != nil {
		return "", err
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
	expires, err := s.checkNonce(cr.Nonce, r.Source)
	if err != nil {
		return "", err
	}
	if !sameURI(cr.URI, r.URI) {
		return "", fmt.Errorf("%w: %q for %q", ErrURI, cr.URI, r.URI.String())
	}
	creds, err := lookup(cr.Username)
	if err != nil {
		// The hash work of a known user, so that the time taken does not
		// tell an unknown username from a wrong password.
		dummy := strings.Repeat("0", 2*newHash(alg).Size())
		_ = Response(alg, dummy, r.Method, cr.URI, cr.Nonce, cr.QOP, fmt.Sprintf("%08x", cr.Nc), cr.Cnonce)
		if errors.Is(err, ErrUnknownUser) {
			return "", fmt.Errorf("%q: %w", cr.Username, err)
		}
		return "", fmt.Errorf("%w: look up %q: %w", ErrUnavailable, cr.Username, err)
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
	want := Response(alg, ha1, r.Method, cr.URI, cr.Nonce, cr.QOP, fmt.Sprintf("%08x", cr.Nc), cr.Cnonce)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(cr.Response)), []byte(want)) != 1 {
		return "", fmt.Errorf("%w for %q", ErrBadPassword, cr.Username)
	}
	ok, err := s.counts.Use(ctx, cr.Nonce, uint32(cr.Nc), expires)
	switch {
	case errors.Is(err, ErrStale):
		return "", err
	case err != nil:
		return "", fmt.Errorf("%w: use nonce count of %q: %w", ErrUnavailable, cr.Username, err)
	case !ok:
		return "", fmt.Errorf("%w: nc %08x by %q", ErrReplay, cr.Nc, cr.Username)
	}
	return cr.Username, nil
}

// parseCredentials parses the value of an Authorization header and checks
// that it is a qop=auth answer (RFC 7616 section 3.4) with every field
// Verify needs.
func parseCredentials(authorization string) (*digest.Credentials, error) {
	if strings.TrimSpace(authorization) == "" {
		return nil, ErrMissing
	}
	if !digest.IsDigest(authorization) {
		return nil, fmt.Errorf("%w: not a Digest scheme", ErrMalformed)
	}
	cr, err := digest.ParseCredentials(authorization)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if cr.Username == "" || cr.Nonce == "" || cr.URI == "" || cr.Response == "" {
		return nil, fmt.Errorf("%w: username, nonce, uri and response are required", ErrMalformed)
	}
	switch {
	case cr.QOP == "":
		// RFC 2069 answers have no nonce count, so nothing tells a replay.
		return nil, ErrNoQOP
	case cr.QOP != "auth":
		return nil, fmt.Errorf("%w: qop %q", ErrMalformed, cr.QOP)
	case cr.Cnonce == "" || cr.Nc <= 0:
		return nil, fmt.Errorf("%w: qop=auth needs cnonce and nc", ErrMalformed)
	}
	return cr, nil
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
