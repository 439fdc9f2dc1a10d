package webrtc

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
)

// wait bounds every wait of these tests for something that takes
// milliseconds when it works.
const wait = 5 * time.Second

// newEngine starts an Engine on 127.0.0.1, port 0, unless cfg says
// otherwise, logging to the test, and closes it at the end.
func newEngine(tb testing.TB, cfg Config) *Engine {
	tb.Helper()
	if !cfg.Bind.IsValid() {
		cfg.Bind = netip.MustParseAddrPort("127.0.0.1:0")
	}
	if cfg.Log == nil {
		cfg.Log = testLog(tb)
	}
	e, err := New(cfg)
	if err != nil {
		tb.Fatalf("New(%+v) = %v", cfg, err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Errorf("Engine.Close() = %v", err)
		}
	})
	return e
}

// testLog writes warnings and errors to the test's log until it ends.
func testLog(tb testing.TB) *slog.Logger {
	w := &tbWriter{tb: tb}
	tb.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tbWriter struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

func (w *tbWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(strings.TrimSpace(string(b)))
	}
	return len(b), nil
}

// client plays the browser: a pion PeerConnection that offers what
// Chromium offers, in Chromium's order, and sends and receives raw RTP.
type client struct {
	tb    testing.TB
	pc    *pion.PeerConnection
	track *rawTrack
	rtp   chan []byte // what the engine sent, copied
	wg    sync.WaitGroup
	seq   uint16
	hdr   rtp.Header    // write's, reused: one writer
	up    chan struct{} // closed when the client's ICE and DTLS are up
}

// chromiumCodecs are the audio formats Chromium offers, in its order.
var chromiumCodecs = []pion.RTPCodecParameters{
	{RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/opus", ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
	{RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/red", ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"}, PayloadType: 63},
	{RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/G722", ClockRate: 8000}, PayloadType: 9},
	{RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/PCMU", ClockRate: 8000}, PayloadType: 0},
	{RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/PCMA", ClockRate: 8000}, PayloadType: 8},
	{RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/CN", ClockRate: 8000}, PayloadType: 13},
	{RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 48000}, PayloadType: 110},
	{RTPCodecCapability: pion.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000}, PayloadType: 126},
}

// newClient makes a browser-like peer that reaches server: on loopback
// only for a loopback server (ICE then pairs at once), else on every
// non-loopback IPv4 address. It has no RTCP interceptors, so the only
// receiver reports the engine gets are the ones a test writes.
func newClient(tb testing.TB, server netip.Addr) *client {
	tb.Helper()
	me := &pion.MediaEngine{}
	for _, c := range chromiumCodecs {
		if err := me.RegisterCodec(c, pion.RTPCodecTypeAudio); err != nil {
			tb.Fatal(err)
		}
	}
	se := pion.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	if server.IsLoopback() {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	api := pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(se), pion.WithInterceptorRegistry(&interceptor.Registry{}))
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		tb.Fatal(err)
	}
	c := &client{tb: tb, pc: pc, track: &rawTrack{}, rtp: make(chan []byte, 4096), up: make(chan struct{})}
	var once sync.Once
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		if s == pion.PeerConnectionStateConnected {
			once.Do(func() { close(c.up) })
		}
	})
	if _, err := pc.AddTransceiverFromTrack(c.track, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendrecv}); err != nil {
		tb.Fatal(err)
	}
	pc.OnTrack(func(t *pion.TrackRemote, _ *pion.RTPReceiver) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			b := make([]byte, 1500)
			for {
				n, _, err := t.Read(b)
				if err != nil {
					return
				}
				if len(c.rtp) < cap(c.rtp) {
					c.rtp <- bytes.Clone(b[:n])
				}
			}
		}()
	})
	tb.Cleanup(c.close)
	return c
}

func (c *client) close() {
	_ = c.pc.GracefulClose()
	c.wg.Wait()
}

// offer makes the client's offer with every candidate in it, as JsSIP
// does. edit (nil: none) changes the text the engine gets, not the
// client's own description (pion takes no munged SDP): the way to play a
// browser whose offer pion cannot make, such as a=sendonly.
func (c *client) offer(opts *pion.OfferOptions, edit func(string) string) []byte {
	c.tb.Helper()
	o, err := c.pc.CreateOffer(opts)
	if err != nil {
		c.tb.Fatalf("client CreateOffer: %v", err)
	}
	gathered := pion.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(o); err != nil {
		c.tb.Fatalf("client SetLocalDescription: %v", err)
	}
	select {
	case <-gathered:
	case <-time.After(wait):
		c.tb.Fatal("client ICE gathering did not complete")
	}
	text := c.pc.LocalDescription().SDP
	if edit != nil {
		text = edit(text)
	}
	return []byte(text)
}

// accept applies the engine's answer.
func (c *client) accept(answer []byte) {
	c.tb.Helper()
	if err := c.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		c.tb.Fatalf("client SetRemoteDescription(answer): %v\n%s", err, answer)
	}
}

// write sends one RTP packet with payload type pt to the engine.
func (c *client) write(pt uint8, payload []byte) error {
	b := c.track.bound.Load()
	if b == nil {
		return nil
	}
	c.seq++
	c.hdr = rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: c.seq, Timestamp: uint32(c.seq) * 960, SSRC: b.ssrc}
	_, err := b.w.WriteRTP(&c.hdr, payload)
	return err
}

// rawTrack is the client's sending track: it writes packets as given,
// payload type included, on the first negotiated codec.
type rawTrack struct{ bound atomic.Pointer[binding] }

