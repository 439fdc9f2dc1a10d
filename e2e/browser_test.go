package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	endian "encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zaf/g711"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/media/codec/tonetest"
)

// The app side of these tests is the real dialer page in headless
// Chromium, driven by web/test/call.mjs (playwright-core); its microphone
// is a 700 Hz tone from a WAV file. The carrier is sipp for SIP and a
// tonePeer for RTP: it plays 1000 Hz back and records what it receives.

const (
	micHz     = 700.0  // what the browser's fake microphone plays
	carrierHz = 1000.0 // what the carrier plays
)

// browserReady returns the driver's path, or skips (fails in CI) when
// Chromium or the page's build is missing.
func browserReady(t *testing.T) string {
	t.Helper()
	root, _ := filepath.Abs("..")
	driver := filepath.Join(root, "web", "test", "call.mjs")
	var missing []string
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		missing = append(missing, "chromium (/usr/bin/chromium)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node")
	}
	for _, pkg := range []string{"playwright-core", "sip.js"} {
		if _, err := os.Stat(filepath.Join(root, "web", "node_modules", pkg)); err != nil {
			missing = append(missing, "web/node_modules/"+pkg+" (npm ci)")
		}
	}
	if _, err := os.Stat(filepath.Join(root, "web", "dist", "dialer.js")); err != nil {
		missing = append(missing, "the dialer bundle web/dist/dialer.js")
	}
	if len(missing) > 0 {
		msg := "browser tests need " + strings.Join(missing, ", ") + ": run make web deps"
		if os.Getenv("DIALTONE_REQUIRE_ALL") == "1" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	return driver
}

// writeToneWAV writes a mono 16-bit 48 kHz WAV of a tone, for Chromium's
// fake microphone (it loops the file).
func writeToneWAV(t *testing.T, hz float64) string {
	t.Helper()
	const rate, seconds = 48000, 2
	var pcm bytes.Buffer
	for i := range rate * seconds {
		endian.Write(&pcm, endian.LittleEndian, int16(10000*math.Sin(2*math.Pi*hz*float64(i)/rate)))
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	endian.Write(&b, endian.LittleEndian, uint32(36+pcm.Len()))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(rate * 2), uint16(2), uint16(16)} {
		endian.Write(&b, endian.LittleEndian, v) // fmt chunk: PCM, mono, 48 kHz, 16-bit
	}
	b.WriteString("data")
	endian.Write(&b, endian.LittleEndian, uint32(pcm.Len()))
	b.Write(pcm.Bytes())
	path := filepath.Join(t.TempDir(), fmt.Sprintf("tone%.0f.wav", hz))
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tonePeer is the carrier's media: it sends a 1000 Hz G.711 tone every
// 20 ms to wherever the switch's packets come from, and keeps the audio
// and RFC 4733 events it receives.
type tonePeer struct {
	Port int
	conn *net.UDPConn
	law  byte // payload type it sends: 0 PCMU, 8 PCMA

	mu     sync.Mutex
	pcm    []int16
	frames []frame // each G.711 packet's arrival and level
	pts    map[byte]int
	events []byte // the event code of each event's first end packet, in order
	ended  map[uint32]bool
	seq    seqCheck
	wg     sync.WaitGroup
	stop   chan struct{}
}

// frame is one received G.711 packet: when it came and its RMS level.
type frame struct {
	at  time.Time
	rms float64
}

func newTonePeer(t *testing.T, law byte) *tonePeer {
	t.Helper()
	var conn *net.UDPConn
	for range 20 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: freePort(t)})
		if err == nil {
			conn = c
			break
		}
	}
	if conn == nil {
		t.Fatal("no port for the carrier's media")
	}
	p := &tonePeer{Port: conn.LocalAddr().(*net.UDPAddr).Port, conn: conn, law: law, pts: map[byte]int{}, ended: map[uint32]bool{}, stop: make(chan struct{})}
	src := make(chan netip.AddrPort, 1)
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if n < 12 || buf[0]>>6 != 2 {
				continue
			}
			select {
			case src <- from:
			default:
			}
			pt, ts, payload := buf[1]&0x7f, endian.BigEndian.Uint32(buf[4:]), buf[12:n]
			p.mu.Lock()
			p.pts[pt]++
			p.seq.add(buf[:n])
			switch {
			case pt == 0 || pt == 8:
				var sum float64
				for _, v := range payload {
					s := g711.DecodeAlawFrame(v)
					if pt == 0 {
						s = g711.DecodeUlawFrame(v)
					}
					p.pcm = append(p.pcm, s)
					sum += float64(s) * float64(s)
				}
				p.frames = append(p.frames, frame{time.Now(), math.Sqrt(sum / float64(max(len(payload), 1)))})
			case pt >= 96 && len(payload) == 4 && payload[1]&0x80 != 0 && !p.ended[ts]:
				p.ended[ts] = true // one event, whose end packet is sent three times
				p.events = append(p.events, payload[0])
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		defer p.wg.Done()
		var to netip.AddrPort
		select {
		case to = <-src:
		case <-p.stop:
			return
		}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		pkt := make([]byte, 12+160)
		for i := 0; ; i++ {
			select {
			case <-tick.C:
			case <-p.stop:
				return
			}
			pkt[0], pkt[1] = 0x80, p.law
			endian.BigEndian.PutUint16(pkt[2:], uint16(i))
			endian.BigEndian.PutUint32(pkt[4:], uint32(160*i))
			endian.BigEndian.PutUint32(pkt[8:], 0xCA771E5)
			for j := range 160 {
				s := int16(8000 * math.Sin(2*math.Pi*carrierHz*float64(160*i+j)/8000))
				if p.law == 0 {
					pkt[12+j] = g711.EncodeUlawFrame(s)
				} else {
					pkt[12+j] = g711.EncodeAlawFrame(s)
				}
			}
			if _, err := conn.WriteToUDPAddrPort(pkt, to); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(p.stop); conn.Close(); p.wg.Wait() })
	return p
}

