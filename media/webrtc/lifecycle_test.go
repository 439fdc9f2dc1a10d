package webrtc

import (
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHandshakeTimeout(t *testing.T) {
	const timeout = time.Second
	e := newEngine(t, Config{HandshakeTimeout: timeout})
	c := newClient(t, e.Addr().Addr())
	p, err := e.Accept(c.offer(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, d := pick(t, p.Offered(), "opus", 48000)
	// The clock starts at Answer, not at Accept.
	select {
	case <-p.Done():
		t.Fatalf("peer done before Answer: %v", p.Err())
	case <-time.After(timeout + 200*time.Millisecond):
	}
	start := time.Now()
	if _, err := p.Answer(a, d); err != nil {
		t.Fatal(err)
	}
	// The client never gets the answer: no ICE, no DTLS.
	select {
	case <-p.Done():
	case <-time.After(timeout + 2*time.Second):
		t.Fatalf("peer not done %s after Answer", timeout+2*time.Second)
	}
	if took := time.Since(start); took < timeout {
		t.Errorf("peer done %s after Answer, before the %s timeout", took, timeout)
	}
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "ice/dtls handshake did not complete in 1s") {
		t.Errorf("Err() = %v, want the handshake timeout", err)
	}
	if _, err := p.ReadRTP(make([]byte, 1500)); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadRTP after the timeout = %v, want %v", err, ErrClosed)
	}
	select {
	case <-p.Connected():
		t.Error("Connected closed on a peer that never connected")
	default:
	}
	// The supervisor closes pion's side on failure, without waiting for Close.
	deadline := time.Now().Add(wait)
	for p.pc.ConnectionState().String() != "closed" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := p.pc.ConnectionState().String(); s != "closed" {
		t.Errorf("PeerConnection %s after the timeout, want closed", s)
	}
}

func TestClose(t *testing.T) {
	e := newEngine(t, Config{})
	t.Run("ReadRTP waiting for the track", func(t *testing.T) {
		c := newClient(t, e.Addr().Addr())
		p, err := e.Accept(c.offer(nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		closeDuringRead(t, p)
	})
	t.Run("ReadRTP in the track", func(t *testing.T) {
		k := dial(t, e, "opus", 48000)
		k.toEngine(t, 111, []byte("the track exists"))
		closeDuringRead(t, k.p)
	})
	t.Run("after Close", func(t *testing.T) {
		k := dial(t, e, "PCMU", 8000)
		var wg sync.WaitGroup
		for range 4 { // concurrent Closes, and idempotent
			wg.Go(func() { _ = k.p.Close() })
		}
		wg.Wait()
		if err := k.p.Close(); err != nil {
			t.Errorf("second Close() = %v, want nil", err)
		}
		if err := k.p.Err(); err != nil {
			t.Errorf("Err() after Close = %v, want nil", err)
		}
		if err := k.p.WriteRTP(opusPacket(1, 80)); !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
			t.Errorf("WriteRTP after Close = %v, want %v and %v", err, ErrClosed, net.ErrClosed)
		}
		if _, _, err := k.p.Reoffer(k.answer); !errors.Is(err, ErrClosed) {
			t.Errorf("Reoffer after Close = %v, want %v", err, ErrClosed)
		}
	})
	t.Run("engine", func(t *testing.T) {
		e := newEngine(t, Config{})
		k := dial(t, e, "opus", 48000)
		if err := e.Close(); err != nil {
			t.Fatalf("Engine.Close() = %v", err)
		}
		select {
		case <-k.p.Done():
		default:
			t.Error("peer not done after Engine.Close")
		}
		if _, err := e.Accept([]byte(chromiumOffer(t))); !errors.Is(err, ErrClosed) {
			t.Errorf("Accept after Engine.Close = %v, want %v", err, ErrClosed)
		}
		if err := e.Close(); err != nil {
			t.Errorf("second Engine.Close() = %v, want nil", err)
		}
	})
}

// closeDuringRead blocks a ReadRTP, closes p, and wants ErrClosed back.
func closeDuringRead(t *testing.T, p *Peer) {
	t.Helper()
	got := make(chan error, 1)
	go func() {
		b := make([]byte, 1500)
		for {
			if _, err := p.ReadRTP(b); err != nil {
				got <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	select {
	case err := <-got:
		if !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked ReadRTP after Close = %v, want %v and %v", err, ErrClosed, net.ErrClosed)
		}
	case <-time.After(wait):
		t.Fatal("ReadRTP still blocked after Close")
	}
}

// TestNoGoroutineLeak runs whole calls and checks that closing them and
// the engine leaves no goroutine behind, ours or pion's.
func TestNoGoroutineLeak(t *testing.T) {
	before := settledGoroutines(0)
	t.Run("calls", func(t *testing.T) {
		e := newEngine(t, Config{})
		for _, audio := range []string{"opus", "PCMA"} {
			k := dial(t, e, audio, 8000)
			pt := uint8(111)
			if audio == "PCMA" {
				pt = 8
			}
			k.toEngine(t, pt, []byte("leak check"))
			k.toClient(t, pt, []byte("leak check"))
		}
		c := newClient(t, e.Addr().Addr()) // accepted, never answered
		if _, err := e.Accept(c.offer(nil, nil)); err != nil {
			t.Fatal(err)
		}
	})
	if after := settledGoroutines(before); after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before the calls, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
	buf := make([]byte, 1<<20)
	if s := string(buf[:runtime.Stack(buf, true)]); strings.Contains(s, "dialtone/media/webrtc.(*Peer)") {
		t.Errorf("a peer goroutine outlived Close:\n%s", s)
	}
}

// settledGoroutines waits up to wait for the goroutine count to drop to
// at most want (0: to stop changing), and returns it.
func settledGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if (want > 0 && m <= want) || (want == 0 && m == n) {
			return m
		}
		n = m
	}
	return n
}

// TestClosedByPeer: a browser that closes its connection (DTLS
// close_notify, as it does when it hangs up) ends the peer with
// ErrClosedByPeer, which the call controller tells from a failure.
func TestClosedByPeer(t *testing.T) {
	e := newEngine(t, Config{})
	k := dial(t, e, "opus", 48000)
	k.c.close()
	select {
	case <-k.p.Done():
	case <-time.After(wait):
		t.Fatal("peer not done after the client closed")
	}
	if err := k.p.Err(); !errors.Is(err, ErrClosedByPeer) {
		t.Errorf("Err() after the client closed = %v, want %v", err, ErrClosedByPeer)
	}
}
