// Package bridge is the media of one call as the call controller sees it:
// the app's SDP offer in, an SDP offer for the carrier out, the carrier's
// answer in, the app's answer out, and an RTP relay between the legs.
//
// The app's leg is plain RTP (a softphone: RTP/AVP) or WebRTC (a browser:
// DTLS-SRTP with ICE, package media/webrtc); SDES-SRTP is refused. The
// carrier's leg is plain RTP with G.711. The carrier is offered the
// trunk's G.711 codecs with RFC 4733 telephone-event/8000; once it has
// chosen, the app is answered (RFC 3264) on:
//   - Opus, when Opus is the app's first choice (browsers): the relay
//     transcodes Opus <-> G.711 and translates telephone-events between
//     48000 and 8000 Hz;
//   - else the carrier's codec, when the app offered it: both legs carry
//     the same payload and the relay passes packets through untouched,
//     telephone-events included (the carrier was offered the app's payload
//     type numbers for it);
//   - else the app's G.711 law, converted to the carrier's.
//
// The app is answered with only the telephone-event whose clock is the
// chosen codec's: browsers send malformed events when an Opus answer also
// lists telephone-event/8000.
//
// When it transcodes, each leg gets packets of the packet time its SDP
// asked for (a=ptime in the carrier's answer, in the app's offer; 20 ms
// without), with sequence numbers one apart: see transcoder.
//
// It owns the media section of the configuration file (Settings: the RTP
// port range and addresses, the media timeout, strict RTP, the WebRTC leg
// and the Opus encoder), its defaults and its validation.
//
// Concurrency: a Bridge is used by one call; its methods may be called from
// the call's goroutines and are guarded by a mutex. No I/O is done under it.
// A Factory is immutable and safe for concurrent use.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/media/codec"
	"github.com/dialtone/dialtone/media/rtp"
	"github.com/dialtone/dialtone/media/sdp"
	"github.com/dialtone/dialtone/media/webrtc"
)

// carrierCodecs are the codecs a carrier leg may carry.
var carrierCodecs = []string{"PCMU", "PCMA"}

// defaultEventPT is the telephone-event payload type offered to a carrier
// when the app offered none at 8000 Hz.
const defaultEventPT = 101

// Config sets up a Factory.
type Config struct {
	Pool      *rtp.PortPool
	Advertise netip.Addr    // our IP in SDP
	Timeout   time.Duration // media timeout once answered
	// WebRTC takes browsers' offers; nil refuses them with 488.
	WebRTC *webrtc.Engine
	// Opus tunes the encoder of calls transcoded to Opus; zero means
	// codec.DefaultOpusConfig.
	Opus codec.OpusConfig
	// Strict is how the plain RTP legs choose the source they take media
	// from; the zero value is off (latch on the first source).
	Strict rtp.Strict
}

// Factory makes bridges.
type Factory struct {
	cfg Config
}

// NewFactory returns a Factory.
func NewFactory(cfg Config) *Factory {
	if cfg.Opus == (codec.OpusConfig{}) {
		cfg.Opus = codec.DefaultOpusConfig()
	}
	return &Factory{cfg: cfg}
}

// Bridge is one call's media.
type Bridge struct {
	f          *Factory
	relay      *rtp.Relay
	peer       *webrtc.Peer // the app's WebRTC leg; nil for plain RTP
	appSDP     *sdp.Builder // o= line of what we send a plain-RTP app (RFC 3264 section 8)
	carrierSDP *sdp.Builder // likewise toward the carrier; a new one per carrier dialog

	mu           sync.Mutex
	appCodecs    []sdp.Codec   // audio codecs of the app's offer we can carry, in its order
	appEvents    []sdp.Codec   // the app's telephone-events
	appPtime     int           // the app's offer's a=ptime; 0 when absent
	carrierPtime int           // the carrier's answer's a=ptime; 0 when absent
	carrierSent  []sdp.Codec   // the audio codecs we offered the carrier
	carrierEvent sdp.Codec     // the telephone-event we offered the carrier
	chosen       *sdp.Codec    // the carrier's choice (from 183 or 200)
	appCodec     *sdp.Codec    // what the app was answered with; fixed once answered
	peerAnswer   []byte        // the WebRTC leg's newest answer
	appDir       sdp.Direction // our direction toward a plain-RTP app: the mirror of its offer
	transcoders  [2]*transcoder
	stop         chan struct{} // closed by Close; ends the WebRTC watcher
	wg           sync.WaitGroup
	fire         sync.Once
}