// seqCheck follows the RTP stream a carrier gets, as a carrier's loss
// accounting and a strict SBC would: sequence numbers one apart, G.711
// packets of 20 ms (160 bytes), audio timestamps 160 apart unless the
// marker bit says a talkspurt starts.
type seqCheck struct {
	packets, audio     int
	gaps, odd, jumps   int    // sequence gaps, G.711 packets not 160 bytes, unmarked timestamp jumps
	first              string // the first problem
	started, haveAudio bool
	ssrc, lastTS       uint32
	lastSeq            uint16
}

func (c *seqCheck) add(pkt []byte) {
	seq, ts, ssrc := endian.BigEndian.Uint16(pkt[2:]), endian.BigEndian.Uint32(pkt[4:]), endian.BigEndian.Uint32(pkt[8:])
	pt, marker, size := pkt[1]&0x7f, pkt[1]&0x80 != 0, len(pkt)-12
	problem := func(n *int, f string, a ...any) {
		*n++
		if c.first == "" {
			c.first = fmt.Sprintf("packet %d: ", c.packets) + fmt.Sprintf(f, a...)
		}
	}
	if c.started && (ssrc != c.ssrc || seq != c.lastSeq+1) {
		problem(&c.gaps, "SSRC %x seq %d after SSRC %x seq %d", ssrc, seq, c.ssrc, c.lastSeq)
	}
	if pt == 0 || pt == 8 {
		if size != 160 {
			problem(&c.odd, "%d bytes of G.711", size)
		}
		if c.haveAudio && ts != c.lastTS+160 && !marker {
			problem(&c.jumps, "timestamp %d after %d without the marker bit", ts, c.lastTS)
		}
		c.audio++
		c.haveAudio, c.lastTS = true, ts
	}
	c.packets++
	c.started, c.ssrc, c.lastSeq = true, ssrc, seq
}

// checkTranscodedRTP checks the stream the transcoder sent the carrier:
// 20 ms packets one sequence number apart, timestamps 160 apart within a
// talkspurt. (A browser sends its digits in place of audio; the switch
// once sent 80 ms of G.711 in one packet after each.)
func checkTranscodedRTP(t *testing.T, p *tonePeer) {
	t.Helper()
	p.mu.Lock()
	c := p.seq
	p.mu.Unlock()
	t.Logf("carrier's RTP: %d packets, %d of G.711; %d sequence gaps, %d not 160 bytes, %d unmarked timestamp jumps",
		c.packets, c.audio, c.gaps, c.odd, c.jumps)
	if c.gaps+c.odd+c.jumps > 0 || c.audio < 100 {
		t.Errorf("carrier's RTP from the transcoder: %d gaps, %d odd sizes, %d jumps in %d packets; want none and 100 of G.711 at least (first: %s)",
			c.gaps, c.odd, c.jumps, c.packets, c.first)
	}
}

