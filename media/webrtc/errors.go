package webrtc

import (
	"errors"
	"net"
)

var (
	// ErrNotDTLS: the offer is not one a WebRTC leg can take. It is plain
	// RTP (RTP/AVP), uses SDES keys (RTP/SAVP(F) with a=crypto, RFC 4568),
	// has no a=fingerprint (RFC 8122, needed by DTLS-SRTP, RFC 5763
	// section 5) or no ICE credentials (RFC 8839 section 5.4); or, in a
	// re-offer, a new fingerprint: a new DTLS association, which is not
	// supported. The switch answers 488.
	ErrNotDTLS = errors.New("offer is not dtls-srtp")
	// ErrNoAudio: the offer has no audio m-line the switch can use, or none
	// of opus, PCMU and PCMA among its formats; or a codec passed to Answer
	// or kept by Reoffer is not offered. The switch answers 488.
	ErrNoAudio = errors.New("offer has no usable audio")
	// ErrMalformedOffer: the offer is not valid SDP (or not what JSEP
	// writes: no a=mid, a bad fingerprint), or pion refused it in Accept.
	// The switch answers 400 (or 488).
	ErrMalformedOffer = errors.New("malformed sdp offer")
	// ErrClosed: the peer (or engine) is closed, or failed. It wraps
	// net.ErrClosed, so errors.Is(err, net.ErrClosed) holds too.
	ErrClosed error = closedError{}
	// ErrClosedByPeer: the browser closed the connection (DTLS
	// close_notify, RFC 5246 section 7.2.1; pion then closes the peer
	// connection), as it does when it hangs up, right before its BYE.
	ErrClosedByPeer = errors.New("dtls closed by peer")
)

// closedError is ErrClosed: its own message, and a net.ErrClosed to
// errors.Is.
type closedError struct{}

func (closedError) Error() string { return "webrtc peer closed" }
func (closedError) Unwrap() error { return net.ErrClosed }
