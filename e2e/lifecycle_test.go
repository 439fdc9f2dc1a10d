package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone"
)

// TestDrainOnSIGTERM: a call in progress finishes normally, a new call is
// refused with 503, /readyz turns unready, and the process exits once the
// call has ended.
func TestDrainOnSIGTERM(t *testing.T) {
	carrierPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort}})
	sw.Account("alice", "secret")
	rx := newReceiver(t)
	uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 1)
	long := dialApp(t, sw, appCall{user: "alice", password: "secret", holdMS: 4000, end: "bye"}, "+442079460018", 1, 1)
	sw.waitActive(1, 10*time.Second)
	time.Sleep(300 * time.Millisecond) // answered
	_ = sw.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	if code, _ := sw.HTTP("/readyz"); code != 503 {
		t.Errorf("/readyz while draining = %d, want 503", code)
	}
	refused := dialApp(t, sw, appCall{user: "alice", password: "secret", end: "503"}, "+442079460018", 1, 1)
	if st := refused.Wait(20 * time.Second); st.Successful != 1 {
		t.Errorf("a new call while draining: want 503\n%s", refused.Errors())
	}
	if st := long.Wait(20 * time.Second); st.Successful != 1 {
		t.Errorf("the call in progress did not finish normally during the drain\n%s", long.Errors())
	}
	uas.Wait(10 * time.Second)
	done := make(chan error, 1)
	go func() { done <- sw.cmd.Wait() }()
	select {
	case <-done:
		sw.cmd = nil
		sw.log.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("switch did not exit after the drained call ended")
	}
	cdrs := sw.CDRs(2)
	var answered, refusedCDR int
	for _, c := range cdrs {
		switch {
		case c.Disposition == dialtone.Answered && c.HangupBy == dialtone.PartyCaller && c.BilledSeconds >= 4:
			answered++
		case c.SIPCode == 503:
			refusedCDR++
		}
	}
	if answered != 1 || refusedCDR != 1 {
		t.Errorf("CDRs %v: want the drained call answered and billed about 4 s, and the refused one with 503", describe(cdrs))
	}
}

// TestSIGINTHangsUp: SIGINT ends a connected call with BYE to both legs and
// writes its CDR before the process exits.
func TestSIGINTHangsUp(t *testing.T) {
	carrierPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort}})
	sw.Account("alice", "secret")
	rx := newReceiver(t)
	uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 1)
	app := dialApp(t, sw, appCall{user: "alice", password: "secret", end: "wait-bye"}, "+442079460018", 1, 1)
	sw.waitActive(1, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	sw.Stop()
	if st := app.Wait(10 * time.Second); st.Successful != 1 {
		t.Errorf("app did not get BYE on SIGINT\n%s", app.Errors())
	}
	if st := uas.Wait(10 * time.Second); st.Successful != 1 {
		t.Errorf("carrier did not get BYE on SIGINT\n%s", uas.Errors())
	}
	cdrs := sw.CDRs(1)
	if len(cdrs) != 1 || cdrs[0].Disposition != dialtone.Answered || cdrs[0].HangupBy != dialtone.PartySwitch {
		t.Errorf("CDRs after SIGINT = %v, want one answered call hung up by the switch", describe(cdrs))
	}
}