// result is what the carrier heard: the tone's SNR over the last second
// of audio, the number of samples, the payload types and the DTMF events.
func (p *tonePeer) result() (snr float64, samples int, pts map[byte]int, events string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	samples = len(p.pcm)
	snr = math.Inf(-1)
	if samples >= 8000 {
		snr = tonetest.SNR(p.pcm[samples-8000:], micHz, 8000)
	}
	const digits = "0123456789*#ABCD"
	for _, e := range p.events {
		if int(e) < len(digits) {
			events += string(digits[e])
		}
	}
	pts = map[byte]int{}
	for k, v := range p.pts {
		pts[k] = v
	}
	return snr, samples, pts, events
}

// level is the median RMS of the G.711 packets received between from
// and to, and how many there were.
func (p *tonePeer) level(from, to time.Time) (rms float64, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var levels []float64
	for _, f := range p.frames {
		if f.at.After(from) && f.at.Before(to) {
			levels = append(levels, f.rms)
		}
	}
	if len(levels) == 0 {
		return 0, 0
	}
	slices.Sort(levels)
	return levels[len(levels)/2], len(levels)
}

// driverEvent is one line the browser driver prints.
type driverEvent struct {
	Event     string  `json:"event"`
	State     string  `json:"state"`
	Reason    string  `json:"reason"`
	Digit     string  `json:"digit"`
	PeakHz    float64 `json:"peakHz"`
	LevelDB   float64 `json:"levelDb"`
	MedianDB  float64 `json:"medianDb"`
	Detected  bool    `json:"detected"`
	AfterHold bool    `json:"afterHold"`
	Early     bool    `json:"early"`
	At        int64   `json:"at"`    // ms since the epoch
	Code      int     `json:"code"`  // the SIP refusal a call ended with
	Shown     string  `json:"shown"` // what the page showed (dialed, timer)
	MS        int64   `json:"ms"`
	OK        bool    `json:"ok"`
	Error     string  `json:"error"`
	AuthUser  string  `json:"authUser"` // the SIP digest username the page registered with
	Count     int     `json:"count"`
}

