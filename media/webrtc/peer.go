package webrtc

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
)

// Peer is the WebRTC leg of one call: one pion PeerConnection on the
// engine's mux, from the browser's offer to Close.
type Peer struct {
	e   *Engine
	pc  *pion.PeerConnection
	log *slog.Logger

	mid     string               // the audio m-line's
	tr      *pion.RTPTransceiver // its transceiver
	offered []Codec              // the first offer's audio formats
	certs   []string             // the first offer's fingerprints

	sig    sync.Mutex // serializes Answer and Reoffer
	answer []byte     // the first answer; guarded by sig
	audio  Codec      // guarded by sig
	dtmf   *Codec     // guarded by sig
	dir    string     // the newest offer's audio direction; guarded by sig

	// Read by the media paths.
	audioPT  atomic.Int32 // the answered audio payload type, -1 before Answer
	dtmfPT   atomic.Int32 // the answered telephone-event payload type, -1 if none
	sending  atomic.Bool  // the answer's direction lets us send (RFC 3264 section 5.1)
	lost     atomic.Uint32
	track    atomic.Pointer[sendTrack] // set by Answer
	hdrs     sync.Pool                 // *rtp.Header for WriteRTP
	out      outStream                 // keeps what WriteRTP sends continuous
	answered chan struct{}

	connected     chan struct{}
	connectedOnce sync.Once
	done          chan struct{}

	mu       sync.Mutex
	err      error             // why done closed; nil after Close
	finished bool              // done is closed
	remote   *pion.TrackRemote // the browser's audio, the newest
	newTrack chan struct{}     // closed and replaced when remote changes

	rmu sync.Mutex // one ReadRTP at a time: pion's SRTP stream wakes one reader

	wg        sync.WaitGroup // the goroutines this peer started
	pcClose   sync.Once
	pcErr     error
	closeOnce sync.Once
}

// Accept reads a browser's offer and starts a peer connection for it
// (remote description set, RFC 8829 section 5.10). It does not answer yet.
// The offer must be DTLS-SRTP (else ErrNotDTLS) with opus, PCMU or PCMA
// in its audio (else ErrNoAudio); other faults wrap ErrMalformedOffer.
func (e *Engine) Accept(offerSDP []byte) (*Peer, error) {
	o, err := parseOffer(offerSDP)
	if err != nil {
		return nil, fmt.Errorf("accept offer: %w", err)
	}
	sdpText, err := pionOffer(o)
	if err != nil {
		return nil, fmt.Errorf("accept offer: %w", err)
	}
	pc, err := e.api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("accept offer: new peer connection: %w", err)
	}
	p := &Peer{
		e:         e,
		pc:        pc,
		log:       e.log,
		mid:       o.mid,
		offered:   o.codecs,
		certs:     o.certs,
		dir:       o.direction,
		answered:  make(chan struct{}),
		connected: make(chan struct{}),
		done:      make(chan struct{}),
		newTrack:  make(chan struct{}),
	}
	p.hdrs.New = func() any { return new(rtp.Header) }
	p.audioPT.Store(-1)
	p.dtmfPT.Store(-1)
	p.sending.Store(false)
	if err := e.add(p); err != nil {
		_ = pc.GracefulClose()
		return nil, fmt.Errorf("accept offer: %w", err)
	}
	pc.OnConnectionStateChange(p.onConnectionState)
	pc.OnICEConnectionStateChange(p.onICEState)
	pc.OnTrack(p.onTrack)

	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: sdpText}); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("accept offer: %w: %w", ErrMalformedOffer, err)
	}
	for _, t := range pc.GetTransceivers() {
		if t.Mid() == o.mid {
			p.tr = t
		}
	}
	if p.tr == nil {
		_ = p.Close()
		return nil, fmt.Errorf("accept offer: %w: pion made no transceiver for mid %q", ErrMalformedOffer, o.mid)
	}
	p.wg.Add(1)
	go p.supervise(e.timeout)
	return p, nil
}

// Offered lists the audio payload formats of the offer, in the offer's
// order (telephone-event entries included). Only opus/48000, PCMU/8000 and
// PCMA/8000 can be answered as audio, and telephone-event/48000 or /8000
// as DTMF.
func (p *Peer) Offered() []Codec { return slices.Clone(p.offered) }