// TestRegister drives REGISTER with a real SIP client (sipgo) over UDP:
// challenge, success with the granted expiry, a wrong password, stale nonce.
// RFC 8760's two challenges are configured: the default is MD5 alone.
func TestRegister(t *testing.T) {
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{freePort(t)}, SIPExtra: "auth_algorithms: [MD5, SHA-256]"})
	sw.Account("alice", "secret")
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	register := func(user, password string, expires int) *sip.Response {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Host: "127.0.0.1", Port: sw.SIPPort})
		to := sip.ToHeader{Address: sip.Uri{User: user, Host: "127.0.0.1"}}
		from := sip.FromHeader{Address: sip.Uri{User: user, Host: "127.0.0.1"}, Params: sip.NewParams()}
		from.Params.Add("tag", sip.GenerateTagN(8))
		req.AppendHeader(&to)
		req.AppendHeader(&from)
		req.AppendHeader(sip.NewHeader("Contact", fmt.Sprintf("<sip:%s@127.0.0.1:5099>", user)))
		req.AppendHeader(sip.NewHeader("Expires", fmt.Sprint(expires)))
		res, err := client.Do(ctx, req)
		if err != nil {
			t.Fatalf("REGISTER: %v", err)
		}
		if res.StatusCode != 401 {
			t.Fatalf("REGISTER without credentials = %d, want 401", res.StatusCode)
		}
		if h := res.GetHeaders("WWW-Authenticate"); len(h) != 2 || !strings.Contains(h[0].Value(), "MD5") || !strings.Contains(h[1].Value(), "SHA-256") {
			t.Errorf("challenges = %v, want MD5 then SHA-256", h)
		}
		res, err = client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password})
		if err != nil {
			t.Fatalf("REGISTER with credentials: %v", err)
		}
		return res
	}
	if res := register("alice", "secret", 7200); res.StatusCode != 200 || !strings.Contains(res.GetHeader("Contact").Value(), "expires=3600") {
		t.Errorf("REGISTER alice = %d %v, want 200 with the expiry capped at 3600", res.StatusCode, res.GetHeader("Contact"))
	}
	if got := sw.Metric("dialtone_registrations"); got != 1 {
		t.Errorf("dialtone_registrations = %v, want 1", got)
	}
	if res := register("alice", "wrong", 60); res.StatusCode != 403 {
		t.Errorf("REGISTER with a wrong password = %d, want 403", res.StatusCode)
	}
	if res := register("alice", "secret", 0); res.StatusCode != 200 || res.GetHeader("Contact") != nil {
		t.Errorf("REGISTER expires 0 = %d, contact %v, want 200 and no binding left", res.StatusCode, res.GetHeader("Contact"))
	}
}

func describe(cdrs []*dialtone.CDR) string {
	var b strings.Builder
	for _, c := range cdrs {
		fmt.Fprintf(&b, "[%s %d %s hangup=%s billed=%d] ", c.Disposition, c.SIPCode, c.SIPReason, c.HangupBy, c.BilledSeconds)
	}
	return b.String()
}

// TestDemoCarrier: the switch routed to `dialtone carrier-sim`, as `make
// run` sets it up: the call is answered and the app's audio comes back.
func TestDemoCarrier(t *testing.T) {
	carrierPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort}})
	sw.Account("alice", "secret")
	sim := exec.Command(binary, "carrier-sim", "--listen", fmt.Sprintf("127.0.0.1:%d", carrierPort), "--ring", "200ms")
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Process.Signal(syscall.SIGINT); _ = sim.Wait() })
	time.Sleep(300 * time.Millisecond)
	app := dialApp(t, sw, appCall{user: "alice", password: "secret", pcap: true, holdMS: 2000, end: "bye"}, "2125550100", 1, 1)
	if st := app.Wait(30 * time.Second); st.Successful != 1 {
		t.Fatalf("call to the demo carrier failed\n%s", app.Errors())
	}
	cdrs := sw.CDRs(1)
	if len(cdrs) != 1 {
		t.Fatalf("%d CDRs, want 1", len(cdrs))
	}
	c := cdrs[0]
	if c.Disposition != dialtone.Answered || c.DialedE164 != "+12125550100" || c.AppPackets < 50 || c.CarrierPackets < 50 {
		t.Errorf("CDR %s to %s: app sent %d packets, carrier echoed %d; want an answered call with audio both ways",
			c.Disposition, c.DialedE164, c.AppPackets, c.CarrierPackets)
	}
}

// TestTCP: the app reaches the switch over TCP and the switch reaches the
// carrier over TCP.
func TestTCP(t *testing.T) {
	carrierPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort}, TrunkTCP: true})
	sw.Account("alice", "secret")
	rx := newReceiver(t)
	uas := startSipp(t, carrier{answer: "200", rtpPort: rx.Port}.scenario(), "-t", "t1", "-p", strconv.Itoa(carrierPort), "-m", "1")
	time.Sleep(200 * time.Millisecond)
	app := startSipp(t, appCall{user: "alice", password: "secret", pcap: true, holdMS: 1000, end: "bye"}.scenario(),
		fmt.Sprintf("127.0.0.1:%d", sw.SIPPort), "-t", "t1", "-s", "+442079460018",
		"-p", strconv.Itoa(freePort(t)), "-mp", strconv.Itoa(sippMediaPort(t)), "-m", "1")
	if st := app.Wait(30 * time.Second); st.Successful != 1 {
		t.Fatalf("app over TCP: call failed\n%s", app.Errors())
	}
	if st := uas.Wait(10 * time.Second); st.Successful != 1 {
		t.Errorf("carrier over TCP: call failed\n%s", uas.Errors())
	}
	if _, packets := rx.Counts(); packets < 20 {
		t.Errorf("carrier received %d RTP packets, want the app's audio", packets)
	}
	if cdrs := sw.CDRs(1); len(cdrs) != 1 || cdrs[0].Disposition != dialtone.Answered {
		t.Errorf("CDRs = %v, want one answered call", describe(cdrs))
	}
}