// runBrowser runs the driver with its JSON input and returns its events.
func runBrowser(t *testing.T, driver string, input map[string]any) []driverEvent {
	t.Helper()
	arg, _ := json.Marshal(input)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", driver, string(arg))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var events []driverEvent
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var e driverEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Event != "" {
			events = append(events, e)
		}
	}
	if err != nil || len(events) == 0 || events[len(events)-1].Event != "done" || !events[len(events)-1].OK {
		t.Errorf("browser driver: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	return events
}

// appCredential is the digest username of app credentials.
var appCredential = regexp.MustCompile(`^[1-9][0-9]{0,11}~[A-Za-z0-9._-]+$`)

// mmss is d as the page's call timer shows it.
func mmss(d time.Duration) string {
	s := int(d / time.Second)
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

func findEvent(events []driverEvent, name string) (driverEvent, bool) {
	for _, e := range events {
		if e.Event == name {
			return e, true
		}
	}
	return driverEvent{}, false
}

// TestBrowserCall: the dialer page in Chromium signs in with the
// companion API, registers over SIP on WebSocket with the SIP credentials
// the API issued (renewed before they expire: the wss case lets them live
// 3 s and calls after 4 s), calls a number, and audio and DTMF cross the switch both
// ways; the carrier's early media (183) is heard before it answers;
// hang-up works from either side; the CDR names both legs' codecs.
// Chromium offers Opus first, which the switch transcodes to the
// carrier's PCMU; with the page limited to PCMU, packets pass through.
// DIALTONE_BROWSER_DEBUG=1 adds the page's console and JsSIP's log (SIP
// messages included) to the driver's output.
func TestBrowserCall(t *testing.T) {
	driver := browserReady(t)
	wav := writeToneWAV(t, micHz)
	tests := []struct {
		name      string
		codecs    string // the page's ?codecs=
		hangup    string // "page" or "remote"
		holdCycle bool   // hold and unhold (re-INVITEs) during the call
		early     bool   // the carrier sends 183 and its tone for 5 s before it answers
		mute      bool   // the page mutes for 2 s
		wss       bool   // SIP over secure WebSocket (a self-signed certificate the browser is told to accept); SIP credentials live 3 s
		appCodec  string
		hangupBy  dialtone.Party
		carrierPT byte
	}{
		{"opus to PCMU, early media, mute, hold and unhold, page hangs up", "", "page", true, true, true, false, "opus", dialtone.PartyCaller, 0},
		{"PCMU passes through over wss, carrier hangs up", "PCMU", "remote", false, false, false, true, "PCMU", dialtone.PartyCallee, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			carrierPort := freePort(t)
			media := newTonePeer(t, tt.carrierPT)
			c := carrier{answer: "200", rtpPort: media.Port, codec: "PCMU", eventPT: 126, early: tt.early, earlyMS: 5000}
			if tt.hangup == "remote" {
				c.byeMS = 6000
			}
			sippCarrier := runCarrier(t, c, carrierPort, 1)
			wsPort, webrtcPort := freePort(t), freePort(t)
			sipExtra := fmt.Sprintf(`listen: [{transport: udp, addr: "127.0.0.1:%d"}, {transport: ws, addr: "127.0.0.1:%d"}]`, freePort(t), wsPort)
			spki := ""
			if tt.wss {
				certPath, keyPath, cert := selfSigned(t)
				sum := sha256.Sum256(cert.Leaf.RawSubjectPublicKeyInfo)
				spki = base64.StdEncoding.EncodeToString(sum[:])
				sipExtra = fmt.Sprintf("tls_cert: %q\n  tls_key: %q\n  app_credential_ttl: 3s\n  %s", certPath, keyPath, strings.Replace(sipExtra, "transport: ws,", "transport: wss,", 1))
			}
			sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort},
				SIPExtra:   sipExtra,
				MediaExtra: fmt.Sprintf(`webrtc: {listen: "0.0.0.0:%d"}`, webrtcPort),
			})
			sw.Account("alice", "secret")
			input := map[string]any{
				"url": fmt.Sprintf("http://127.0.0.1:%d/", sw.HTTPPort), "user": "alice", "password": "secret",
				"number": "+442079460018", "codecs": tt.codecs, "wav": wav,
				"dtmf": "123#", "toneHz": carrierHz, "hangup": tt.hangup, "holdMs": 9000, "timeoutMs": 60000,
				"holdCycle": tt.holdCycle, "debug": os.Getenv("DIALTONE_BROWSER_DEBUG") != "", "spki": spki,
			}
			if tt.early {
				input["earlyToneHz"] = carrierHz
			}
			if tt.wss {
				input["callAfterMs"] = 4000 // past the first credentials' 3 s
			}
			if tt.mute {
				input["muteMs"] = 2000
				input["holdMs"] = 13000
			}
			events := runBrowser(t, driver, input)
			if tt.mute {
				mute, ok1 := findEvent(events, "mute")
				unmute, ok2 := findEvent(events, "unmute")
				if !ok1 || !ok2 || !mute.OK || !unmute.OK {
					t.Errorf("mute and unmute from the page: %+v %+v, want both to take", mute, unmute)
				} else {
					// Allow 300 ms for what was on its way when the button was clicked.
					muted, n := media.level(time.UnixMilli(mute.At+300), time.UnixMilli(unmute.At))
					live, m := media.level(time.UnixMilli(unmute.At+300), time.UnixMilli(unmute.At+1300))
					t.Logf("carrier level while muted %.0f (%d packets), after unmute %.0f (%d packets)", muted, n, live, m)
					if n < 50 || m < 25 || live < 100 || muted > live/30 {
						t.Errorf("muted the carrier heard RMS %.0f over %d packets, unmuted %.0f over %d: want packets both times, sound unmuted (RMS 100 or more, -50 dBFS) and over 30 dB less muted", muted, n, live, m)
					}
				}
			}
			if tt.early {
				heard := false
				for _, e := range events {
					heard = heard || e.Event == "tone" && e.Early && e.Detected
				}
				if !heard {
					t.Errorf("the page did not hear the carrier's early media (183) before the answer: %+v", events)
				}
			}
			if tt.holdCycle {
				for _, op := range []string{"hold", "unhold"} {
					if e, ok := findEvent(events, op); !ok || !e.OK {
						t.Errorf("%s from the page: %+v, want the re-INVITE answered", op, e)
					}
				}
				heard := false
				for _, e := range events {
					heard = heard || e.Event == "tone" && e.AfterHold && e.Detected
				}
				if !heard {
					t.Errorf("the page did not hear the carrier again after unhold: %+v", events)
				}
			}
			reg, ok := findEvent(events, "registered")
			if !ok {
				t.Errorf("the page did not sign in: %+v", events)
			} else if !appCredential.MatchString(reg.AuthUser) || !strings.HasSuffix(reg.AuthUser, "~alice") {
				t.Errorf("the page registered as %q, want SIP credentials from the API (EXPIRY~alice)", reg.AuthUser)
			}
			if tt.wss {
				if r, ok := findEvent(events, "renewed"); !ok || r.Count < 1 || r.AuthUser == reg.AuthUser {
					t.Errorf("before calling: %+v, want the page to have renewed its credentials (first %q)", r, reg.AuthUser)
				}
			}
			if d, _ := findEvent(events, "dialed"); d.Shown != "+44 20 7946 0018" {
				t.Errorf("the page showed the number typed as %q, want it formatted \"+44 20 7946 0018\"", d.Shown)
			}
			if tm, ok := findEvent(events, "timer"); ok {
				// mm:ss of the time connected, give or take a second (it ticks once a
				// second, from the page's moment of connecting, not the driver's)
				if want := time.Duration(tm.MS) * time.Millisecond; !slices.Contains([]string{mmss(want - time.Second), mmss(want), mmss(want + time.Second)}, tm.Shown) {
					t.Errorf("the call timer showed %q after %v connected", tm.Shown, want)
				}
			} else if tt.hangup == "page" {
				t.Errorf("no call timer read before hanging up: %+v", events)
			}
			if tone, ok := findEvent(events, "tone"); !ok || !tone.Detected {
				t.Errorf("the page did not hear the carrier's %.0f Hz: %+v", carrierHz, tone)
			}
			ended, ok := findEvent(events, "ended")
			if !ok {
				t.Errorf("the page never showed the call ended: %+v", events)
			}
			st := sippCarrier.Wait(20 * time.Second)
			if st.Successful != 1 {
				t.Errorf("carrier sipp: %+v, want 1 successful call (BYE seen or sent)\n%s", st, sippCarrier.Errors())
			}
			snr, samples, pts, digits := media.result()
			t.Logf("carrier heard %d samples, %.0f Hz SNR %.1f dB, payload types %v, DTMF %q; page: %+v", samples, micHz, snr, pts, digits, ended)
			if snr < 10 {
				t.Errorf("the carrier did not hear the browser's %.0f Hz: SNR %.1f dB over the last second (%d samples)", micHz, snr, samples)
			}
			if digits != "123#" {
				t.Errorf("carrier got DTMF %q, want \"123#\" as RFC 4733 events", digits)
			}
			if tt.appCodec == "opus" {
				checkTranscodedRTP(t, media) // across the digits, mute and hold
			}
			cdrs := sw.CDRs(1)
			if len(cdrs) != 1 {
				t.Fatalf("%d CDRs, want 1", len(cdrs))
			}
			cdr := cdrs[0]
			if cdr.Disposition != dialtone.Answered || cdr.AppCodec != tt.appCodec || cdr.CarrierCodec != "PCMU" || cdr.HangupBy != tt.hangupBy {
				t.Errorf("CDR %s codecs %s/%s hangup by %s, want ANSWERED %s/PCMU by %s", cdr.Disposition, cdr.AppCodec, cdr.CarrierCodec, cdr.HangupBy, tt.appCodec, tt.hangupBy)
			}
			if cdr.AppPackets < 100 || cdr.CarrierPackets < 100 {
				t.Errorf("CDR packets app %d carrier %d, want at least 100 each", cdr.AppPackets, cdr.CarrierPackets)
			}
			if n := sw.Metric("dialtone_relay_packet_seconds_count"); n < float64(cdr.AppPackets) {
				t.Errorf("dialtone_relay_packet_seconds_count = %v, want the %d packets relayed from the app at least", n, cdr.AppPackets)
			}
		})
	}
}

