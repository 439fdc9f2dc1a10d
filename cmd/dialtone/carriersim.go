package main

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
	"github.com/spf13/cobra"

	"github.com/dialtone/dialtone/media/sdp"
)

// newCarrierSimCmd is a stand-in carrier for demos and manual testing: it
// answers every INVITE after a short ring and echoes the caller's RTP back,
// so a newcomer dialing through the demo configuration hears themselves.
func newCarrierSimCmd() *cobra.Command {
	var listen, mediaIP string
	var ring time.Duration
	cmd := &cobra.Command{
		Use:   "carrier-sim",
		Short: "Run a demo carrier: answers any number and echoes the audio back",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ip, err := netip.ParseAddr(mediaIP)
			if err != nil {
				return fmt.Errorf("--media-ip: %w", err)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)).With("component", "carrier-sim")
			return runCarrierSim(cmd.Context(), listen, ip, ring, log)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:5070", "UDP address to take calls on")
	cmd.Flags().StringVar(&mediaIP, "media-ip", "127.0.0.1", "IP to receive and echo RTP on")
	cmd.Flags().DurationVar(&ring, "ring", time.Second, "how long to ring before answering")
	return cmd
}

func runCarrierSim(ctx context.Context, listen string, mediaIP netip.Addr, ring time.Duration, log *slog.Logger) error {
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("dialtone-carrier-sim"))
	if err != nil {
		return err
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	calls := &echoCalls{byID: map[string]*net.UDPConn{}}
	defer calls.closeAll()

	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		offer, err := sdp.Parse(req.Body())
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
			return
		}
		audio, dtmf, err := sdp.Negotiate(offer, []string{"PCMU", "PCMA"})
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
			return
		}
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(mediaIP, 0)))
		if err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil))
			return
		}
		calls.add(req.CallID().Value(), conn)
		wg.Add(1)
		go func() { defer wg.Done(); echo(conn) }()

		tag := sip.GenerateTagN(10)
		withTag := func(res *sip.Response) *sip.Response {
			res.To().Params.Add("tag", tag)
			res.AppendHeader(sip.NewHeader("Contact", "<sip:carrier@"+listen+">"))
			return res
		}
		_ = tx.Respond(withTag(sip.NewResponseFromRequest(req, 180, "Ringing", nil)))
		select {
		case <-time.After(ring):
		case <-tx.Done():
			calls.end(req.CallID().Value())
			return
		}
		codecs := []sdp.Codec{audio}
		if dtmf != nil {
			codecs = append(codecs, *dtmf)
		}
		body, err := sdp.NewBuilder(0).Build(sdp.Description{Addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(), Codecs: codecs})
		if err != nil {
			calls.end(req.CallID().Value())
			_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
			return
		}
		res := withTag(sip.NewResponseFromRequest(req, 200, "OK", body))
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		_ = tx.Respond(res)
		log.Info("answered", "to", req.Recipient.User, "codec", audio.Name)
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		calls.end(req.CallID().Value())
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})

	pc, err := net.ListenPacket("udp", listen)
	if err != nil {
		return fmt.Errorf("carrier-sim listen %s: %w", listen, err)
	}
	log.Info("carrier-sim ready", "sip", listen)
	go func() {
		<-ctx.Done()
		pc.Close()
	}()
	if err := srv.ServeUDP(pc); err != nil && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
		return err
	}
	return nil
}

// echo sends every RTP packet back to where it came from.
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

type echoCalls struct {
	mu   sync.Mutex
	byID map[string]*net.UDPConn
}

func (e *echoCalls) add(id string, c *net.UDPConn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byID[id] = c
}

func (e *echoCalls) end(id string) {
	e.mu.Lock()
	c := e.byID[id]
	delete(e.byID, id)
	e.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

func (e *echoCalls) closeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, c := range e.byID {
		c.Close()
		delete(e.byID, id)
	}
}