// TestPasswordChange: `account passwd` replaces the SIP password of the
// account's device; the old password stops working at once (devices are
// read on every request, not cached).
func TestPasswordChange(t *testing.T) {
	carrierPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort}})
	sw.Account("alice", "secret")
	sw.CLIEnv([]string{"DIALTONE_PASSWORD=n3w-pass"}, "account", "passwd", "alice", "--sip")
	old := dialApp(t, sw, appCall{user: "alice", password: "secret", end: "403"}, "+442079460018", 1, 1)
	if st := old.Wait(20 * time.Second); st.Successful != 1 {
		t.Errorf("old password: want 403\n%s", old.Errors())
	}
	rx := newReceiver(t)
	uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 1)
	app := dialApp(t, sw, appCall{user: "alice", password: "n3w-pass", holdMS: 200, end: "bye"}, "+442079460018", 1, 1)
	if st := app.Wait(20 * time.Second); st.Successful != 1 {
		t.Errorf("new password: call failed\n%s", app.Errors())
	}
	uas.Wait(10 * time.Second)
}

// TestForeignBYE: a BYE that knows the Call-ID but not the dialog's tags
// does not end someone else's call.
func TestForeignBYE(t *testing.T) {
	carrierPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{carrierPort}})
	sw.Account("alice", "secret")
	rx := newReceiver(t)
	uas := runCarrier(t, carrier{answer: "200", rtpPort: rx.Port}, carrierPort, 1)
	app := dialApp(t, sw, appCall{user: "alice", password: "secret", pcap: true, holdMS: 2500, end: "bye"}, "+442079460018", 1, 1)
	sw.waitActive(1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	callID := fmt.Sprintf("1-%d@127.0.0.1", app.cmd.Process.Pid) // sipp's Call-ID of its first call
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", sw.SIPPort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	_, _ = fmt.Fprintf(conn, "BYE sip:dialtone@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKforged1\r\nFrom: <sip:alice@127.0.0.1>;tag=forged\r\nTo: <sip:x@127.0.0.1>;tag=guess\r\nCall-ID: %s\r\nCSeq: 99 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", sw.SIPPort, port, callID)
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 481") {
		t.Errorf("forged BYE answered %q (%v), want 481", strings.SplitN(string(buf[:n]), "\r\n", 2)[0], err)
	}
	if st := app.Wait(20 * time.Second); st.Successful != 1 {
		t.Errorf("the call did not survive a forged BYE\n%s", app.Errors())
	}
	uas.Wait(10 * time.Second)
	if cdrs := sw.CDRs(1); len(cdrs) != 1 || cdrs[0].HangupBy != dialtone.PartyCaller || cdrs[0].BilledSeconds < 2 {
		t.Errorf("CDRs = %v, want the call ended by its caller after the 2.5 s hold", describe(cdrs))
	}
}

