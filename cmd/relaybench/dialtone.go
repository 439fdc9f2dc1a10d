package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone/media/sdp"

	"github.com/dialtone/dialtone/internal/benchproc"
)

// Offers of the app's phone: PCMU only, which passes through, or Opus
// only over plain RTP, which the relay must transcode to the carrier's
// G.711.
const (
	pcmuOffer = "v=0\r\no=app 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio %d RTP/AVP 0 126\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:126 telephone-event/8000\r\na=ptime:20\r\n"
	opusOffer = "v=0\r\no=app 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio %d RTP/AVP 111 110\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n" +
		"a=rtpmap:110 telephone-event/48000\r\na=ptime:20\r\n"
	// carrierAnswer is the carrier's: PCMU, whatever else it was offered.
	carrierAnswer = "v=0\r\no=carrier 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio %d RTP/AVP 0 %d\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:%d telephone-event/8000\r\na=ptime:20\r\n"
)

func appOffer(port int, transcode bool) []byte {
	if transcode {
		return fmt.Appendf(nil, opusOffer, port)
	}
	return fmt.Appendf(nil, pcmuOffer, port)
}

// dialtone is a running `dialtone serve` with an app phone and a carrier,
// both sipgo user agents of this process.
type dialtone struct {
	cmd      *exec.Cmd
	dir      string
	sipPort  int
	app      *sipgo.DialogClientCache
	carrier  *sipgo.DialogServerCache
	appUA    *sipgo.UserAgent
	carUA    *sipgo.UserAgent
	cancel   context.CancelFunc
	mu       sync.Mutex
	pending  map[string]*net.UDPConn // carrier sockets by dialed number, waiting for their INVITE
	answered map[string]*sdp.Session // the switch's offers to the carrier, by dialed number
}

// startDialtone writes a configuration into dir, creates the load
// account and starts bin serve, with its media ports in portMin-portMax
// and media.opus.complexity complexity.
func startDialtone(bin, dir string, portMin, portMax, complexity int) (*dialtone, error) {
	sipPort, httpPort, carrierPort, appPort := benchproc.FreePort("udp"), benchproc.FreePort("tcp"), benchproc.FreePort("udp"), benchproc.FreePort("udp")
	cfg := fmt.Sprintf(`log: {level: warn, format: text}
store: {url: "sqlite://%s/dialtone.db"}
sip:
  realm: dialtone
  advertise: 127.0.0.1
  listen: [{transport: udp, addr: "127.0.0.1:%d"}]
media: {bind: 127.0.0.1, advertise: 127.0.0.1, port_min: %d, port_max: %d, timeout: 30s, opus: {complexity: %d}}
trunks: [{name: carrier, address: "127.0.0.1:%d", transport: udp}]
routes: [{prefix: "", trunks: [carrier]}]
http: {listen: "127.0.0.1:%d"}
shutdown: {drain_timeout: 5s}
%s`, dir, sipPort, portMin, portMax, complexity, carrierPort, httpPort, benchproc.LoadAccount)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w (make build makes it; -bin names another)", err)
	}
	cfgPath := filepath.Join(dir, "dialtone.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	create := exec.Command(bin, "-c", cfgPath, "account", "create", "load", "--country", "US")
	create.Env = append(os.Environ(), "DIALTONE_PASSWORD=loadpass")
	if out, err := create.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("create account: %v: %s", err, out)
	}
	d := &dialtone{dir: dir, sipPort: sipPort, pending: map[string]*net.UDPConn{}, answered: map[string]*sdp.Session{}}
	d.cmd = exec.Command(bin, "-c", cfgPath, "serve")
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the benchmark
	logf, err := os.Create(filepath.Join(dir, "dialtone.log"))
	if err != nil {
		return nil, err
	}
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	logf.Close()
	if err := benchproc.WaitReady(fmt.Sprintf("http://127.0.0.1:%d/readyz", httpPort)); err != nil {
		d.close()
		return nil, fmt.Errorf("%w (log: %s)", err, filepath.Join(dir, "dialtone.log"))
	}
	if err := d.startPeers(appPort, carrierPort); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *dialtone) pid() int { return d.cmd.Process.Pid }

