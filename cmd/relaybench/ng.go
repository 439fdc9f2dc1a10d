package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// ngClient speaks rtpengine's ng control protocol: each request is a
// datagram "COOKIE BENCODED-DICT" and its reply carries the same cookie.
// rtpengine keeps its replies by cookie for a while, so a request resent
// after a lost datagram is answered once, not done twice. Requests may be
// sent from several goroutines; one reader hands the replies out.
type ngClient struct {
	conn    *net.UDPConn
	retry   time.Duration // resend after this long without a reply
	mu      sync.Mutex
	pending map[string]chan map[string]any
	done    chan struct{}
}

// errNG is a reply whose result is not "ok".
var errNG = errors.New("rtpengine")

// dialNG connects to the ng listener at addr (host:port, UDP).
func dialNG(addr string) (*ngClient, error) {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("ng %s: %w", addr, err)
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, fmt.Errorf("ng %s: %w", addr, err)
	}
	c := &ngClient{conn: conn, retry: 500 * time.Millisecond, pending: map[string]chan map[string]any{}, done: make(chan struct{})}
	go c.read()
	return c, nil
}

func (c *ngClient) Close() error {
	err := c.conn.Close()
	<-c.done
	return err
}

// read hands each reply to the request with its cookie; replies that are
// malformed or that nobody waits for are dropped.
func (c *ngClient) read() {
	defer close(c.done)
	buf := make([]byte, 65535)
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ECONNREFUSED before rtpengine listens: the request is resent
		}
		cookie, body, ok := splitNG(buf[:n])
		if !ok {
			continue
		}
		v, err := decode(body)
		if err != nil {
			continue
		}
		dict, ok := v.(map[string]any)
		if !ok {
			continue
		}
		c.mu.Lock()
		ch := c.pending[cookie]
		delete(c.pending, cookie)
		c.mu.Unlock()
		if ch != nil {
			ch <- dict
		}
	}
}

// splitNG splits a datagram into its cookie and body.
func splitNG(b []byte) (cookie string, body []byte, ok bool) {
	for i, c := range b {
		if c == ' ' {
			return string(b[:i]), b[i+1:], i > 0
		}
	}
	return "", nil, false
}

// Do sends req (its "command" set) and returns the reply dictionary, or
// an error wrapping errNG with rtpengine's reason when the result is
// "error". It resends until ctx ends.
func (c *ngClient) Do(ctx context.Context, req map[string]any) (map[string]any, error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	cookie := hex.EncodeToString(rnd[:])
	msg, err := encode([]byte(cookie+" "), req)
	if err != nil {
		return nil, err
	}
	ch := make(chan map[string]any, 1)
	c.mu.Lock()
	c.pending[cookie] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, cookie)
		c.mu.Unlock()
	}()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("ng %v: %w", req["command"], ctx.Err())
		case <-t.C:
			// A refused port shows as a write error on a connected
			// socket: keep trying until ctx ends.
			_, _ = c.conn.Write(msg)
			t.Reset(c.retry)
		case res := <-ch:
			switch res["result"] {
			case "ok", "pong":
				return res, nil
			case "error":
				return res, fmt.Errorf("ng %v: %w: %v", req["command"], errNG, res["error-reason"])
			default:
				return res, fmt.Errorf("ng %v: %w: result %v", req["command"], errNG, res["result"])
			}
		}
	}
}

// Ping is the ng "ping" command; rtpengine answers "pong".
func (c *ngClient) Ping(ctx context.Context) error {
	res, err := c.Do(ctx, map[string]any{"command": "ping"})
	if err != nil {
		return err
	}
	if res["result"] != "pong" {
		return fmt.Errorf("ng ping: %w: result %v", errNG, res["result"])
	}
	return nil
}

// sdpOf is the "sdp" of a reply to offer or answer.
func sdpOf(res map[string]any) (string, error) {
	s, ok := res["sdp"].(string)
	if !ok || s == "" {
		return "", fmt.Errorf("ng: %w: reply without sdp", errNG)
	}
	return s, nil
}