// Answer makes the SDP answer (RFC 8829 section 5.3) with exactly these
// payload formats: audio, and dtmf if non-nil (both must be among
// Offered). The first call builds it (ICE gathering complete, so every
// candidate is in it; no trickle); later calls return the same bytes,
// whatever their arguments. It starts the handshake timeout.
//
// The answer says a=setup:active (we are the DTLS client, RFC 5763
// section 5) and, for opus, fmtp minptime=10;useinbandfec=1.
func (p *Peer) Answer(audio Codec, dtmf *Codec) ([]byte, error) {
	p.sig.Lock()
	defer p.sig.Unlock()
	if p.answer != nil {
		return slices.Clone(p.answer), nil
	}
	if p.isDone() {
		return nil, p.closedErr("answer")
	}
	a, ok := p.find(audio)
	if !ok || !a.isAudio() {
		return nil, fmt.Errorf("answer: %w: audio %s is not an offered opus, PCMU or PCMA", ErrNoAudio, audio)
	}
	keep := []uint8{a.PayloadType}
	prefs := []pion.RTPCodecParameters{a.params()}
	var d *Codec
	if dtmf != nil {
		c, ok := p.find(*dtmf)
		if !ok || !c.isDTMF() {
			return nil, fmt.Errorf("answer: dtmf %s is not an offered telephone-event at 8000 or 48000 Hz", *dtmf)
		}
		d = &c
		keep = append(keep, c.PayloadType)
		prefs = append(prefs, c.params())
	}

	// Preferences first: refused, they leave the peer as it was, and the
	// switch may answer with another offered codec.
	if err := p.tr.SetCodecPreferences(prefs); err != nil {
		return nil, fmt.Errorf("answer: %w: pion cannot use %v: %w", ErrNoAudio, keep, err)
	}
	// From here on pion's state changes: a failure ends the peer.
	// What pion's AddTrack does, on our transceiver rather than the first
	// audio one pion would pick (the offer's first audio m-line may be a
	// rejected one).
	track := newSendTrack(a.PayloadType)
	sender, err := p.e.api.NewRTPSender(track, p.pc.SCTP().Transport())
	if err == nil {
		if err = p.tr.SetSender(sender, track); err != nil {
			_ = sender.Stop()
		}
	}
	dir := answerDirection(p.dir)
	var sdpText string
	if err == nil {
		sdpText, err = p.negotiate(keep, dir)
	}
	if err != nil {
		err = fmt.Errorf("answer: %w", err)
		p.finish(err)
		return nil, err
	}

	p.audio, p.dtmf = a, d
	p.track.Store(track)
	p.audioPT.Store(int32(a.PayloadType))
	if d != nil {
		p.dtmfPT.Store(int32(d.PayloadType))
	}
	p.sending.Store(dir == "sendrecv" || dir == "sendonly")
	p.answer = []byte(sdpText)
	p.start(func() { p.readSenderRTCP(sender) })
	close(p.answered)
	return slices.Clone(p.answer), nil
}

// negotiate creates pion's answer to the remote description, sets it,
// waits for ICE gathering, and returns the answer with its candidates,
// shaped for the browser (formats keep, direction dir). Pion takes its own
// answer only unchanged (JSEP forbids munging, RFC 8829 section 5.4), so
// the shaping is of the copy we send.
func (p *Peer) negotiate(keep []uint8, dir string) (string, error) {
	ans, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("create answer: %w", err)
	}
	gathered := pion.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(ans); err != nil {
		return "", fmt.Errorf("set local description: %w", err)
	}
	// With the UDP mux gathering is immediate: host candidates only, on
	// the mux's addresses.
	select {
	case <-gathered:
	case <-p.done:
		return "", p.closedErr("gather candidates")
	}
	local := p.pc.LocalDescription()
	if local == nil {
		return "", p.closedErr("local description")
	}
	return shapeAnswer(local.SDP, p.mid, keep, dir)
}

// find returns the offered format c names (payload type, name and clock).
func (p *Peer) find(c Codec) (Codec, bool) {
	for _, o := range p.offered {
		if o.same(c) {
			return o, true
		}
	}
	return Codec{}, false
}

// Connected is closed once ICE and DTLS are up.
func (p *Peer) Connected() <-chan struct{} { return p.connected }