// New reads the app's offer and sets up both legs: the carrier's ports,
// and the app's ports or WebRTC peer.
func (f *Factory) New(_ context.Context, callID string, appOffer []byte) (*Bridge, error) {
	offer, err := sdp.Parse(appOffer)
	if err != nil {
		return nil, fmt.Errorf("app offer: %w: %w", dialtone.ErrNoCodec, err)
	}
	b := &Bridge{f: f, appSDP: sdp.NewBuilder(0), stop: make(chan struct{}), appPtime: offer.Ptime}
	webRTC := strings.HasPrefix(strings.ToUpper(offer.Proto), "UDP/TLS/")
	switch {
	case webRTC && f.cfg.WebRTC == nil:
		return nil, fmt.Errorf("app offer: %w: WebRTC is not enabled on this switch", dialtone.ErrNoCodec)
	case webRTC:
		// The peer reads the offer itself; its codecs are the same list.
	case !offer.PlainRTP():
		return nil, fmt.Errorf("app offer: %w: %s (SDES-SRTP) is not supported; use DTLS-SRTP (WebRTC) or plain RTP", dialtone.ErrNoCodec, offer.Proto)
	}
	for _, c := range offer.Codecs {
		switch {
		case c.Is("opus", 48000) || c.Is("PCMU", 8000) || c.Is("PCMA", 8000):
			b.appCodecs = append(b.appCodecs, c)
		case c.Is("telephone-event", 8000) || c.Is("telephone-event", 48000):
			b.appEvents = append(b.appEvents, c)
		}
	}
	if len(b.appCodecs) == 0 {
		return nil, fmt.Errorf("app offer: %w: offer has none of opus, PCMU, PCMA", dialtone.ErrNoCodec)
	}
	carrier, err := f.cfg.Pool.Allocate()
	if err != nil {
		return nil, fmt.Errorf("carrier leg: %w: %w", dialtone.ErrUnavailable, err)
	}
	if webRTC {
		peer, err := f.cfg.WebRTC.Accept(appOffer)
		if err != nil {
			carrier.Close()
			return nil, fmt.Errorf("app offer: %w: %w", dialtone.ErrNoCodec, err)
		}
		b.peer = peer
		b.relay = rtp.Join(rtp.Side{Endpoint: peer}, rtp.Side{Pair: carrier}, f.cfg.Strict)
		b.relay.A().SetHold(offer.Direction.Hold())
		return b, nil
	}
	app, err := f.cfg.Pool.Allocate()
	if err != nil {
		carrier.Close()
		return nil, fmt.Errorf("app leg: %w: %w", dialtone.ErrUnavailable, err)
	}
	b.relay = rtp.NewRelay(app, carrier, f.cfg.Strict)
	b.relay.A().SetRemote(offer.Addr, offer.RTCP)
	b.relay.A().SetHold(offer.Hold())
	b.appDir = offer.Direction.Answer()
	return b, nil
}