// TestSIPjsCall: SIP.js, a WebRTC SIP client the switch does not ship,
// registers over WebSocket with digest auth in Chromium and calls out;
// audio crosses both ways (Opus transcoded to the carrier's PCMU), DTMF
// arrives at the carrier, and its BYE ends the call with a CDR.
func TestSIPjsCall(t *testing.T) {
	driver := filepath.Join(filepath.Dir(browserReady(t)), "sipjs.mjs")
	wav := writeToneWAV(t, micHz)
	carrierPort := freePort(t)
	media := newTonePeer(t, 0)
	sippCarrier := runCarrier(t, carrier{answer: "200", rtpPort: media.Port, codec: "PCMU"}, carrierPort, 1)
	wsPort, webrtcPort := freePort(t), freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort},
		SIPExtra:   fmt.Sprintf(`listen: [{transport: udp, addr: "127.0.0.1:%d"}, {transport: ws, addr: "127.0.0.1:%d"}]`, freePort(t), wsPort),
		MediaExtra: fmt.Sprintf(`webrtc: {listen: "0.0.0.0:%d"}`, webrtcPort),
	})
	sw.Account("alice", "secret")
	events := runBrowser(t, driver, map[string]any{
		"url": fmt.Sprintf("http://127.0.0.1:%d/", sw.HTTPPort), "user": "alice", "password": "secret",
		"number": "+442079460018", "wav": wav, "toneHz": carrierHz, "dtmf": "123#", "holdMs": 6000, "timeoutMs": 60000,
	})
	if reg, ok := findEvent(events, "registered"); !ok || !appCredential.MatchString(reg.AuthUser) {
		t.Errorf("SIP.js did not register with SIP credentials from the API: %+v", events)
	}
	if tone, ok := findEvent(events, "tone"); !ok || !tone.Detected {
		t.Errorf("SIP.js did not hear the carrier's %.0f Hz: %+v", carrierHz, tone)
	}
	if st := sippCarrier.Wait(20 * time.Second); st.Successful != 1 {
		t.Errorf("carrier sipp: %+v, want 1 successful call (BYE from SIP.js)\n%s", st, sippCarrier.Errors())
	}
	snr, samples, pts, digits := media.result()
	t.Logf("carrier heard %d samples, %.0f Hz SNR %.1f dB, payload types %v, DTMF %q", samples, micHz, snr, pts, digits)
	if snr < 10 {
		t.Errorf("the carrier did not hear SIP.js's %.0f Hz: SNR %.1f dB over the last second", micHz, snr)
	}
	if digits != "123#" {
		t.Errorf("carrier got DTMF %q, want \"123#\" as RFC 4733 events", digits)
	}
	checkTranscodedRTP(t, media)
	cdrs := sw.CDRs(1)
	if len(cdrs) != 1 {
		t.Fatalf("%d CDRs, want 1", len(cdrs))
	}
	if c := cdrs[0]; c.Disposition != dialtone.Answered || c.AppCodec != "opus" || c.CarrierCodec != "PCMU" || c.HangupBy != dialtone.PartyCaller {
		t.Errorf("CDR %s codecs %s/%s hangup by %s, want ANSWERED opus/PCMU by caller", c.Disposition, c.AppCodec, c.CarrierCodec, c.HangupBy)
	}
}

