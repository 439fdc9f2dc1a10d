package webrtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	pion "github.com/pion/webrtc/v4"
)

// Config sets up an Engine.
type Config struct {
	// Bind is the one UDP address all WebRTC media of all calls uses (ICE
	// UDP mux, RFC 8445 + pion's UDPMux), e.g. 0.0.0.0:20000. Port must be
	// non-zero; only for a specific address (127.0.0.1:0 in tests) may it be
	// 0, and then the kernel picks one (see Addr). IPv4 only.
	Bind netip.AddrPort
	// Advertise (NAT 1:1) are the IPs written into host candidates instead
	// of the interface addresses, for a server behind NAT. Empty: the
	// machine's non-loopback IPv4 interface addresses (and loopback too if
	// Bind is a loopback address).
	Advertise []netip.Addr
	// HandshakeTimeout bounds ICE + DTLS after the answer is made; 0 means
	// 10s.
	HandshakeTimeout time.Duration
	Log              *slog.Logger // nil: discard
}

// Engine is the WebRTC side of the switch: one pion API (MediaEngine,
// SettingEngine, interceptors) and one ICE UDP mux shared by every Peer.
type Engine struct {
	api     *pion.API
	mux     ice.UDPMux // *ice.UDPMuxDefault or *ice.MultiUDPMuxDefault
	addr    netip.AddrPort
	timeout time.Duration
	log     *slog.Logger

	mu     sync.Mutex
	peers  map[*Peer]struct{}
	closed bool
}

// defaultHandshakeTimeout bounds ICE + DTLS when Config gives none.
// Chromium on a LAN takes ~15 ms; the slack is for consent checks over
// lossy mobile links and DTLS retransmission (first resend after 1 s).
const defaultHandshakeTimeout = 10 * time.Second

// replayWindow is the SRTP and SRTCP replay window in packets (RFC 3711
// section 3.3.2 asks for at least 64; libsrtp uses 128). Audio at 50
// packets a second reorders far less than that.
const replayWindow = 128

// udpBuffer is the socket buffer asked of the kernel for the mux socket,
// which carries every call (the kernel caps it at net.core.rmem_max).
const udpBuffer = 4 << 20

// New binds the media socket and builds the pion API. The error names what
// failed.
func New(cfg Config) (*Engine, error) {
	bind := netip.AddrPortFrom(cfg.Bind.Addr().Unmap(), cfg.Bind.Port())
	if !bind.Addr().Is4() {
		return nil, fmt.Errorf("webrtc engine: bind %s: need an IPv4 address", cfg.Bind)
	}
	if bind.Port() == 0 && bind.Addr().IsUnspecified() {
		return nil, fmt.Errorf("webrtc engine: bind %s: port must be non-zero", cfg.Bind)
	}
	advertise := make([]string, 0, len(cfg.Advertise))
	for _, ip := range cfg.Advertise {
		ip = ip.Unmap()
		if !ip.Is4() || ip.IsUnspecified() {
			return nil, fmt.Errorf("webrtc engine: advertise %s: need a specific IPv4 address", ip)
		}
		advertise = append(advertise, ip.String())
	}
	e := &Engine{
		timeout: cfg.HandshakeTimeout,
		log:     cfg.Log,
		peers:   make(map[*Peer]struct{}),
	}
	if e.timeout <= 0 {
		e.timeout = defaultHandshakeTimeout
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	logs := pionLogs{e.log}

	mux, addr, err := listen(bind, logs)
	if err != nil {
		return nil, fmt.Errorf("webrtc engine: bind %s: %w", cfg.Bind, err)
	}
	e.mux, e.addr = mux, addr

	se := pion.SettingEngine{LoggerFactory: logs}
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(bind.Addr().IsLoopback())
	if len(advertise) > 0 {
		// The non-deprecated form of SetNAT1To1IPs(advertise, host):
		// every host candidate's address is replaced by the advertised ones.
		err := se.SetICEAddressRewriteRules(pion.ICEAddressRewriteRule{
			External:        advertise,
			AsCandidateType: pion.ICECandidateTypeHost,
			Mode:            pion.ICEAddressRewriteReplace,
		})
		if err != nil {
			_ = mux.Close()
			return nil, fmt.Errorf("webrtc engine: advertise %v: %w", cfg.Advertise, err)
		}
	}
	// The answerer takes the DTLS client role (a=setup:active, which RFC
	// 5763 section 5 recommends; RFC 8842): we send the ClientHello as
	// soon as ICE connects, which saves the browser's round trip of
	// waiting for us.
	if err := se.SetAnsweringDTLSRole(pion.DTLSRoleClient); err != nil {
		_ = mux.Close()
		return nil, fmt.Errorf("webrtc engine: dtls role: %w", err)
	}
	se.SetSRTPReplayProtectionWindow(replayWindow)
	se.SetSRTCPReplayProtectionWindow(replayWindow)

	me, err := newMediaEngine()
	if err != nil {
		_ = mux.Close()
		return nil, fmt.Errorf("webrtc engine: %w", err)
	}
	// Only RTCP sender and receiver reports (RFC 3550 section 6.4): audio
	// has no use for NACK, TWCC or simulcast. headerCache goes first, to
	// sit under the receiver reports.
	ir := &interceptor.Registry{}
	ir.Add(&headerCache{})
	if err := pion.ConfigureRTCPReports(ir); err != nil {
		_ = mux.Close()
		return nil, fmt.Errorf("webrtc engine: rtcp reports: %w", err)
	}
	e.api = pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(se), pion.WithInterceptorRegistry(ir))
	return e, nil
}