// Done is closed when the peer can no longer carry media: ICE or DTLS
// failed, the handshake did not finish within HandshakeTimeout after
// Answer, ICE disconnected and did not recover (failed), or Close. Err
// says why (nil after a plain Close). A failed peer has closed its
// PeerConnection already; the switch still calls Close.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Err says why Done is closed: nil while it is not, and after a plain
// Close.
func (p *Peer) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// FractionLost is the newest RTCP receiver report's fraction lost (RFC
// 3550 section 6.4.1, 0-255 for 0-100%) about the stream we send, 0 before
// any. The switch tunes Opus FEC with it.
func (p *Peer) FractionLost() uint8 { return uint8(p.lost.Load()) }

// Close ends the peer connection and frees everything: it waits for every
// goroutine the peer started. Idempotent, and safe at any time, also
// while ReadRTP or WriteRTP run (they return ErrClosed).
func (p *Peer) Close() error {
	p.finish(nil)
	var err error
	p.closeOnce.Do(func() {
		err = p.closePC()
		p.wg.Wait()
		p.e.remove(p)
	})
	return err
}

// closePC closes the PeerConnection once, waiting for pion's goroutines.
func (p *Peer) closePC() error {
	p.pcClose.Do(func() {
		if err := p.pc.GracefulClose(); err != nil {
			p.pcErr = fmt.Errorf("close peer connection: %w", err)
		}
	})
	return p.pcErr
}

// finish closes done with cause err, once; later causes are dropped.
func (p *Peer) finish(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.finished = true
	p.err = err
	close(p.done)
}

func (p *Peer) isDone() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *Peer) isConnected() bool {
	select {
	case <-p.connected:
		return true
	default:
		return false
	}
}

// closedErr is ErrClosed for op, with the failure if there was one.
func (p *Peer) closedErr(op string) error {
	if err := p.Err(); err != nil {
		return fmt.Errorf("%s: %w: %w", op, ErrClosed, err)
	}
	return fmt.Errorf("%s: %w", op, ErrClosed)
}

// start runs f in a goroutine that Close waits for, unless the peer is
// already done (then Close may be waiting already).
func (p *Peer) start(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// supervise enforces the handshake timeout and, once the peer is done for
// any reason, closes the PeerConnection, so that a failed peer frees its
// resources before the switch gets to Close.
func (p *Peer) supervise(timeout time.Duration) {
	defer p.wg.Done()
	select {
	case <-p.answered:
		t := time.NewTimer(timeout)
		select {
		case <-p.connected:
		case <-t.C:
			p.finish(fmt.Errorf("ice/dtls handshake did not complete in %s", timeout))
		case <-p.done:
		}
		t.Stop()
	case <-p.done:
	}
	<-p.done
	_ = p.closePC() // Close reports the error
}

// onConnectionState follows pion's PeerConnection state: ICE and DTLS
// together, as W3C webrtc-pc's RTCPeerConnectionState.
func (p *Peer) onConnectionState(s pion.PeerConnectionState) {
	p.log.Debug("webrtc peer connection state", "state", s.String())
	switch s {
	case pion.PeerConnectionStateConnected:
		p.connectedOnce.Do(func() { close(p.connected) })
	case pion.PeerConnectionStateFailed:
		switch ice := p.pc.ICEConnectionState(); ice {
		case pion.ICEConnectionStateConnected, pion.ICEConnectionStateCompleted:
			p.finish(errors.New("dtls failed"))
		default:
			p.finish(fmt.Errorf("ice %s", ice))
		}
	case pion.PeerConnectionStateClosed:
		// Ours is a no-op: finish ran before. Else DTLS close_notify from the browser.
		p.finish(ErrClosedByPeer)
	}
}

// onICEState ends the peer when ICE fails: no candidate pair works, or
// consent freshness (RFC 7675) lapsed after a disconnection.
func (p *Peer) onICEState(s pion.ICEConnectionState) {
	p.log.Debug("webrtc ice state", "state", s.String())
	if s == pion.ICEConnectionStateFailed {
		p.finish(errors.New("ice failed"))
	}
}

// onTrack takes the browser's audio track. A renegotiation can replace it
// (pion stops a receiver whose SSRC an offer no longer lists, as Chromium's
// does for a=inactive), so the newest one wins and ReadRTP moves over.
func (p *Peer) onTrack(t *pion.TrackRemote, r *pion.RTPReceiver) {
	if t.Kind() != pion.RTPCodecTypeAudio {
		return
	}
	p.mu.Lock()
	p.remote = t
	close(p.newTrack)
	p.newTrack = make(chan struct{})
	p.mu.Unlock()
	p.start(func() { drainRTCP(r) })
}