// TestBrowserRefusals: the dialer page says in plain words why the switch
// refused: a wrong password at sign-in, a caller without enough credit
// (402), a destination without a rate (403).
func TestBrowserRefusals(t *testing.T) {
	driver := browserReady(t)
	wsPort, webrtcPort := freePort(t), freePort(t)
	sw := billedSwitchWith(t, Options{Store: "sqlite", Trunks: []int{freePort(t)},
		SIPExtra:   fmt.Sprintf(`listen: [{transport: udp, addr: "127.0.0.1:%d"}, {transport: ws, addr: "127.0.0.1:%d"}]`, freePort(t), wsPort),
		MediaExtra: fmt.Sprintf(`webrtc: {listen: "0.0.0.0:%d"}`, webrtcPort),
	})
	sw.billedAccount("alice", "1.00")
	sw.billedAccount("broke", "0.04") // a UK call costs 0.086 at least
	url := fmt.Sprintf("http://127.0.0.1:%d/", sw.HTTPPort)
	for _, tt := range []struct {
		name  string
		input map[string]any
		code  int // of the refused call
	}{
		{"wrong password", map[string]any{"user": "alice", "password": "nope", "expectSignInError": "wrong username or password"}, 0},
		{"not enough credit", map[string]any{"user": "broke", "password": "secret", "number": "+442079460018", "expectReason": "not enough credit"}, 402},
		{"no rate", map[string]any{"user": "alice", "password": "secret", "number": "+33142685300", "expectReason": "this destination is blocked"}, 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.input["url"] = url
			events := runBrowser(t, driver, tt.input)
			var shown string
			for _, e := range events {
				switch e.Event {
				case "ended":
					shown = e.Reason
					if e.Code != tt.code {
						t.Errorf("the call ended with SIP %d, want %d", e.Code, tt.code)
					}
				case "signin_failed":
					shown = e.Error
				}
			}
			t.Logf("the page showed %q", shown) // the driver checked it
		})
	}
	if w := sw.wallet("broke"); !w.Equal(dec("0.04")) {
		t.Errorf("the refused caller's wallet = %s, want 0.04 untouched", w)
	}
}

