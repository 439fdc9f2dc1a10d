// Package carriersim is a stand-in carrier for demos and manual testing
// (`dialtone carrier-sim`): it answers every INVITE after a short ring
// with an SDP answer (PCMU or PCMA) and echoes the caller's RTP back to
// where it came from, so that a newcomer dialing through the demo
// configuration hears themselves. It answers OPTIONS, so health checks
// see it up.
//
// Concurrency: Serve runs until its context ends; every call's echo
// goroutine is owned by the Server and waited for before Serve returns.
package carriersim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone/media/sdp"
)

// Config is how the simulator answers.
type Config struct {
	MediaIP netip.Addr    // IP the echo sockets bind to and the SDP names
	Ring    time.Duration // how long to ring before answering
	Log     *slog.Logger
}

// Serve answers calls on pc until ctx ends, then hangs up on nothing (the
// caller's BYE or media timeout ends its calls) and closes their sockets.
func Serve(ctx context.Context, pc net.PacketConn, cfg Config) error {
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("dialtone-carrier-sim"))
	if err != nil {
		return err
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		return err
	}
	s := &sim{cfg: cfg, contact: "<sip:carrier@" + pc.LocalAddr().String() + ">", calls: map[string]*net.UDPConn{}}
	defer s.wg.Wait()
	defer s.closeAll()
	srv.OnInvite(s.invite)
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		s.end(req.CallID().Value())
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	cfg.Log.Info("carrier-sim ready", "sip", pc.LocalAddr().String())
	if err := srv.ServeUDP(pc); err != nil && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
		return fmt.Errorf("carrier-sim: %w", err)
	}
	return nil
}

type sim struct {
	cfg     Config
	contact string
	wg      sync.WaitGroup

	mu     sync.Mutex
	calls  map[string]*net.UDPConn // Call-ID -> its echo socket
	closed bool                    // Serve is returning: no new calls
}

func (s *sim) invite(req *sip.Request, tx sip.ServerTransaction) {
	reject := func(code int, reason string) { _ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil)) }
	offer, err := sdp.Parse(req.Body())
	if err != nil {
		reject(488, "Not Acceptable Here")
		return
	}
	audio, dtmf, err := sdp.Negotiate(offer, []string{"PCMU", "PCMA"})
	if err != nil {
		reject(488, "Not Acceptable Here")
		return
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(s.cfg.MediaIP, 0)))
	if err != nil {
		reject(503, "Service Unavailable")
		return
	}
	id := req.CallID().Value()
	if !s.add(id, conn) {
		reject(503, "Service Unavailable")
		return
	}

	tag := sip.GenerateTagN(10)
	withTag := func(res *sip.Response) *sip.Response {
		res.To().Params.Add("tag", tag)
		res.AppendHeader(sip.NewHeader("Contact", s.contact))
		return res
	}
	_ = tx.Respond(withTag(sip.NewResponseFromRequest(req, 180, "Ringing", nil)))
	select {
	case <-time.After(s.cfg.Ring):
	case <-tx.Done():
		s.end(id)
		return
	}
	codecs := []sdp.Codec{audio}
	if dtmf != nil {
		codecs = append(codecs, *dtmf)
	}
	body, err := sdp.NewBuilder(0).Build(sdp.Description{Addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(), Codecs: codecs})
	if err != nil {
		s.end(id)
		reject(500, "Server Internal Error")
		return
	}
	res := withTag(sip.NewResponseFromRequest(req, 200, "OK", body))
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	_ = tx.Respond(res)
	s.cfg.Log.Info("answered", "to", req.Recipient.User, "codec", audio.Name)
}

// add keeps the call's socket and starts echoing on it; false (and the
// socket closed) once Serve is returning.
func (s *sim) add(id string, c *net.UDPConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return false
	}
	s.calls[id] = c
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		echo(c)
	}()
	return true
}

// echo sends every RTP packet back to where it came from, until the
// socket is closed.
func echo(conn *net.UDPConn) {
	buf := make([]byte, 1500)
	for {
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		_, _ = conn.WriteToUDPAddrPort(buf[:n], src)
	}
}

func (s *sim) end(id string) {
	s.mu.Lock()
	c := s.calls[id]
	delete(s.calls, id)
	s.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

func (s *sim) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for id, c := range s.calls {
		c.Close()
		delete(s.calls, id)
	}
}
