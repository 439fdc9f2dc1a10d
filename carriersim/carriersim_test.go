package carriersim_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone/carriersim"
	"github.com/dialtone/dialtone/media/sdp"
)

// TestAnswerAndEcho: an INVITE with a PCMA offer is rung, answered with
// PCMA in SDP, and RTP sent to the answer comes back; BYE ends the call.
func TestAnswerAndEcho(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- carriersim.Serve(ctx, pc, carriersim.Config{MediaIP: netip.MustParseAddr("127.0.0.1"), Ring: 10 * time.Millisecond,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve = %v after its context ended, want nil", err)
		}
	})
	sim := pc.LocalAddr().(*net.UDPAddr).AddrPort()

	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rtp.Close()
	offer, err := sdp.NewBuilder(1).Build(sdp.Description{Addr: rtp.LocalAddr().(*net.UDPAddr).AddrPort(),
		Codecs: []sdp.Codec{{PT: 8, Name: "PCMA", Clock: 8000, Channels: 1}, {PT: 101, Name: "telephone-event", Clock: 8000, Channels: 1, Fmtp: "0-16"}}})
	if err != nil {
		t.Fatal(err)
	}

	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-switch"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	dest := sip.Uri{Scheme: "sip", User: "442079460018", Host: sim.Addr().String(), Port: int(sim.Port())}
	dc := sipgo.NewDialogClientCache(client, sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "switch", Host: "127.0.0.1", Port: 5060}})
	tctx, tcancel := context.WithTimeout(ctx, 10*time.Second)
	defer tcancel()
	call, err := dc.Invite(tctx, dest, offer, sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()
	var codes []int
	err = call.WaitAnswer(tctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		codes = append(codes, res.StatusCode)
		return nil
	}})
	if err != nil || len(codes) < 2 || codes[len(codes)-2] != 180 || codes[len(codes)-1] != 200 {
		t.Fatalf("INVITE answered %v (%v), want 180 then 200", codes, err)
	}
	if err := call.Ack(tctx); err != nil {
		t.Fatal(err)
	}
	answer := call.InviteResponse
	got, err := sdp.Parse(answer.Body())
	if err != nil {
		t.Fatalf("answer SDP: %v\n%s", err, answer.Body())
	}
	if len(got.Codecs) == 0 || got.Codecs[0].Name != "PCMA" || !got.Addr.IsValid() {
		t.Fatalf("answer SDP = %+v, want PCMA at an address", got)
	}

	packet := []byte{0x80, 8, 0, 1, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef, 0xd5, 0xd5}
	if _, err := rtp.WriteToUDPAddrPort(packet, got.Addr); err != nil {
		t.Fatal(err)
	}
	_ = rtp.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, from, err := rtp.ReadFromUDPAddrPort(buf)
	if err != nil || !bytes.Equal(buf[:n], packet) || from != got.Addr {
		t.Fatalf("echo = %x from %v, %v; want %x from %v", buf[:n], from, err, packet, got.Addr)
	}

	if err := call.Bye(tctx); err != nil {
		t.Fatalf("BYE = %v, want 200", err)
	}
	// The call's socket is closed: the echo stops.
	if _, err := rtp.WriteToUDPAddrPort(packet, got.Addr); err != nil {
		t.Fatal(err)
	}
	_ = rtp.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := rtp.ReadFromUDPAddrPort(buf); err == nil {
		t.Errorf("echo after BYE: %x", buf[:n])
	}
}

// TestRejectsUnusableOffer: an offer without PCMU or PCMA gets 488.
func TestRejectsUnusableOffer(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = carriersim.Serve(ctx, pc, carriersim.Config{MediaIP: netip.MustParseAddr("127.0.0.1"), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	t.Cleanup(func() { cancel(); <-done })
	offer, err := sdp.NewBuilder(1).Build(sdp.Description{Addr: netip.MustParseAddrPort("127.0.0.1:40000"),
		Codecs: []sdp.Codec{{PT: 9, Name: "G722", Clock: 8000, Channels: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	sim := pc.LocalAddr().(*net.UDPAddr)
	invite := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "1", Host: "127.0.0.1", Port: sim.Port})
	invite.SetBody(offer)
	invite.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	tctx, tcancel := context.WithTimeout(ctx, 10*time.Second)
	defer tcancel()
	res, err := client.Do(tctx, invite)
	if err != nil || res.StatusCode != 488 {
		t.Errorf("INVITE with G722 only = %v, %v, want 488", res, err)
	}
}