// TestBrowserHangupIsCallers: the page hangs up call after call. The
// browser closes its DTLS (close_notify) and sends its BYE at about the
// same moment, in either order: every CDR must say the caller hung up, and
// the log must not blame a media timeout.
func TestBrowserHangupIsCallers(t *testing.T) {
	driver := browserReady(t)
	const calls = 6
	carrierPort := freePort(t)
	media := newTonePeer(t, 0)
	sippCarrier := runCarrier(t, carrier{answer: "200", rtpPort: media.Port, codec: "PCMU", eventPT: 126}, carrierPort, calls)
	wsPort, webrtcPort := freePort(t), freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort},
		SIPExtra:   fmt.Sprintf(`listen: [{transport: udp, addr: "127.0.0.1:%d"}, {transport: ws, addr: "127.0.0.1:%d"}]`, freePort(t), wsPort),
		MediaExtra: fmt.Sprintf(`webrtc: {listen: "0.0.0.0:%d"}`, webrtcPort),
	})
	sw.Account("alice", "secret")
	events := runBrowser(t, driver, map[string]any{
		"url": fmt.Sprintf("http://127.0.0.1:%d/", sw.HTTPPort), "user": "alice", "password": "secret",
		"number": "+442079460018", "hangup": "page", "holdMs": 300, "calls": calls, "timeoutMs": 60000,
		"debug": os.Getenv("DIALTONE_BROWSER_DEBUG") != "",
	})
	ended := 0
	for _, e := range events {
		if e.Event == "ended" {
			ended++
		}
	}
	if ended != calls {
		t.Errorf("the page ended %d calls, want %d: %+v", ended, calls, events)
	}
	if st := sippCarrier.Wait(20 * time.Second); st.Successful != calls {
		t.Errorf("carrier sipp: %+v, want %d successful calls (each ended by our BYE)\n%s", st, calls, sippCarrier.Errors())
	}
	cdrs := sw.CDRs(calls)
	if len(cdrs) != calls {
		t.Fatalf("%d CDRs, want %d", len(cdrs), calls)
	}
	for i, c := range cdrs {
		if c.Disposition != dialtone.Answered || c.HangupBy != dialtone.PartyCaller {
			t.Errorf("CDR %d: %s hangup by %q, want ANSWERED hung up by the caller", i, c.Disposition, c.HangupBy)
		}
	}
	log, err := os.ReadFile(filepath.Join(sw.dir, "switch.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(log, []byte("media timeout")); n != 0 {
		t.Errorf("%d log lines blame a media timeout for calls the page hung up", n)
	}
	t.Logf("calls whose DTLS closed before their BYE came: %d of %d", bytes.Count(log, []byte("app closed its media: waiting for its BYE")), calls)
}
