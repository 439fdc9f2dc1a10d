package digest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"time"
)

// A nonce is base64url(8-byte issue time in unix nanoseconds || 8 random
// bytes || the first 16 bytes of HMAC-SHA256(secret, the first 16 bytes ||
// realm || source IP)). The random bytes make each challenge's nonce its
// own, which the nonce counts rely on. The source IP is signed but not
// carried: a nonce answered from another address fails the HMAC as if
// forged (RFC 7616 section 5.5 leaves the nonce's contents to the server;
// binding it to the client's address is a suggestion of RFC 7616 section
// 3.3).
const (
	nonceTimeLen = 8
	nonceSeedLen = 8
	nonceMACLen  = 16
	nonceBodyLen = nonceTimeLen + nonceSeedLen
	nonceLen     = nonceBodyLen + nonceMACLen
)

var errNonceShape = errors.New("nonce is not base64url of 32 bytes")

// nonce returns a fresh nonce issued at t to source.
func (s *Server) nonce(t time.Time, source string) string {
	var b [nonceLen]byte
	binary.BigEndian.PutUint64(b[:nonceTimeLen], uint64(t.UnixNano()))
	_, _ = rand.Read(b[nonceTimeLen:nonceBodyLen]) // never fails (crypto/rand)
	s.mac(b[nonceBodyLen:], b[:nonceBodyLen], source)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// mac writes the MAC of a nonce's body issued to source to dst.
func (s *Server) mac(dst, body []byte, source string) {
	m := hmac.New(sha256.New, s.key)
	m.Write(body)
	m.Write([]byte(s.realm))
	m.Write(sourceIP(source))
	var sum [sha256.Size]byte
	copy(dst, m.Sum(sum[:0]))
}

// decodeNonce decodes a nonce and reads its issue time, without checking
// its MAC.
func decodeNonce(nonce string) (b [nonceLen]byte, issued time.Time, err error) {
	if base64.RawURLEncoding.DecodedLen(len(nonce)) != nonceLen {
		return b, time.Time{}, errNonceShape
	}
	if n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(nonce)); err != nil || n != nonceLen {
		return b, time.Time{}, errNonceShape
	}
	return b, time.Unix(0, int64(binary.BigEndian.Uint64(b[:nonceTimeLen]))), nil
}

// checkNonce returns when a nonce expires. It reports ErrBadNonce for a
// nonce that we did not issue to source, and ErrStale for one of ours that
// has expired (RFC 7616 section 3.3: stale=true only when the nonce alone
// is at fault).
func (s *Server) checkNonce(nonce, source string) (time.Time, error) {
	b, issued, err := decodeNonce(nonce)
	if err != nil {
		return time.Time{}, ErrBadNonce
	}
	var want [nonceMACLen]byte
	s.mac(want[:], b[:nonceBodyLen], source)
	if !hmac.Equal(b[nonceBodyLen:], want[:]) {
		return time.Time{}, ErrBadNonce
	}
	expires := issued.Add(s.ttl)
	if now := s.now(); now.After(expires) || issued.Sub(now) > maxClockSkew {
		return time.Time{}, ErrStale
	}
	return expires, nil
}

// maxClockSkew is how far in the future a nonce's issue time may be: nodes
// that share the secret may disagree on the time by that much.
const maxClockSkew = time.Minute

// sourceIP is the IP address of source ("host:port" or "host") in its
// 4- or 16-byte form, or source's own bytes when it is no IP address.
func sourceIP(source string) []byte {
	host := source
	if h, _, err := net.SplitHostPort(source); err == nil {
		host = h
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().WithZone("").AsSlice()
	}
	return []byte(host)
}
