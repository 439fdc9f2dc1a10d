package webrtc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
)

// rtpHeaderLen is the fixed RTP header (RFC 3550 section 5.1).
const rtpHeaderLen = 12

// ReadRTP blocks for the next RTP packet from the browser (SRTP-decrypted,
// RTP header included) into b, and returns its length. b should hold 1500
// bytes (pion's receive MTU): for a packet larger than b it returns an
// error matching io.ErrShortBuffer.
//
// It passes only the answered payload types (the audio codec and
// telephone-event) and drops any other the browser sends. Called before
// the browser's track exists (before the first packet), it waits for it.
// After Close or failure it returns an error matching ErrClosed.
//
// Meant for one reader goroutine: concurrent calls take turns (pion's
// streams allow one reader). The call does not allocate.
func (p *Peer) ReadRTP(b []byte) (int, error) {
	p.rmu.Lock()
	defer p.rmu.Unlock()
	var ended *pion.TrackRemote // a track that stopped; wait for a newer one
	bad := 0                    // per-packet errors in a row
	for {
		p.mu.Lock()
		t, newTrack, finished := p.remote, p.newTrack, p.finished
		p.mu.Unlock()
		if finished {
			return 0, p.closedErr("read rtp")
		}
		if t == nil || t == ended {
			select {
			case <-newTrack:
			case <-p.done:
			}
			continue
		}
		n, _, err := t.Read(b)
		switch {
		case err == nil:
			bad = 0
		case errors.Is(err, io.ErrShortBuffer):
			return 0, fmt.Errorf("read rtp: %w", err)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrClosedPipe), errors.Is(err, net.ErrClosed), bad >= maxBadPackets:
			// Closed: by Close, or by a renegotiation that replaces the
			// track (then onTrack brings the new one).
			ended = t
			continue
		default:
			// One packet pion would not take: a payload type the offer
			// did not list (pion.ErrCodecNotFound), a header it could not
			// parse. The next may be fine.
			bad++
			continue
		}
		if n < rtpHeaderLen || !p.wants(b[1]&0x7f) {
			continue
		}
		return n, nil
	}
}

// maxBadPackets bounds the per-packet errors in a row ReadRTP skips before
// it takes the track for dead rather than spin on an error that repeats.
const maxBadPackets = 1000

// wants reports whether pt is a payload type of our answer.
func (p *Peer) wants(pt uint8) bool {
	return int32(pt) == p.audioPT.Load() || int32(pt) == p.dtmfPT.Load()
}

// WriteRTP sends one RTP packet (header + payload, as built by the switch)
// to the browser. The header is kept as given, payload type included (the
// chosen audio payload type, or the telephone-event one for DTMF), except
// the SSRC, replaced by our stream's, and, when the packets' source
// changes, the sequence number and timestamp, which carry on from the last
// packet sent (outStream). Before DTLS is up, and while the
// browser does not receive (on hold: our answer said recvonly or inactive,
// so we must not send, RFC 3264 section 5.1), the packet is dropped and nil
// returned. After Close or failure it returns an error matching ErrClosed.
//
// Safe for concurrent use, meant for one writer goroutine; the call itself
// does not allocate.
func (p *Peer) WriteRTP(b []byte) error {
	if p.isDone() {
		return p.closedErr("write rtp")
	}
	if !p.isConnected() || !p.sending.Load() {
		return nil
	}
	bd := p.sender()
	if bd == nil {
		return nil
	}
	h := p.hdrs.Get().(*rtp.Header)
	defer p.hdrs.Put(h)
	n, err := h.Unmarshal(b)
	if err != nil {
		return fmt.Errorf("write rtp: %w", err)
	}
	payload := b[n:]
	h.PaddingSize = 0
	if h.Padding {
		// RFC 3550 section 5.1: the last octet counts the padding, itself
		// included. Pion writes the padding from PaddingSize.
		pad := int(b[len(b)-1])
		if pad == 0 || pad > len(payload) {
			return fmt.Errorf("write rtp: padding of %d octets in a %d-octet payload", pad, len(payload))
		}
		h.PaddingSize = byte(pad)
		payload = payload[:len(payload)-pad]
	}
	if !p.out.rewrite(h, bd.clock, time.Now()) {
		return nil // a former source's straggler
	}
	h.SSRC = bd.ssrc
	if _, err := bd.w.WriteRTP(h, payload); err != nil {
		if p.isDone() || errors.Is(err, io.ErrClosedPipe) {
			return p.closedErr("write rtp")
		}
		return fmt.Errorf("write rtp: %w", err)
	}
	return nil
}

// sender is the send track's binding, nil before Answer or once unbound.
func (p *Peer) sender() *binding {
	t := p.track.Load()
	if t == nil {
		return nil
	}
	return t.bound.Load()
}
