// Package bridge is the media of one call as the call controller sees it:
// the app's SDP offer in, an SDP offer for the carrier out, the carrier's
// answer in, the app's answer out, and an RTP relay between the legs.
//
// Negotiation passes the offer through (RFC 3264): the carrier is offered
// the G.711 codecs the app offered that the trunk takes, with the app's
// payload type numbers, and the app is answered with the codec the carrier
// chose. Both legs then carry the same payload, so the relay passes packets
// through untouched, RFC 4733 telephone-events included.
//
// Concurrency: a Bridge is used by one call; its methods may be called from
// the call's goroutines and are guarded by a mutex. No I/O is done under it.
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
	"github.com/dialtone/dialtone/media/rtp"
	"github.com/dialtone/dialtone/media/sdp"
)

// passThrough are the codecs both legs can share without transcoding.
var passThrough = []string{"PCMU", "PCMA"}

// Config sets up a Factory.
type Config struct {
	Pool      *rtp.PortPool
	Advertise netip.Addr    // our IP in SDP
	Timeout   time.Duration // media timeout once answered
}

// Factory makes bridges.
type Factory struct {
	cfg Config
}

// NewFactory returns a Factory.
func NewFactory(cfg Config) *Factory { return &Factory{cfg: cfg} }

// Bridge is one call's media.
type Bridge struct {
	f          *Factory
	relay      *rtp.Relay
	appSDP     *sdp.Builder // o= line of what we send the app (RFC 3264 section 8)
	carrierSDP *sdp.Builder // likewise toward the carrier; a new one per carrier dialog

	mu          sync.Mutex
	appCodecs   []sdp.Codec   // G.711 codecs of the app's offer, in its order
	dtmf        *sdp.Codec    // the app's telephone-event/8000, if offered
	carrierSent []sdp.Codec   // what we offered the carrier
	chosen      *sdp.Codec    // the carrier's choice (from 183 or 200)
	appDir      sdp.Direction // our direction toward the app: the mirror of its offer
}

// New reads the app's offer and allocates the ports of both legs.
func (f *Factory) New(_ context.Context, callID string, appOffer []byte) (*Bridge, error) {
	offer, err := sdp.Parse(appOffer)
	if err != nil {
		return nil, fmt.Errorf("app offer: %w: %w", dialtone.ErrNoCodec, err)
	}
	if !offer.PlainRTP() {
		return nil, fmt.Errorf("app offer: %w: %s is not supported on this leg", dialtone.ErrNoCodec, offer.Proto)
	}
	var codecs []sdp.Codec
	for _, c := range offer.Codecs {
		for _, name := range passThrough {
			if c.Is(name, 8000) {
				codecs = append(codecs, c)
			}
		}
	}
	if len(codecs) == 0 {
		return nil, fmt.Errorf("app offer: %w: offer has no PCMU or PCMA", dialtone.ErrNoCodec)
	}
	b := &Bridge{f: f, appCodecs: codecs, appSDP: sdp.NewBuilder(0)}
	if te, ok := offer.Find("telephone-event", 8000); ok {
		b.dtmf = &te
	}
	app, err := f.cfg.Pool.Allocate()
	if err != nil {
		return nil, fmt.Errorf("app leg: %w: %w", dialtone.ErrUnavailable, err)
	}
	carrier, err := f.cfg.Pool.Allocate()
	if err != nil {
		app.Close()
		return nil, fmt.Errorf("carrier leg: %w: %w", dialtone.ErrUnavailable, err)
	}
	b.relay = rtp.NewRelay(app, carrier)
	b.relay.A().SetRemote(offer.Addr, offer.RTCP)
	b.relay.A().SetHold(offer.Hold())
	b.appDir = offer.Direction.Answer()
	return b, nil
}

// UpdateApp applies a new offer from the app in a re-INVITE: a new media
// address (the phone changed networks) or a hold. The codec stays as
// negotiated; an offer without it is refused.
func (b *Bridge) UpdateApp(body []byte) error {
	offer, err := sdp.Parse(body)
	if err != nil {
		return fmt.Errorf("app re-offer: %w: %w", dialtone.ErrNoCodec, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	codec := b.codec()
	if _, ok := offer.Find(codec.Name, codec.Clock); !ok {
		return fmt.Errorf("app re-offer: %w: %s is no longer offered", dialtone.ErrNoCodec, codec.Name)
	}
	b.relay.A().SetRemote(offer.Addr, offer.RTCP)
	b.relay.A().SetHold(offer.Hold())
	b.appDir = offer.Direction.Answer()
	return nil
}

// CarrierOffer is the SDP for a carrier that takes codecs (names, in order).
func (b *Bridge) CarrierOffer(codecs []string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var offer []sdp.Codec
	for _, name := range codecs {
		for _, c := range b.appCodecs {
			if c.Is(name, 8000) {
				offer = append(offer, c)
			}
		}
	}
	if len(offer) == 0 {
		return nil, fmt.Errorf("carrier offer: %w: the app offered none of %s", dialtone.ErrNoCodec, strings.Join(codecs, ", "))
	}
	b.carrierSent = offer
	b.chosen = nil
	b.carrierSDP = sdp.NewBuilder(0) // each carrier attempt is a new dialog
	return b.carrierSDP.Build(sdp.Description{Addr: b.local(b.relay.B()), Codecs: b.withDTMF(offer...)})
}

// withDTMF appends the app's telephone-event, if it offered one.
func (b *Bridge) withDTMF(codecs ...sdp.Codec) []sdp.Codec {
	all := append([]sdp.Codec(nil), codecs...)
	if b.dtmf != nil {
		all = append(all, *b.dtmf)
	}
	return all
}

// codec is the audio codec both legs carry: the carrier's choice, or
// before the carrier has answered, the app's first G.711 codec.
func (b *Bridge) codec() sdp.Codec {
	if b.chosen != nil {
		return *b.chosen
	}
	return b.appCodecs[0]
}

// SetCarrierAnswer applies the carrier's SDP from a 183 or 200.
func (b *Bridge) SetCarrierAnswer(body []byte) error {
	ans, err := sdp.Parse(body)
	if err != nil {
		return fmt.Errorf("carrier answer: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var chosen *sdp.Codec
	for _, c := range ans.Codecs {
		for _, o := range b.carrierSent {
			if c.Is(o.Name, 8000) {
				// Keep the payload type we offered: both legs share it.
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
	b.chosen = chosen
	b.relay.B().SetRemote(ans.Addr, ans.RTCP)
	b.relay.B().SetHold(ans.Hold())
	return nil
}

// AppAnswer is the SDP answer for the app, on the codec both legs carry.
// The same answer sent in a 183 and again in the 200 keeps its o= version.
func (b *Bridge) AppAnswer() ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.appSDP.Build(sdp.Description{Addr: b.local(b.relay.A()), Codecs: b.withDTMF(b.codec()), Direction: b.appDir})
}

func (b *Bridge) local(l *rtp.Leg) netip.AddrPort {
	return netip.AddrPortFrom(b.f.cfg.Advertise, uint16(l.Port()))
}

// Start arms the media timeout.
func (b *Bridge) Start(onTimeout func()) {
	b.relay.Arm(b.f.cfg.Timeout, onTimeout)
}

// Codecs names the codec on each leg.
func (b *Bridge) Codecs() (app, carrier string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.chosen == nil {
		return "", ""
	}
	return b.chosen.Name, b.chosen.Name
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

// Close stops the relay and frees its ports.
func (b *Bridge) Close() error {
	if err := b.relay.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("close bridge: %w", err)
	}
	return nil
}
