package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	pion "github.com/pion/webrtc/v4"

	"github.com/dialtone/dialtone"
)

// browserOffer is a WebRTC offer from a peer that goes away at once: its
// ICE candidates lead nowhere, as with a browser that crashed or lost its
// network right after calling.
func browserOffer(t *testing.T) string {
	t.Helper()
	var m pion.MediaEngine
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := pion.NewAPI(pion.WithMediaEngine(&m)).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(pion.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc.LocalDescription().SDP
}

// sipPhone is a sipgo user agent placing calls to the switch over TCP and
// answering the BYEs it gets.
type sipPhone struct {
	dialogs *sipgo.DialogClientCache
	byes    atomic.Int32
}

func newSIPPhone(t *testing.T) *sipPhone {
	t.Helper()
	port := freePort(t)
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua)
	client, _ := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port))
	p := &sipPhone{dialogs: sipgo.NewDialogClientCache(client, sip.ContactHeader{Address: sip.Uri{User: "alice", Host: "127.0.0.1", Port: port, UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}}})}
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := p.dialogs.ReadBye(req, tx); err == nil {
			p.byes.Add(1)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	go srv.ListenAndServe(context.WithValue(ctx, sipgo.ListenReadyCtxKey, sipgo.ListenReadyCtxValue(ready)), "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	<-ready
	t.Cleanup(func() { cancel(); ua.Close() })
	return p
}

// call sends INVITE with offer, answers the digest challenge and returns
// the dialog once answered, or the final failure response.
func (p *sipPhone) call(t *testing.T, sw *Switch, number, offer string) (*sipgo.DialogClientSession, *sip.Response) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// TCP: a WebRTC offer with its candidates does not fit a UDP datagram under the MTU.
	d, err := p.dialogs.Invite(ctx, sip.Uri{User: number, Host: "127.0.0.1", Port: sw.SIPPort, UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}}, []byte(offer), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatal(err)
	}
	err = d.WaitAnswer(ctx, sipgo.AnswerOptions{Username: "alice", Password: "secret"})
	var failed *sipgo.ErrDialogResponse
	if errors.As(err, &failed) {
		return nil, failed.Res
	}
	if err != nil {
		t.Fatalf("INVITE: %v", err)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	return d, d.InviteResponse
}

// TestWebRTCBadInput: an offer the switch cannot carry is refused with 488
// and a Warning saying why; a browser that never completes ICE and DTLS is
// hung up within the handshake timeout, with a CDR.
func TestWebRTCBadInput(t *testing.T) {
	carrierPort := freePort(t)
	media := newReceiver(t)
	sippCarrier := runCarrier(t, carrier{answer: "200", rtpPort: media.Port, codec: "PCMU"}, carrierPort, 1)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort},
		MediaExtra: fmt.Sprintf(`webrtc: {listen: "0.0.0.0:%d", handshake_timeout: 2s}`, freePort(t))})
	sw.Account("alice", "secret")
	phone := newSIPPhone(t)

	webrtc := browserOffer(t)
	sdes := strings.NewReplacer("UDP/TLS/RTP/SAVPF", "RTP/SAVPF", "a=fingerprint:", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\na=x-fingerprint:").Replace(webrtc)
	g722 := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n"
	for _, tt := range []struct{ name, offer, warning string }{
		{"SDES keys", sdes, "DTLS-SRTP"},
		{"no usable codec", g722, "none of opus, PCMU, PCMA"},
	} {
		_, res := phone.call(t, sw, "+442079460018", tt.offer)
		if res == nil || res.StatusCode != 488 {
			t.Errorf("%s: response %v, want 488", tt.name, res)
			continue
		}
		if w := res.GetHeader("Warning"); w == nil || !strings.Contains(w.Value(), tt.warning) {
			t.Errorf("%s: Warning %v, want it to say %q", tt.name, w, tt.warning)
		}
	}

	start := time.Now()
	d, res := phone.call(t, sw, "+442079460018", webrtc)
	if d == nil {
		t.Fatalf("WebRTC call answered %v, want 200", res)
	}
	if !strings.Contains(string(res.Body()), "UDP/TLS/RTP/SAVPF") || !strings.Contains(string(res.Body()), "a=fingerprint") {
		t.Errorf("answer to a WebRTC offer is not DTLS-SRTP:\n%s", res.Body())
	}
	deadline := time.Now().Add(15 * time.Second)
	for phone.byes.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if phone.byes.Load() != 1 {
		t.Fatalf("no BYE from the switch %v after answering a browser that never connected", time.Since(start))
	}
	t.Logf("switch hung up the unconnected browser %v after the INVITE", time.Since(start).Round(time.Millisecond))
	if st := sippCarrier.Wait(10 * time.Second); st.Successful != 1 {
		t.Errorf("carrier: %+v, want its call ended by the switch's BYE", st)
	}
	var refused, answered int
	for _, c := range sw.CDRs(3) {
		switch {
		case c.SIPCode == 488:
			refused++
		case c.Disposition == dialtone.Answered && c.HangupBy == dialtone.PartySwitch && c.AppCodec == "opus" && c.CarrierCodec == "PCMU":
			answered++
		default:
			t.Errorf("CDR %s %d hangup by %s codecs %s/%s, want 488 or ANSWERED opus/PCMU hung up by the switch", c.Disposition, c.SIPCode, c.HangupBy, c.AppCodec, c.CarrierCodec)
		}
	}
	if refused != 2 || answered != 1 {
		t.Errorf("CDRs: %d refused with 488, %d answered; want 2 and 1", refused, answered)
	}
}