// TestWebSocketSIP: SIP over WebSocket (RFC 7118), plain and over TLS:
// REGISTER with digest authentication as on UDP.
func TestWebSocketSIP(t *testing.T) {
	certPath, keyPath, _ := selfSigned(t)
	wsPort, wssPort := freePort(t), freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{freePort(t)},
		SIPExtra: fmt.Sprintf("tls_cert: %q\n  tls_key: %q\n  listen: [{transport: udp, addr: \"127.0.0.1:%d\"}, {transport: ws, addr: \"127.0.0.1:%d\"}, {transport: wss, addr: \"127.0.0.1:%d\"}]",
			certPath, keyPath, freePort(t), wsPort, wssPort)})
	sw.Account("alice", "secret")
	pem, _ := os.ReadFile(certPath)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	ua, err := sipgo.NewUA(sipgo.WithUserAgenTLSConfig(&tls.Config{RootCAs: roots}))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	for transport, port := range map[string]int{"WS": wsPort, "WSS": wssPort} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Host: "127.0.0.1", Port: port, UriParams: sip.HeaderParams{{K: "transport", V: strings.ToLower(transport)}}})
		req.SetTransport(transport)
		from := sip.FromHeader{Address: sip.Uri{User: "alice", Host: "127.0.0.1"}, Params: sip.NewParams()}
		from.Params.Add("tag", sip.GenerateTagN(8))
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{User: "alice", Host: "127.0.0.1"}})
		req.AppendHeader(&from)
		req.AppendHeader(sip.NewHeader("Contact", "<sip:alice@df7jal23ls0d.invalid;transport="+strings.ToLower(transport)+">"))
		req.AppendHeader(sip.NewHeader("Expires", "600"))
		res, err := client.Do(ctx, req)
		if err != nil || res.StatusCode != 401 {
			t.Fatalf("REGISTER over %s without credentials = %v, %v; want 401", transport, res, err)
		}
		// JsSIP and SIP.js know only MD5 and read the last challenge: over
		// WebSocket the switch challenges with MD5 alone (sip.ws_auth_algorithms).
		if ch := res.GetHeaders("WWW-Authenticate"); len(ch) != 1 || !strings.Contains(ch[0].Value(), "algorithm=MD5") {
			t.Errorf("REGISTER over %s challenged with %v, want one MD5 challenge", transport, ch)
		}
		res, err = client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "alice", Password: "secret"})
		cancel()
		if err != nil || res.StatusCode != 200 {
			t.Errorf("REGISTER over %s = %v, %v; want 200", transport, res, err)
		}
	}
	if got := sw.Metric("dialtone_registrations"); got != 1 {
		t.Errorf("dialtone_registrations = %v, want 1 (alice)", got)
	}
}

// TestWebSocketKeepAliveAndGarbage: a CRLF ping (RFC 5626 section 3.5.1)
// is answered with a pong on the same WebSocket; a WebSocket that sends
// what is not SIP is closed, and another one open at the same time still
// registers.
func TestWebSocketKeepAliveAndGarbage(t *testing.T) {
	wsPort := freePort(t)
	sw := startSwitch(t, Options{Store: "sqlite", Trunks: []int{freePort(t)},
		SIPExtra: fmt.Sprintf(`listen: [{transport: udp, addr: "127.0.0.1:%d"}, {transport: ws, addr: "127.0.0.1:%d"}]`, freePort(t), wsPort)})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dial := func() *websocket.Conn {
		t.Helper()
		c, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d", wsPort), &websocket.DialOptions{Subprotocols: []string{"sip"}})
		if err != nil {
			t.Fatalf("dial the SIP WebSocket: %v", err)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	good, bad := dial(), dial()

	if err := good.Write(ctx, websocket.MessageText, []byte("\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := good.Read(ctx); err != nil || string(msg) != "\r\n" {
		t.Fatalf("pong to a CRLF ping = %q, %v; want CRLF", msg, err)
	}

	for _, garbage := range []string{"GET / HTTP/1.1\r\n\r\n", "\x00\x01\x02 not sip at all"} {
		bad.Write(ctx, websocket.MessageText, []byte(garbage))
	}
	readCtx, readCancel := context.WithTimeout(ctx, 5*time.Second)
	_, msg, err := bad.Read(readCtx)
	readCancel()
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a WebSocket sending garbage: read = %q, %v; want it closed by the switch", msg, err)
	}

	register := fmt.Sprintf("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK-ka1\r\n" +
		"From: <sip:alice@127.0.0.1>;tag=ka1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: ka1@df7jal23ls0d.invalid\r\nCSeq: 1 REGISTER\r\n" +
		"Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>\r\nExpires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
	if err := good.Write(ctx, websocket.MessageText, []byte(register)); err != nil {
		t.Fatalf("the other WebSocket was closed too: %v", err)
	}
	_, msg, err = good.Read(ctx)
	if err != nil || !strings.HasPrefix(string(msg), "SIP/2.0 401") {
		t.Errorf("REGISTER on the other WebSocket = %q, %v; want 401 with a challenge", msg, err)
	}
	if code, _ := sw.HTTP("/healthz"); code != 200 {
		t.Errorf("/healthz = %d after the garbage, want 200", code)
	}
}