func (t *rawTrack) Bind(ctx pion.TrackLocalContext) (pion.RTPCodecParameters, error) {
	t.bound.Store(&binding{id: ctx.ID(), w: ctx.WriteStream(), ssrc: uint32(ctx.SSRC())})
	return ctx.CodecParameters()[0], nil
}
func (t *rawTrack) Unbind(pion.TrackLocalContext) error { t.bound.Store(nil); return nil }
func (t *rawTrack) ID() string                          { return "mic" }
func (t *rawTrack) RID() string                         { return "" }
func (t *rawTrack) StreamID() string                    { return "browser" }
func (t *rawTrack) Kind() pion.RTPCodecType             { return pion.RTPCodecTypeAudio }

// call is one engine peer connected to one client.
type call struct {
	p      *Peer
	c      *client
	answer []byte
	got    chan []byte // what ReadRTP returned, copied
}

// dial runs the offer/answer between a new client and e, answering with
// the offered audio format named audio and the telephone-event at
// teClock (0: none), and waits until both sides are connected. It reads
// the peer's RTP into call.got until the peer closes.
func dial(tb testing.TB, e *Engine, audio string, teClock int) *call {
	tb.Helper()
	k := connect(tb, e, audio, teClock)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 1500)
		for {
			n, err := k.p.ReadRTP(b)
			if err != nil {
				return
			}
			select {
			case k.got <- bytes.Clone(b[:n]):
			default:
			}
		}
	}()
	tb.Cleanup(func() {
		_ = k.p.Close()
		<-done
	})
	return k
}

// connect is dial without the reader of the peer's RTP.
func connect(tb testing.TB, e *Engine, audio string, teClock int) *call {
	tb.Helper()
	c := newClient(tb, e.Addr().Addr())
	p, err := e.Accept(c.offer(nil, nil))
	if err != nil {
		tb.Fatalf("Accept(client offer) = %v", err)
	}
	a, d := pick(tb, p.Offered(), audio, teClock)
	answer, err := p.Answer(a, d)
	if err != nil {
		tb.Fatalf("Answer(%v, %v) = %v", a, d, err)
	}
	c.accept(answer)
	k := &call{p: p, c: c, answer: answer, got: make(chan []byte, 4096)}
	tb.Cleanup(func() {
		if err := p.Close(); err != nil {
			tb.Errorf("Peer.Close() = %v", err)
		}
	})
	select {
	case <-p.Connected():
	case <-p.Done():
		tb.Fatalf("peer done before connected: %v", p.Err())
	case <-time.After(wait):
		tb.Fatal("peer not connected")
	}
	select {
	case <-c.up:
	case <-time.After(wait):
		tb.Fatal("client not connected")
	}
	return k
}

// pick finds the offered audio format named audio and the
// telephone-event at teClock.
func pick(tb testing.TB, offered []Codec, audio string, teClock int) (Codec, *Codec) {
	tb.Helper()
	var a Codec
	var d *Codec
	for _, c := range offered {
		switch {
		case strings.EqualFold(c.Name, audio) && a.Name == "":
			a = c
		case c.Name == "telephone-event" && c.Clock == teClock:
			d = &c
		}
	}
	if a.Name == "" || (teClock != 0 && d == nil) {
		tb.Fatalf("offer lacks %s or telephone-event/%d: %v", audio, teClock, offered)
	}
	return a, d
}

// toEngine sends packets of payload type pt from the client every 10 ms
// until one with this payload comes out of ReadRTP, and returns it.
func (k *call) toEngine(tb testing.TB, pt uint8, payload []byte) *rtp.Packet {
	tb.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(wait)
	for {
		if err := k.c.write(pt, payload); err != nil {
			tb.Fatalf("client write: %v", err)
		}
		for {
			select {
			case b := <-k.got:
				var pkt rtp.Packet
				if err := pkt.Unmarshal(b); err != nil {
					tb.Fatalf("ReadRTP gave %x: %v", b, err)
				}
				if bytes.Equal(pkt.Payload, payload) {
					return &pkt
				}
				continue
			case <-tick.C:
			case <-deadline:
				tb.Fatalf("payload %q (pt %d) never came out of ReadRTP", payload, pt)
			}
			break
		}
	}
}

// toClient writes packets of payload type pt with WriteRTP every 10 ms
// until one with this payload reaches the client, and returns it.
func (k *call) toClient(tb testing.TB, pt uint8, payload []byte) *rtp.Packet {
	tb.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(wait)
	var seq uint16
	for {
		seq++
		h := rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: 0xdeadbeef}
		b, _ := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
		if err := k.p.WriteRTP(b); err != nil {
			tb.Fatalf("WriteRTP: %v", err)
		}
		for {
			select {
			case b := <-k.c.rtp:
				var pkt rtp.Packet
				if err := pkt.Unmarshal(b); err != nil {
					tb.Fatalf("client got %x: %v", b, err)
				}
				if bytes.Equal(pkt.Payload, payload) {
					return &pkt
				}
				continue
			case <-tick.C:
			case <-deadline:
				tb.Fatalf("payload %q (pt %d) never reached the client", payload, pt)
			}
			break
		}
	}
}

func splitFields(s string) []string {
	f := strings.Fields(s)
	for len(f) < 8 {
		f = append(f, "")
	}
	return f
}

func contains(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }

// opusPacket is an RTP packet of payload type 111 with a payload of n
// bytes, the size of 20 ms of Opus at 32 to 64 kbit/s for n = 80 to 160.
func opusPacket(seq uint16, n int) []byte {
	b, _ := (&rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: 1},
		Payload: make([]byte, n),
	}).Marshal()
	return b
}

// remoteTrack is the browser's track ReadRTP reads, nil before any.
func (p *Peer) remoteTrack() *pion.TrackRemote {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.remote
}