// UpdateApp applies a new offer from the app in a re-INVITE: a new media
// address (the phone changed networks), an ICE restart, or a hold. The
// codec stays as negotiated; an offer without it is refused.
func (b *Bridge) UpdateApp(body []byte) error {
	if b.peer != nil {
		answer, hold, err := b.peer.Reoffer(body)
		if err != nil {
			return fmt.Errorf("app re-offer: %w: %w", dialtone.ErrNoCodec, err)
		}
		b.mu.Lock()
		b.peerAnswer = answer
		b.mu.Unlock()
		b.relay.A().SetHold(hold)
		return nil
	}
	offer, err := sdp.Parse(body)
	if err != nil {
		return fmt.Errorf("app re-offer: %w: %w", dialtone.ErrNoCodec, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	codec := b.answerCodec()
	if _, ok := offer.Find(codec.Name, codec.Clock); !ok {
		return fmt.Errorf("app re-offer: %w: %s is no longer offered", dialtone.ErrNoCodec, codec.Name)
	}
	b.relay.A().SetRemote(offer.Addr, offer.RTCP)
	b.relay.A().SetHold(offer.Hold())
	b.appDir = offer.Direction.Answer()
	return nil
}

// CarrierOffer is the SDP for a carrier that takes codecs (names, in
// order): those of them a carrier leg can carry, with telephone-event.
func (b *Bridge) CarrierOffer(codecs []string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var offer []sdp.Codec
	for _, name := range codecs {
		for _, c := range carrierCodecs {
			if strings.EqualFold(name, c) {
				pt := uint8(0)
				if c == "PCMA" {
					pt = 8
				}
				offer = append(offer, sdp.Codec{PT: pt, Name: c, Clock: 8000, Channels: 1})
			}
		}
	}
	if len(offer) == 0 {
		return nil, fmt.Errorf("carrier offer: %w: the trunk takes none of %s", dialtone.ErrNoCodec, strings.Join(carrierCodecs, ", "))
	}
	// Pass-through keeps the app's telephone-event payload type on both legs.
	b.carrierEvent = sdp.Codec{PT: defaultEventPT, Name: "telephone-event", Clock: 8000, Channels: 1, Fmtp: sdp.DTMFEvents}
	if te := b.appEvent(8000); te != nil {
		b.carrierEvent = *te
	}
	b.carrierSent = offer
	b.chosen = nil
	b.carrierSDP = sdp.NewBuilder(0) // each carrier attempt is a new dialog
	return b.carrierSDP.Build(sdp.Description{Addr: b.local(b.relay.B()), Codecs: append(offer, b.carrierEvent)})
}

// appEvent is the app's telephone-event at clock, or nil.
func (b *Bridge) appEvent(clock int) *sdp.Codec {
	for _, c := range b.appEvents {
		if c.Clock == clock {
			return &c
		}
	}
	return nil
}

// answerCodec is the codec the app is (or would now be) answered with:
// fixed once answered; else chosen as the package comment says.
func (b *Bridge) answerCodec() sdp.Codec {
	if b.appCodec != nil {
		return *b.appCodec
	}
	first := b.appCodecs[0]
	if first.Is("opus", 48000) || b.chosen == nil {
		return first
	}
	for _, c := range b.appCodecs {
		if c.Is(b.chosen.Name, 8000) {
			return c
		}
	}
	return first
}

// AnswerEarly reports whether the app's answer can be made before the
// carrier's: for a WebRTC leg whose first choice is Opus, which it gets
// whatever the carrier picks, so that ICE and DTLS run while the phone
// rings. Other legs wait for the carrier's codec.
func (b *Bridge) AnswerEarly() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peer != nil && (b.appCodec != nil || b.appCodecs[0].Is("opus", 48000))
}

// SetCarrierAnswer applies the carrier's SDP from a 183 or 200.
func (b *Bridge) SetCarrierAnswer(body []byte) error {
	ans, err := sdp.Parse(body)
	if err != nil {
		return fmt.Errorf("carrier answer: %w", err)
	}
	if !ans.PlainRTP() {
		return fmt.Errorf("carrier answer: %w: %s is not plain RTP", dialtone.ErrNoCodec, ans.Proto)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var chosen *sdp.Codec
	for _, c := range ans.Codecs {
		for _, o := range b.carrierSent {
			if c.Is(o.Name, 8000) {
				// Keep the payload type we offered: pass-through shares it.
				o := o
				chosen = &o
				break
			}
		}
		if chosen != nil {
			break
		}
	}
	if chosen == nil {
		return fmt.Errorf("carrier answer: %w: answer has none of the offered codecs", dialtone.ErrNoCodec)
	}
	same := b.chosen != nil && b.chosen.PT == chosen.PT && b.chosen.Is(chosen.Name, chosen.Clock) &&
		packetTime(b.carrierPtime, false) == packetTime(ans.Ptime, false)
	b.chosen = chosen
	b.carrierPtime = ans.Ptime
	b.relay.B().SetRemote(ans.Addr, ans.RTCP)
	b.relay.B().SetHold(ans.Hold())
	if b.appCodec == nil || same {
		return nil // a 200 after a 183 of the same codec keeps the relay's processors (and the Opus encoder's state)
	}
	return b.setProcessors()
}

// AppAnswer is the SDP answer for the app. The first answer fixes the
// app's codec; the same answer sent in a 183 and again in the 200 keeps
// its o= version.
func (b *Bridge) AppAnswer() ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	first := b.appCodec == nil
	codec := b.answerCodec()
	event := b.appEvent(codec.Clock)
	var answer []byte
	if b.peer != nil {
		if b.peerAnswer == nil {
			a, err := b.peer.Answer(peerCodec(codec), peerEvent(event))
			if err != nil {
				return nil, fmt.Errorf("app answer: %w: %w", dialtone.ErrNoCodec, err)
			}
			b.peerAnswer = a
		}
		answer = b.peerAnswer
	} else {
		codecs := []sdp.Codec{codec}
		if event != nil {
			codecs = append(codecs, *event)
		}
		a, err := b.appSDP.Build(sdp.Description{Addr: b.local(b.relay.A()), Codecs: codecs, Direction: b.appDir})
		if err != nil {
			return nil, err
		}
		answer = a
	}
	if first {
		b.appCodec = &codec
		if b.chosen != nil {
			if err := b.setProcessors(); err != nil {
				return nil, err
			}
		}
	}
	return answer, nil
}

func peerCodec(c sdp.Codec) webrtc.Codec {
	return webrtc.Codec{PayloadType: c.PT, Name: c.Name, Clock: c.Clock, Channels: c.Channels, Fmtp: c.Fmtp}
}

func peerEvent(c *sdp.Codec) *webrtc.Codec {
	if c == nil {
		return nil
	}
	pc := peerCodec(*c)
	return &pc
}

// setProcessors makes the relay pass packets through when both legs carry
// the same codec and telephone-event, and transcode otherwise. Called
// with b.mu held, once both the app's and the carrier's codecs are known.
func (b *Bridge) setProcessors() error {
	app, carrier := *b.appCodec, *b.chosen
	appEvent, carrierEvent := b.appEvent(app.Clock), &b.carrierEvent
	if app.Is(carrier.Name, carrier.Clock) && app.PT == carrier.PT && (appEvent == nil || appEvent.PT == carrierEvent.PT) {
		b.relay.A().SetProcessor(nil)
		b.relay.B().SetProcessor(nil)
		b.transcoders = [2]*transcoder{}
		return nil
	}
	var loss lossReporter
	if b.peer != nil {
		loss = b.peer
	}
	up, err := newTranscoder(app, appEvent, carrier, carrierEvent, b.carrierPtime, b.f.cfg.Opus, nil)
	if err != nil {
		return fmt.Errorf("transcode app to carrier: %w: %w", dialtone.ErrNoCodec, err)
	}
	down, err := newTranscoder(carrier, carrierEvent, app, appEvent, b.appPtime, b.f.cfg.Opus, loss)
	if err != nil {
		return fmt.Errorf("transcode carrier to app: %w: %w", dialtone.ErrNoCodec, err)
	}
	b.relay.A().SetProcessor(up)
	b.relay.B().SetProcessor(down)
	b.transcoders = [2]*transcoder{up, down}
	return nil
}

func (b *Bridge) local(l *rtp.Leg) netip.AddrPort {
	return netip.AddrPortFrom(b.f.cfg.Advertise, uint16(l.Port()))
}

// Start arms the media timeout. On a WebRTC leg, ICE or DTLS failing (or
// never completing), or the browser closing its side, ends the media too.
// onEnd is called once, with why: dialtone.ErrMediaTimeout (no RTP),
// dialtone.ErrMediaClosed wrapping webrtc.ErrClosedByPeer (the browser
// closed DTLS, as it does when it hangs up), or the peer's failure.
func (b *Bridge) Start(onEnd func(reason error)) {
	once := func(reason error) { b.fire.Do(func() { onEnd(reason) }) }
	b.relay.Arm(b.f.cfg.Timeout, func() { once(dialtone.ErrMediaTimeout) })
	if b.peer != nil {
		b.wg.Add(1)
		go func() {
			var reason error
			select {
			case <-b.peer.Done():
				reason = b.peer.Err()
			case <-b.stop:
			}
			b.wg.Done() // before onEnd, which may Close
			switch {
			case reason == nil:
			case errors.Is(reason, webrtc.ErrClosedByPeer):
				once(fmt.Errorf("%w: %w", dialtone.ErrMediaClosed, reason))
			default:
				once(fmt.Errorf("app media: %w", reason))
			}
		}()
	}
}

// Codecs names the codec on each leg, e.g. "opus" and "PCMU".
func (b *Bridge) Codecs() (app, carrier string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.chosen == nil {
		return "", ""
	}
	app = b.chosen.Name
	if b.appCodec != nil {
		app = b.appCodec.Name
	}
	return app, b.chosen.Name
}

// Transcoding reports whether the relay converts between the legs.
func (b *Bridge) Transcoding() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.transcoders[0] != nil
}

// Stats returns packets received and lost on each leg.
func (b *Bridge) Stats() (appPackets, appLost, carrierPackets, carrierLost int64) {
	a, c := b.relay.A().Stats(), b.relay.B().Stats()
	return int64(a.Packets), a.Lost, int64(c.Packets), c.Lost
}

// LegStats returns the full counters of both legs.
func (b *Bridge) LegStats() (app, carrier rtp.Stats) {
	return b.relay.A().Stats(), b.relay.B().Stats()
}

// Close stops the relay and frees its ports and WebRTC peer.
func (b *Bridge) Close() error {
	b.mu.Lock()
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	b.mu.Unlock()
	b.wg.Wait()
	if err := b.relay.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("close bridge: %w", err)
	}
	return nil
}
