package e2e

import (
	endian "encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStrictRTPAttackerFirst: an attacker sprays RTP, in sequence and at
// random, at the media ports the switch advertises on both legs (read from
// the SDP the switch sends to the carrier in its INVITE and to the app in
// its 183), from the moment each is sent; the app's phone and the carrier
// start sending a second after the 200. Each side must get the other's
// audio and not one of the attacker's packets.
func TestStrictRTPAttackerFirst(t *testing.T) {
	carrierPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort}})
	sw.Account("alice", "secret")
	phone, far := newMediaPeer(t), newMediaPeer(t)
	uas := startSipp(t, carrier{answer: "200", rtpPort: far.port(), early: true, earlyMS: 1000}.scenario(),
		"-p", strconv.Itoa(carrierPort), "-m", "1", "-trace_msg")
	time.Sleep(200 * time.Millisecond) // let it bind
	scen := strings.NewReplacer("c=IN IP4 [media_ip]", "c=IN IP4 127.0.0.1", "m=audio [media_port]", "m=audio "+strconv.Itoa(phone.port())).
		Replace(appCall{user: "alice", password: "secret", holdMS: 4000, end: "bye"}.scenario())
	app := startSipp(t, scen, fmt.Sprintf("127.0.0.1:%d", sw.SIPPort), "-s", "+442079460018",
		"-p", strconv.Itoa(freePort(t)), "-m", "1", "-trace_msg")

	stop := make(chan struct{})
	var attackers sync.WaitGroup
	defer func() { close(stop); attackers.Wait() }()
	ports := map[string]int{}
	for _, leg := range []struct {
		name string
		sipp *Sipp
		what string // the message whose SDP names the switch's port for this leg
	}{{"carrier", uas, "INVITE sip:"}, {"app", app, "SIP/2.0 183"}} {
		port := awaitReceived(t, leg.sipp, leg.what, stop)
		if port == 0 {
			t.Fatalf("the %s got no %q with SDP\n%s", leg.name, leg.what, messages(leg.sipp))
		}
		ports[leg.name] = port
		attackers.Go(func() { attack(t, port, stop) })
	}
	if awaitReceived(t, app, "SIP/2.0 200 OK", stop) == 0 {
		t.Fatalf("the app got no 200 with SDP\n%s", messages(app))
	}
	time.Sleep(time.Second)
	const packets = 100 // 2 s of 20 ms packets each way
	var senders sync.WaitGroup
	senders.Go(func() { phone.send(ports["app"], "phone", packets) })
	senders.Go(func() { far.send(ports["carrier"], "carrier", packets) })
	senders.Wait()
	mustPass(t, "app", app, 30*time.Second)
	mustPass(t, "carrier", uas, 10*time.Second)
	for _, c := range []struct {
		who  string
		p    *mediaPeer
		want string
	}{{"the app's phone", phone, "carrier"}, {"the carrier", far, "phone"}} {
		got := c.p.counts()
		if got["attack"] != 0 || got[c.want] < packets*95/100 {
			t.Errorf("%s got %v, want the %s's %d packets and none of the attacker's", c.who, got, c.want, packets)
		}
	}
	waitIdle(t, sw)
}

var sdpPort = regexp.MustCompile(`m=audio (\d+)`)

// awaitReceived waits until sipp's message trace shows a received message
// starting with what and carrying SDP, and returns the SDP's media port;
// 0 once stop is closed or after 15 s.
func awaitReceived(t *testing.T, s *Sipp, what string, stop <-chan struct{}) int {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		matches, _ := filepath.Glob(filepath.Join(s.dir, "*_messages.log"))
		for _, m := range matches {
			data, _ := os.ReadFile(m)
			for _, msg := range strings.Split(string(data), "-----------------------------------------------") {
				_, body, ok := strings.Cut(msg, "message received")
				if !ok || !strings.Contains(body, what) {
					continue
				}
				if sub := sdpPort.FindStringSubmatch(body); sub != nil {
					p, _ := strconv.Atoi(sub[1])
					return p
				}
			}
		}
		select {
		case <-stop:
			return 0
		case <-time.After(5 * time.Millisecond):
		}
	}
	return 0
}

// attack sprays port with PCMA packets until stop: one socket in sequence,
// one with random sequence numbers, a packet each every 2 ms.
func attack(t *testing.T, port int, stop <-chan struct{}) {
	t.Helper()
	var conns [2]*net.UDPConn
	for i := range conns {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		conns[i] = c
	}
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for seq := uint16(1000); ; seq++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		_, _ = conns[0].WriteToUDPAddrPort(rtpPacket(seq, 0xbad, "attack"), to)
		_, _ = conns[1].WriteToUDPAddrPort(rtpPacket(uint16(rand.N(1<<16)), 0xbad, "attack"), to)
	}
}

func rtpPacket(seq uint16, ssrc uint32, tag string) []byte {
	pkt := make([]byte, 12, 12+len(tag))
	pkt[0], pkt[1] = 0x80, 8 // PCMA
	endian.BigEndian.PutUint16(pkt[2:], seq)
	endian.BigEndian.PutUint32(pkt[4:], uint32(seq)*160)
	endian.BigEndian.PutUint32(pkt[8:], ssrc)
	return append(pkt, tag...)
}

// mediaPeer is a phone's or carrier's media socket at its SDP address: it
// sends RTP tagged with who sent it and counts what it receives by tag.
type mediaPeer struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  map[string]int
	wg   sync.WaitGroup
}

func newMediaPeer(t *testing.T) *mediaPeer {
	t.Helper()
	conn := listenMedia(t)
	p := &mediaPeer{conn: conn, got: map[string]int{}}
	p.wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			if n >= 12 {
				p.mu.Lock()
				p.got[string(buf[12:n])]++
				p.mu.Unlock()
			}
		}
	})
	t.Cleanup(func() { conn.Close(); p.wg.Wait() })
	return p
}

func (p *mediaPeer) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

// send sends n packets tagged tag, 20 ms apart, to the switch's port.
func (p *mediaPeer) send(port int, tag string, n int) {
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	ssrc := rand.Uint32()
	for i := range n {
		_, _ = p.conn.WriteToUDPAddrPort(rtpPacket(uint16(i), ssrc, tag), to)
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *mediaPeer) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.got))
	for k, v := range p.got {
		out[k] = v
	}
	return out
}