// startPeers starts the app's phone on 127.0.0.2 (a source the switch's
// guard checks, as any app's) and the carrier on 127.0.0.1, where the
// trunk points.
func (d *dialtone) startPeers(appPort, carrierPort int) error {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	var err error
	if d.appUA, err = sipgo.NewUA(sipgo.WithUserAgent("relaybench-app")); err != nil {
		return err
	}
	appSrv, err := sipgo.NewServer(d.appUA, sipgo.WithServerLogger(quiet))
	if err != nil {
		return err
	}
	appClient, err := sipgo.NewClient(d.appUA, sipgo.WithClientAddr(fmt.Sprintf("127.0.0.2:%d", appPort)), sipgo.WithClientConnectionAddr(fmt.Sprintf("127.0.0.2:%d", appPort)), sipgo.WithClientLogger(quiet))
	if err != nil {
		return err
	}
	d.app = sipgo.NewDialogClientCache(appClient, sip.ContactHeader{Address: sip.Uri{User: "load", Host: "127.0.0.2", Port: appPort}})
	appSrv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) { _ = d.app.ReadBye(req, tx) })

	if d.carUA, err = sipgo.NewUA(sipgo.WithUserAgent("relaybench-carrier")); err != nil {
		return err
	}
	carSrv, err := sipgo.NewServer(d.carUA, sipgo.WithServerLogger(quiet))
	if err != nil {
		return err
	}
	carClient, err := sipgo.NewClient(d.carUA, sipgo.WithClientAddr(fmt.Sprintf("127.0.0.1:%d", carrierPort)), sipgo.WithClientConnectionAddr(fmt.Sprintf("127.0.0.1:%d", carrierPort)), sipgo.WithClientLogger(quiet))
	if err != nil {
		return err
	}
	d.carrier = sipgo.NewDialogServerCache(carClient, sip.ContactHeader{Address: sip.Uri{User: "carrier", Host: "127.0.0.1", Port: carrierPort}})
	carSrv.OnInvite(d.onCarrierInvite)
	carSrv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = d.carrier.ReadAck(req, tx) })
	carSrv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) { _ = d.carrier.ReadBye(req, tx) })
	carSrv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})

	for _, l := range []struct {
		srv  *sipgo.Server
		addr string
	}{{appSrv, fmt.Sprintf("127.0.0.2:%d", appPort)}, {carSrv, fmt.Sprintf("127.0.0.1:%d", carrierPort)}} {
		ready := make(chan struct{})
		go func() {
			_ = l.srv.ListenAndServe(context.WithValue(ctx, sipgo.ListenReadyCtxKey, sipgo.ListenReadyCtxValue(ready)), "udp", l.addr)
		}()
		select {
		case <-ready:
		case <-time.After(5 * time.Second):
			return fmt.Errorf("SIP listener %s did not start", l.addr)
		}
	}
	return nil
}

// onCarrierInvite answers the switch's INVITE with PCMU toward the
// carrier socket waiting for the dialed number; an INVITE nobody waits
// for gets 404.
func (d *dialtone) onCarrierInvite(req *sip.Request, tx sip.ServerTransaction) {
	number := req.Recipient.User
	d.mu.Lock()
	conn := d.pending[number]
	delete(d.pending, number)
	d.mu.Unlock()
	if conn == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 404, "Not Found", nil))
		return
	}
	offer, err := sdp.Parse(req.Body())
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		return
	}
	ev := 101
	if c, ok := offer.Find("telephone-event", 8000); ok {
		ev = int(c.PT)
	}
	dlg, err := d.carrier.ReadInvite(req, tx)
	if err != nil {
		return
	}
	d.mu.Lock()
	d.answered[number] = offer
	d.mu.Unlock()
	_ = dlg.RespondSDP(fmt.Appendf(nil, carrierAnswer, portOf(conn), ev, ev)) // returns on the ACK
}

