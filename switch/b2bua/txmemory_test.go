package b2bua

import (
	"io"
	"log/slog"
	"net"
	"runtime"
	"testing"
	"weak"

	"github.com/emiago/sipgo/sip"
)

// A call ends with BYE, which terminates both INVITE transactions while
// they are still in the Accepted state (RFC 6026) with Timer L or Timer M
// pending. The terminated transaction, and what it holds (the INVITE, the
// responses, the dialog session through its callbacks), must be garbage
// at once: a pending timer once kept every call's 32 s after it ended.
func TestTerminatedInviteTransactionIsFreed(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Run("server", func(t *testing.T) {
		weakTx := func() weak.Pointer[sip.ServerTx] {
			inv := testInvite()
			tx := sip.NewServerTx("server-key", inv, nopConn{}, log)
			if err := tx.Init(); err != nil {
				t.Fatal(err)
			}
			if err := tx.Respond(sip.NewResponseFromRequest(inv, 200, "OK", nil)); err != nil {
				t.Fatal(err)
			}
			tx.Terminate()
			return weak.Make(tx)
		}()
		if !collected(weakTx) {
			t.Fatal("a terminated server INVITE transaction is still reachable after it answered 2xx (Timer L)")
		}
	})
	t.Run("client", func(t *testing.T) {
		weakTx := func() weak.Pointer[sip.ClientTx] {
			inv := testInvite()
			tx := sip.NewClientTx("client-key", inv, nopConn{}, log)
			if err := tx.Init(); err != nil {
				t.Fatal(err)
			}
			got := make(chan struct{})
			go func() {
				<-tx.Responses()
				close(got)
			}()
			tx.Receive(sip.NewResponseFromRequest(inv, 200, "OK", nil))
			<-got
			tx.Terminate()
			return weak.Make(tx)
		}()
		if !collected(weakTx) {
			t.Fatal("a terminated client INVITE transaction is still reachable after its 2xx (Timer M)")
		}
	})
}

func collected[T any](p weak.Pointer[T]) bool {
	for range 5 {
		runtime.GC()
		if p.Value() == nil {
			return true
		}
	}
	return false
}

func testInvite() *sip.Request {
	inv := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "15551230000", Host: "127.0.0.1", Port: 5060})
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1", Port: 5070, Params: sip.NewParams()}
	via.Params.Add("branch", sip.GenerateBranch())
	inv.AppendHeader(via)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "app", Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", "a1")
	inv.AppendHeader(from)
	inv.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "15551230000", Host: "127.0.0.1"}, Params: sip.NewParams()})
	callID := sip.CallIDHeader("txmemory")
	inv.AppendHeader(&callID)
	inv.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	inv.SetTransport("UDP")
	return inv
}

// nopConn is a connection that sends nowhere.
type nopConn struct{}

func (nopConn) LocalAddr() net.Addr        { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060} }
func (nopConn) WriteMsg(sip.Message) error { return nil }
func (nopConn) Ref(int) int                { return 1 }
func (nopConn) TryClose() (int, error)     { return 0, nil }
func (nopConn) Close() error               { return nil }
