package b2bua

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// A BYE's server transaction on UDP stays in the Completed state for
// Timer J, 64*T1 = 32 s after the call (RFC 3261 17.2.2): at 750 calls/s,
// 24,000 of them at any time. All it does then is resend its final response
// to a retransmitted BYE, so it must not keep the parsed BYE or the
// response object, only the response's bytes.
func TestCompletedByeTransactionKeepsOnlyItsResponse(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const n = 2000
	txs := make([]*sip.ServerTx, 0, n)
	var weakReqs []weak.Pointer[sip.Request]
	var weakResps []weak.Pointer[sip.Response]
	before := liveHeap()
	for i := range n {
		bye := parseRequest(t, byeDatagram(i))
		tx := sip.NewServerTx(fmt.Sprintf("bye-%d", i), bye, nopConn{}, log)
		if err := tx.Init(); err != nil {
			t.Fatal(err)
		}
		res := sip.NewResponseFromRequest(bye, 200, "OK", nil)
		if err := tx.Respond(res); err != nil {
			t.Fatal(err)
		}
		tx.TerminateGracefully() // what sipgo's server does after the handler
		txs = append(txs, tx)
		if i < 10 {
			weakReqs = append(weakReqs, weak.Make(bye))
			weakResps = append(weakResps, weak.Make(res))
		}
	}
	perTx := (liveHeap() - before) / n
	t.Logf("a completed BYE server transaction retains %d bytes", perTx)
	for i := range weakReqs {
		if !collected(weakReqs[i]) {
			t.Fatal("a completed BYE server transaction still holds the parsed BYE")
		}
		if !collected(weakResps[i]) {
			t.Fatal("a completed BYE server transaction still holds its response object")
		}
	}
	// The transaction, its key, timer and done channel, and the 200 OK's
	// bytes: about 1 KB. With the parsed BYE and 200 OK it was 3.3 KB.
	if perTx > 1536 {
		t.Errorf("a completed BYE server transaction retains %d bytes, want at most 1536", perTx)
	}
	for _, tx := range txs {
		if tx.Origin().Method != sip.BYE {
			t.Fatalf("Origin() = %v, want the BYE's request line", tx.Origin().StartLine())
		}
		tx.Terminate()
	}
}

// An INVITE answered with a non-2xx response (the 407 of digest auth)
// waits for Timer I, T4 = 5 s, once confirmed by the ACK, only to absorb
// retransmitted ACKs: it needs neither the INVITE nor the response.
func TestConfirmedInviteTransactionDropsTheInvite(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	inv := testInvite()
	inv.SetBody([]byte("v=0\r\n"))
	tx := sip.NewServerTx("invite-key", inv, nopConn{}, log)
	if err := tx.Init(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Respond(sip.NewResponseFromRequest(inv, 407, "Proxy Authentication Required", nil)); err != nil {
		t.Fatal(err)
	}
	ack := sip.NewRequest(sip.ACK, inv.Recipient)
	ack.AppendHeader(inv.Via().Clone())
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.ACK})
	ack.SetTransport("UDP")
	if err := tx.Receive(ack); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tx.Acks():
	case <-time.After(time.Second):
		t.Fatal("the ACK was not passed up")
	}
	weakInv := weak.Make(inv)
	inv = nil
	if !collected(weakInv) {
		t.Fatal("a confirmed INVITE server transaction still holds the INVITE")
	}
	runtime.KeepAlive(tx)
	tx.Terminate()
}

// A BYE retransmitted within Timer J gets the same final response, from
// the transaction, without reaching the handler again (RFC 3261 17.2.2),
// over real UDP sockets.
func TestRetransmittedByeGetsTheSameResponse(t *testing.T) {
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	var handled atomic.Int32
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		n := handled.Add(1)
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sip.NewHeader("X-Answer", fmt.Sprint(n)))
		if err := tx.Respond(res); err != nil {
			t.Error(err)
		}
	})
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { _ = srv.ServeUDP(l) }()

	phone, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	bye := strings.ReplaceAll(byeDatagram(1), "127.0.0.1:5070", phone.LocalAddr().String())
	exchange := func() []byte {
		t.Helper()
		if _, err := phone.WriteTo([]byte(bye), l.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		_ = phone.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := phone.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no response to the BYE: %v", err)
		}
		return buf[:n]
	}
	first := exchange()
	if !bytes.HasPrefix(first, []byte("SIP/2.0 200 OK\r\n")) || !bytes.Contains(first, []byte("X-Answer: 1\r\n")) {
		t.Fatalf("first response:\n%s", first)
	}
	// By now the transaction is Completed, and compacted; the
	// retransmissions come at T1, 2*T1... and keep coming within Timer J.
	for range 3 {
		time.Sleep(50 * time.Millisecond)
		if again := exchange(); !bytes.Equal(again, first) {
			t.Fatalf("retransmitted BYE got\n%s\nwant the first response\n%s", again, first)
		}
	}
	if n := handled.Load(); n != 1 {
		t.Fatalf("the handler saw the BYE %d times, want once", n)
	}
}

// byeDatagram is a BYE as sipp sends it, from 127.0.0.1:5070, the i-th.
func byeDatagram(i int) string {
	return strings.ReplaceAll(fmt.Sprintf(`BYE sip:15551230000@127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-%[1]d-1-7
From: <sip:load@127.0.0.1>;tag=1234T%[1]d
To: <sip:12125550100@127.0.0.1:5060>;tag=a7f3c9e1-%[1]d
Call-ID: %[1]d-1234@127.0.0.1
CSeq: 3 BYE
Max-Forwards: 70
Content-Length: 0

`, i), "\n", "\r\n")
}

func parseRequest(t *testing.T, datagram string) *sip.Request {
	t.Helper()
	msg, err := sip.NewParser().ParseSIP([]byte(datagram))
	if err != nil {
		t.Fatal(err)
	}
	req := msg.(*sip.Request)
	req.SetTransport("UDP")
	req.SetSource("127.0.0.1:5070")
	return req
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