// setup places calls calls through the switch, 10 at a time, and returns
// them with the function that hangs them up.
func (d *dialtone) setup(ctx context.Context, calls int, transcode bool) ([]*call, func(), error) {
	cs := make([]*call, calls)
	dialogs := make([]*sipgo.DialogClientSession, calls)
	hangup := func() {
		var wg sync.WaitGroup
		for _, dlg := range dialogs {
			if dlg != nil {
				wg.Go(func() {
					bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					_ = dlg.Bye(bctx)
					dlg.Close()
				})
			}
		}
		wg.Wait()
		for _, c := range cs {
			if c != nil {
				c.close()
			}
		}
	}
	err := placeAll(calls, func(i int) (err error) {
		cs[i], dialogs[i], err = d.place(ctx, i, transcode)
		return err
	})
	if err != nil {
		hangup()
		return nil, nil, err
	}
	return cs, hangup, nil
}

// place sets up call i: INVITE from the app with digest auth, the
// carrier's answer, ACK; the relay's ports come from the two SDPs the
// switch sent (its answer to the app, its offer to the carrier).
func (d *dialtone) place(ctx context.Context, i int, transcode bool) (*call, *sipgo.DialogClientSession, error) {
	app, err := listenPeer()
	if err != nil {
		return nil, nil, err
	}
	carrier, err := listenPeer()
	if err != nil {
		app.Close()
		return nil, nil, err
	}
	c := &call{app: app, carrier: carrier}
	number := strconv.Itoa(12125550000 + 1000 + i) // +1 212 555 1000 and on: one number a call
	d.mu.Lock()
	d.pending[number] = carrier
	d.mu.Unlock()
	fail := func(err error) (*call, *sipgo.DialogClientSession, error) {
		d.mu.Lock()
		delete(d.pending, number)
		d.mu.Unlock()
		c.close()
		return nil, nil, fmt.Errorf("call %d: %w", i, err)
	}
	ictx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	dlg, err := d.app.Invite(ictx, sip.Uri{User: number, Host: "127.0.0.1", Port: d.sipPort}, appOffer(portOf(app), transcode), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return fail(err)
	}
	if err := dlg.WaitAnswer(ictx, sipgo.AnswerOptions{Username: "load", Password: "loadpass"}); err != nil {
		var failed *sipgo.ErrDialogResponse
		if errors.As(err, &failed) {
			return fail(fmt.Errorf("switch answered %d %s", failed.Res.StatusCode, failed.Res.Reason))
		}
		return fail(err)
	}
	if err := dlg.Ack(ictx); err != nil {
		dlg.Close()
		return fail(err)
	}
	answer, err := sdp.Parse(dlg.InviteResponse.Body())
	if err != nil {
		_ = dlg.Bye(ictx)
		return fail(fmt.Errorf("switch's answer: %w", err))
	}
	d.mu.Lock()
	offer := d.answered[number]
	delete(d.answered, number)
	d.mu.Unlock()
	if offer == nil {
		_ = dlg.Bye(ictx)
		return fail(errors.New("answered without the carrier's INVITE"))
	}
	if len(answer.Codecs) == 0 {
		_ = dlg.Bye(ictx)
		return fail(errors.New("switch's answer has no codec"))
	}
	c.appTo, c.carrierTo = answer.Addr, offer.Addr
	c.rxPT[toCarrier], c.rxTick[toCarrier] = ptPCMU, tickPCMU
	c.rxPT[toApp], c.rxTick[toApp] = answer.Codecs[0].PT, tickOf(answer.Codecs[0])
	if got := answer.Codecs[0].Name; transcode != (got == "opus") {
		_ = dlg.Bye(ictx)
		return fail(fmt.Errorf("switch answered the app with %s, want %s", got, map[bool]string{true: "opus", false: "PCMU"}[transcode]))
	}
	return c, dlg, nil
}

// tickOf is the RTP timestamp step of a 20 ms frame of codec c.
func tickOf(c sdp.Codec) uint32 { return uint32(c.Clock / 50) }

func (d *dialtone) close() {
	if d.cancel != nil {
		d.cancel()
	}
	if d.appUA != nil {
		d.appUA.Close()
	}
	if d.carUA != nil {
		d.carUA.Close()
	}
	_ = d.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
}