// listen opens the ICE UDP mux on bind. A specific address gets one socket
// (pion's UDPMuxDefault). The unspecified address gets pion's
// MultiUDPMuxDefault: one socket per IPv4 interface address, all on the
// one port, so that a reply leaves from the address the browser sent to
// and every address is a host candidate (pion's UDPMuxDefault on 0.0.0.0
// would let the kernel pick the source address, wrong on a multi-homed
// host). Loopback is left out then: browsers do not pair on it.
func listen(bind netip.AddrPort, logs pionLogs) (ice.UDPMux, netip.AddrPort, error) {
	if bind.Addr().IsUnspecified() {
		m, err := ice.NewMultiUDPMuxFromPort(int(bind.Port()),
			ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4),
			ice.UDPMuxFromPortWithReadBufferSize(udpBuffer),
			ice.UDPMuxFromPortWithWriteBufferSize(udpBuffer),
			ice.UDPMuxFromPortWithLogger(logs.NewLogger("udpmux")),
		)
		if err != nil {
			return nil, netip.AddrPort{}, err
		}
		return m, bind, nil
	}
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(bind))
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	_ = conn.SetReadBuffer(udpBuffer)
	_ = conn.SetWriteBuffer(udpBuffer)
	addr := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	return pion.NewICEUDPMux(logs.NewLogger("udpmux"), conn), addr, nil
}

// Addr is the bound address, with the port the kernel picked if Bind gave 0.
func (e *Engine) Addr() netip.AddrPort { return e.addr }

// Close closes every peer still open, then the socket. Later calls return
// nil.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	peers := make([]*Peer, 0, len(e.peers))
	for p := range e.peers {
		peers = append(peers, p)
	}
	e.mu.Unlock()

	var errs []error
	for _, p := range peers {
		errs = append(errs, p.Close())
	}
	if err := e.mux.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close udp mux: %w", err))
	}
	return errors.Join(errs...)
}

// add registers p; it fails once the engine is closed.
func (e *Engine) add(p *Peer) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	e.peers[p] = struct{}{}
	return nil
}

func (e *Engine) remove(p *Peer) {
	e.mu.Lock()
	delete(e.peers, p)
	e.mu.Unlock()
}
