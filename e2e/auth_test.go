package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// TestDigestReplay plays an eavesdropper with raw SIP over UDP: the
// Proxy-Authorization of a call that went through, sent again on a new
// call (new Call-ID) to the same number and to another one, is refused; so
// are a digest whose uri is not the Request-URI, an answer without qop,
// and an answer sent from another address than the challenge went to.
func TestDigestReplay(t *testing.T) {
	carrierPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort}})
	sw.Account("alice", "secret")
	uas := runCarrier(t, carrier{answer: "486"}, carrierPort, 1)
	const numberA, numberB = "+442079460018", "+12125550100"
	ua := newRawUA(t, "127.0.0.1", sw.SIPPort)

	// A call that goes through authentication and reaches the carrier (busy).
	chal := ua.invite(numberA, "")
	if chal.StatusCode != 407 {
		t.Fatalf("INVITE without credentials = %d, want 407", chal.StatusCode)
	}
	captured := ua.answer(chal, numberA, numberA, true)
	if res := ua.invite(numberA, captured); res.StatusCode != 486 {
		t.Fatalf("INVITE with credentials = %d %s, want the carrier's 486", res.StatusCode, res.Reason)
	}

	tests := []struct {
		name     string
		number   string
		authz    func() string
		want     int
		stale    bool
		fromAddr string // the source address, when not the challenged one
	}{
		{name: "replay on a new call", number: numberA, authz: func() string { return captured }, want: 407, stale: true},
		{name: "replay to another number", number: numberB, authz: func() string { return captured }, want: 403},
		{name: "uri is not the Request-URI", number: numberB, authz: func() string {
			return ua.answer(ua.invite(numberB, ""), numberB, numberA, true)
		}, want: 403},
		{name: "no qop", number: numberA, authz: func() string {
			return ua.answer(ua.invite(numberA, ""), numberA, numberA, false)
		}, want: 407},
		{name: "answer from another address", number: numberA, fromAddr: "127.0.0.2", authz: func() string {
			return ua.answer(ua.invite(numberA, ""), numberA, numberA, true)
		}, want: 407},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := ua
			if tt.fromAddr != "" {
				from = newRawUA(t, tt.fromAddr, sw.SIPPort)
			}
			authz := tt.authz()
			res := from.invite(tt.number, authz)
			if res.StatusCode != tt.want {
				t.Fatalf("INVITE %s with %q = %d %s, want %d", tt.number, authz, res.StatusCode, res.Reason, tt.want)
			}
			if tt.want == 407 {
				h := res.GetHeader("Proxy-Authenticate")
				if h == nil || strings.Contains(strings.ToLower(h.Value()), "stale=true") != tt.stale {
					t.Errorf("INVITE %s challenge = %v, want stale=%v", tt.number, h, tt.stale)
				}
			}
		})
	}
	if st := uas.Wait(10 * time.Second); st.Successful != 1 {
		t.Errorf("the carrier took %d calls, want the first one\n%s", st.Successful, uas.Errors())
	}
}

// rawUA sends INVITEs over UDP from its own socket and reads the final
// response, as a bare SIP phone would, so a test can put any
// Proxy-Authorization in them.
type rawUA struct {
	t    *testing.T
	conn *net.UDPConn
	to   *net.UDPAddr
	cseq int
}

func newRawUA(t *testing.T, ip string, sipPort int) *rawUA {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawUA{t: t, conn: conn, to: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sipPort}}
}

// requestURI is a SIP URI whose user is number, or number itself when it
// is a tel: URI.
func (u *rawUA) requestURI(number string) string {
	if strings.HasPrefix(number, "tel:") {
		return number
	}
	return fmt.Sprintf("sip:%s@127.0.0.1:%d", number, u.to.Port)
}

// invite sends an INVITE to number on a new Call-ID with the given
// Proxy-Authorization (none when empty), ACKs a non-2xx final response
// and returns it.
func (u *rawUA) invite(number, authz string) *sip.Response {
	u.t.Helper()
	u.cseq++
	local := u.conn.LocalAddr().String()
	branch, tag, callID := "z9hG4bK"+randHex(8), randHex(4), randHex(8)
	sdp := "v=0\r\no=app 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	var auth string
	if authz != "" {
		auth = "Proxy-Authorization: " + authz + "\r\n"
	}
	msg := fmt.Sprintf("INVITE %[1]s SIP/2.0\r\nVia: SIP/2.0/UDP %[2]s;branch=%[3]s;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:alice@127.0.0.1>;tag=%[4]s\r\nTo: <%[1]s>\r\nCall-ID: %[5]s\r\nCSeq: %[6]d INVITE\r\n"+
		"Contact: <sip:alice@%[2]s>\r\n%[7]sContent-Type: application/sdp\r\nContent-Length: %[8]d\r\n\r\n%[9]s",
		u.requestURI(number), local, branch, tag, callID, u.cseq, auth, len(sdp), sdp)
	u.send(msg)
	res := u.final()
	to := res.GetHeader("To")
	if to == nil {
		u.t.Fatalf("response without To: %v", res)
	}
	u.send(fmt.Sprintf("ACK %[1]s SIP/2.0\r\nVia: SIP/2.0/UDP %[2]s;branch=%[3]s;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:alice@127.0.0.1>;tag=%[4]s\r\nTo: %[5]s\r\nCall-ID: %[6]s\r\nCSeq: %[7]d ACK\r\nContent-Length: 0\r\n\r\n",
		u.requestURI(number), local, branch, tag, to.Value(), callID, u.cseq))
	return res
}

// answer computes alice's answer to the first (MD5) challenge of chal for
// an INVITE to number, naming uriNumber in the digest uri; without qop it
// is the RFC 2069 form.
func (u *rawUA) answer(chal *sip.Response, number, uriNumber string, qop bool) string {
	u.t.Helper()
	h := chal.GetHeader("Proxy-Authenticate")
	if chal.StatusCode != 407 || h == nil {
		u.t.Fatalf("INVITE %s without credentials = %d, want 407 with a challenge", number, chal.StatusCode)
	}
	c, err := digest.ParseChallenge(h.Value())
	if err != nil {
		u.t.Fatalf("ParseChallenge(%q) = %v", h.Value(), err)
	}
	if !qop {
		c.QOP = nil
	}
	cr, err := digest.Digest(c, digest.Options{Username: "alice", Password: "secret", Method: "INVITE", URI: u.requestURI(uriNumber), Count: 1})
	if err != nil {
		u.t.Fatalf("Digest = %v", err)
	}
	return cr.String()
}

func (u *rawUA) send(msg string) {
	u.t.Helper()
	if _, err := u.conn.WriteToUDP([]byte(msg), u.to); err != nil {
		u.t.Fatalf("send: %v", err)
	}
}

// final reads responses until a final one.
func (u *rawUA) final() *sip.Response {
	u.t.Helper()
	buf := make([]byte, 65535)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_ = u.conn.SetReadDeadline(deadline)
		n, _, err := u.conn.ReadFromUDP(buf)
		if err != nil {
			u.t.Fatalf("no final response: %v", err)
		}
		m, err := sip.ParseMessage(buf[:n])
		if err != nil {
			u.t.Fatalf("ParseMessage(%q) = %v", buf[:n], err)
		}
		if res, ok := m.(*sip.Response); ok && res.StatusCode >= 200 {
			return res
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
