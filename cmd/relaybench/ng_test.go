package main

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialtone/dialtone/media/codec"

	"github.com/dialtone/dialtone/internal/benchproc"
)

// fakeNG is a UDP peer answering ng requests with reply(request); a nil
// reply sends nothing. Where it stands in for rtpengine, it checks only
// the protocol: rtpengine itself is tested in TestRTPEngine.
func fakeNG(t *testing.T, reply func(cookie string, req map[string]any) []byte) (addr string, requests *atomic.Int32) {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	requests = &atomic.Int32{}
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			cookie, body, ok := splitNG(buf[:n])
			if !ok {
				t.Errorf("request %q has no cookie", buf[:n])
				continue
			}
			v, err := decode(body)
			if err != nil {
				t.Errorf("request %q: %v", body, err)
				continue
			}
			requests.Add(1)
			if out := reply(cookie, v.(map[string]any)); out != nil {
				_, _ = conn.WriteToUDP(out, from)
			}
		}
	}()
	return conn.LocalAddr().String(), requests
}

func ngReply(t *testing.T, cookie string, v map[string]any) []byte {
	t.Helper()
	b, err := encode([]byte(cookie+" "), v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dialTestNG(t *testing.T, addr string) *ngClient {
	t.Helper()
	c, err := dialNG(addr)
	if err != nil {
		t.Fatal(err)
	}
	c.retry = 50 * time.Millisecond
	t.Cleanup(func() { c.Close() })
	return c
}

func TestNGClient(t *testing.T) {
	addr, _ := fakeNG(t, func(cookie string, req map[string]any) []byte {
		switch req["command"] {
		case "ping":
			return ngReply(t, cookie, map[string]any{"result": "pong"})
		case "offer":
			// No space after the cookie: the datagram is malformed and dropped.
			return append(append([]byte("nocookie"), '\n'), ngReply(t, cookie, map[string]any{"result": "ok", "sdp": "v=0 " + req["sdp"].(string)})...)
		case "answer":
			return ngReply(t, cookie, map[string]any{"result": "error", "error-reason": "Unknown call-id"})
		default:
			return ngReply(t, cookie, map[string]any{"result": "maybe"})
		}
	})
	c := dialTestNG(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	// The offer's reply is malformed: the client resends until ctx ends.
	octx, ocancel := context.WithTimeout(ctx, 300*time.Millisecond)
	if _, err := c.Do(octx, map[string]any{"command": "offer", "sdp": "x"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("offer with a malformed reply: %v, want the deadline", err)
	}
	ocancel()
	if _, err := c.Do(ctx, map[string]any{"command": "answer"}); !errors.Is(err, errNG) || !strings.Contains(err.Error(), "Unknown call-id") {
		t.Errorf("answer = %v, want errNG with the reason", err)
	}
	if _, err := c.Do(ctx, map[string]any{"command": "delete"}); !errors.Is(err, errNG) {
		t.Errorf("delete with result maybe = %v, want errNG", err)
	}
}

// A lost request or reply is made up for by resending with the same
// cookie; a stale reply to another request does not answer this one.
func TestNGClientResends(t *testing.T) {
	var seen atomic.Int32
	addr, requests := fakeNG(t, func(cookie string, req map[string]any) []byte {
		if seen.Add(1) < 3 {
			return ngReply(t, "stale"+cookie, map[string]any{"result": "ok", "sdp": "wrong"})
		}
		return ngReply(t, cookie, map[string]any{"result": "ok", "sdp": "right"})
	})
	c := dialTestNG(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Do(ctx, map[string]any{"command": "offer"})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := sdpOf(res); err != nil || s != "right" {
		t.Errorf("sdp = %q, %v; want right", s, err)
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("%d requests, want 3 (two unanswered)", n)
	}
	if _, err := sdpOf(map[string]any{"result": "ok"}); !errors.Is(err, errNG) {
		t.Errorf("sdpOf(no sdp) = %v, want errNG", err)
	}
}

func TestNGClientNobodyListens(t *testing.T) {
	c := dialTestNG(t, "127.0.0.1:"+strconv.Itoa(benchproc.FreePort("udp")))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := c.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping with nobody listening = %v, want the deadline", err)
	}
}

// TestRTPEngine drives the real rtpengine (Debian's rtpengine-daemon) as
// the benchmark does: ping, offer, answer, RTP through a pass-through and
// a transcoded call, delete. The transcoded call checks what the
// benchmark's delay rests on: the n-th packet out, by RTP timestamp from
// the first, carries the n-th frame's audio (the frames alternate two
// silent, two loud).
func TestRTPEngine(t *testing.T) {
	bin, err := exec.LookPath("rtpengine")
	if err != nil {
		if os.Getenv("DIALTONE_REQUIRE_ALL") == "1" {
			t.Fatal("rtpengine is required (DIALTONE_REQUIRE_ALL=1): make deps-bench installs rtpengine-daemon")
		}
		t.Skip("rtpengine is not installed (apt-get install rtpengine-daemon)")
	}
	r, err := startRTPEngine(bin, t.TempDir(), 32700, 32766) // below the ephemeral ports and the benchmark's
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("passthrough", func(t *testing.T) {
		cs, hangup, err := r.setup(ctx, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		defer hangup()
		c := cs[0]
		app, _, err := streams(false)
		if err != nil {
			t.Fatal(err)
		}
		buf, got := make([]byte, 2048), make([]byte, 2048)
		_ = c.carrier.SetReadDeadline(time.Now().Add(3 * time.Second))
		for n := range 3 {
			if _, err := c.app.WriteToUDPAddrPort(app.packet(buf, 1, n, true, int64(1000+n)), c.appTo); err != nil {
				t.Fatal(err)
			}
			k, err := c.carrier.Read(got)
			if err != nil {
				t.Fatalf("packet %d: %v", n, err)
			}
			if frame, sent := unstamp(got[12:k]); got[1]&0x7f != ptPCMU || k != 12+160 || frame != n || sent != int64(1000+n) {
				t.Errorf("packet %d out: pt %d, %d bytes, stamp %d/%d; want PCMU, 172 bytes, the stamp sent", n, got[1]&0x7f, k, frame, sent)
			}
		}
	})

	t.Run("transcode", func(t *testing.T) {
		cs, hangup, err := r.setup(ctx, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		defer hangup()
		c := cs[0]
		if c.rxPT[toApp] != ptOpus || c.rxPT[toCarrier] != ptPCMU {
			t.Fatalf("payload types to the app %d, to the carrier %d; want Opus and PCMU", c.rxPT[toApp], c.rxPT[toCarrier])
		}
		enc, err := codec.NewOpusEncoder(codec.DefaultOpusConfig())
		if err != nil {
			t.Fatal(err)
		}
		const frames = 16
		loud := func(n int) bool { return (n/2)%2 == 1 }
		levels := make(chan [2]int, frames) // frame (by timestamp), RMS at the carrier
		go func() {
			defer close(levels)
			buf, pcm := make([]byte, 2048), make([]int16, 2048)
			var ts0 uint32
			for first := true; ; first = false {
				_ = c.carrier.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				k, err := c.carrier.Read(buf)
				if err != nil || k < 12 {
					return
				}
				ts := binary.BigEndian.Uint32(buf[4:])
				if first {
					ts0 = ts
				}
				f, ok := frameIndex(ts, ts0, tickPCMU)
				m, _ := codec.PCMU.Decode(pcm, buf[12:k])
				if ok {
					levels <- [2]int{f, rms(pcm[:m])}
				}
			}
		}()
		buf, op := make([]byte, 2048), make([]byte, codec.MaxPayload)
		start := time.Now()
		for n := range frames {
			time.Sleep(time.Until(start.Add(time.Duration(n) * frameLen)))
			pcm := sine(700, n*codec.FrameSamples, codec.FrameSamples)
			if !loud(n) {
				clear(pcm)
			}
			k, err := enc.Encode(op, pcm)
			if err != nil {
				t.Fatal(err)
			}
			s := &stream{pt: ptOpus, tick: tickOpus, frames: [][]byte{op[:k]}}
			if _, err := c.app.WriteToUDPAddrPort(s.packet(buf, 1, n, false, 0), c.appTo); err != nil {
				t.Fatal(err)
			}
		}
		checked := 0
		for l := range levels {
			f, level := l[0], l[1]
			// Only where the frame and the one before agree: codecs
			// smear a few milliseconds across a change.
			if f < 1 || f >= frames || loud(f) != loud(f-1) {
				continue
			}
			checked++
			if loud(f) && level < 3000 || !loud(f) && level > 1000 {
				t.Errorf("frame %d at the carrier has RMS %d, want it %s", f, level, map[bool]string{true: "loud", false: "silent"}[loud(f)])
			}
		}
		if checked < frames/2-2 {
			t.Errorf("%d frames checked, want at least %d", checked, frames/2-2)
		}
	})
}
