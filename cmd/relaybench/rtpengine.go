package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/dialtone/dialtone/media/sdp"

	"github.com/dialtone/dialtone/internal/benchproc"
)

// rtpengine is a running rtpengine daemon (Sipwise's media proxy, Debian's
// rtpengine-daemon) in user space, controlled over its ng protocol.
type rtpengine struct {
	cmd *exec.Cmd
	ng  *ngClient
}

// startRTPEngine runs rtpengine in the foreground on loopback with its
// media ports in portMin-portMax and no kernel forwarding (--table=-1:
// every packet goes through user space, as Dialtone's relay does).
func startRTPEngine(bin, dir string, portMin, portMax int) (*rtpengine, error) {
	ngAddr := "127.0.0.1:" + strconv.Itoa(benchproc.FreePort("udp"))
	r := &rtpengine{cmd: exec.Command(bin,
		"--config-file=none", "--foreground", "--log-stderr", "--log-level=6", "--table=-1",
		"--interface=127.0.0.1", "--listen-ng="+ngAddr,
		"--port-min="+strconv.Itoa(portMin), "--port-max="+strconv.Itoa(portMax),
		"--timeout=60", "--delete-delay=0")}
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the benchmark
	logf, err := os.Create(filepath.Join(dir, "rtpengine.log"))
	if err != nil {
		return nil, err
	}
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start rtpengine: %w", err)
	}
	logf.Close()
	if r.ng, err = dialNG(ngAddr); err != nil {
		r.close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.ng.Ping(ctx); err != nil {
		r.close()
		return nil, fmt.Errorf("rtpengine did not answer ping: %w (log: %s)", err, filepath.Join(dir, "rtpengine.log"))
	}
	return r, nil
}

func (r *rtpengine) pid() int { return r.cmd.Process.Pid }

func (r *rtpengine) close() {
	if r.ng != nil {
		r.ng.Close()
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
	}
}

// offerFlags are the ng flags of an offer: rtpengine's own address in
// both SDPs, no ICE; when transcoding, the callee is offered PCMU in
// place of the caller's Opus ("mask": still accepted from the caller).
func offerFlags(transcode bool) map[string]any {
	req := map[string]any{
		"replace": []string{"origin", "session-connection"},
		"ICE":     "remove",
	}
	if transcode {
		req["codec"] = map[string]any{"mask": []string{"opus"}, "transcode": []string{"PCMU"}}
	}
	return req
}

// setup sets calls calls up in rtpengine as a SIP proxy in front of it
// would: offer with the app's SDP, answer with the carrier's. The app
// sends where the answer's reply says, the carrier where the offer's does.
func (r *rtpengine) setup(ctx context.Context, calls int, transcode bool) ([]*call, func(), error) {
	cs := make([]*call, calls)
	hangup := func() {
		for i, c := range cs {
			if c == nil {
				continue
			}
			dctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_, _ = r.ng.Do(dctx, map[string]any{"command": "delete", "call-id": callID(i), "from-tag": "app-" + strconv.Itoa(i)})
			cancel()
			c.close()
		}
	}
	err := placeAll(calls, func(i int) (err error) {
		cs[i], err = r.place(ctx, i, transcode)
		return err
	})
	if err != nil {
		hangup()
		return nil, nil, err
	}
	return cs, hangup, nil
}

func callID(i int) string { return "relaybench-" + strconv.Itoa(i) }

func (r *rtpengine) place(ctx context.Context, i int, transcode bool) (*call, error) {
	app, err := listenPeer()
	if err != nil {
		return nil, err
	}
	carrier, err := listenPeer()
	if err != nil {
		app.Close()
		return nil, err
	}
	c := &call{app: app, carrier: carrier}
	fail := func(err error) (*call, error) {
		c.close()
		return nil, fmt.Errorf("call %d: %w", i, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req := offerFlags(transcode)
	req["command"], req["call-id"], req["from-tag"], req["sdp"] = "offer", callID(i), "app-"+strconv.Itoa(i), string(appOffer(portOf(app), transcode))
	res, err := r.ng.Do(ctx, req)
	if err != nil {
		return fail(err)
	}
	toCarrierSDP, err := sdpOf(res)
	if err != nil {
		return fail(err)
	}
	offer, err := sdp.Parse([]byte(toCarrierSDP))
	if err != nil {
		return fail(fmt.Errorf("offer's reply: %w", err))
	}
	if len(offer.Codecs) == 0 || !offer.Codecs[0].Is("PCMU", 8000) {
		return fail(fmt.Errorf("rtpengine offered the carrier %v, want PCMU first", offer.Codecs))
	}
	ev := 101
	if e, ok := offer.Find("telephone-event", 8000); ok {
		ev = int(e.PT)
	}
	res, err = r.ng.Do(ctx, map[string]any{
		"command": "answer", "call-id": callID(i), "from-tag": "app-" + strconv.Itoa(i), "to-tag": "carrier-" + strconv.Itoa(i),
		"sdp":     string(fmt.Appendf(nil, carrierAnswer, portOf(carrier), ev, ev)),
		"replace": []string{"origin", "session-connection"}, "ICE": "remove",
	})
	if err != nil {
		return fail(err)
	}
	toAppSDP, err := sdpOf(res)
	if err != nil {
		return fail(err)
	}
	answer, err := sdp.Parse([]byte(toAppSDP))
	if err != nil {
		return fail(fmt.Errorf("answer's reply: %w", err))
	}
	if len(answer.Codecs) == 0 {
		return fail(errors.New("rtpengine's answer has no codec"))
	}
	if got := answer.Codecs[0].Name; transcode != (got == "opus") {
		return fail(fmt.Errorf("rtpengine answered the app with %s, want %s", got, map[bool]string{true: "opus", false: "PCMU"}[transcode]))
	}
	c.appTo, c.carrierTo = answer.Addr, offer.Addr
	c.rxPT[toCarrier], c.rxTick[toCarrier] = offer.Codecs[0].PT, tickOf(offer.Codecs[0])
	c.rxPT[toApp], c.rxTick[toApp] = answer.Codecs[0].PT, tickOf(answer.Codecs[0])
	return c, nil
}

// firstError is the first error of errs, saying how many more there are.
// placeAll runs place for calls 0 to calls-1, 10 at a time, and returns
// the first error (with how many more there were).
func placeAll(calls int, place func(i int) error) error {
	errs := make([]error, calls)
	sem := make(chan struct{}, 10)
	var wg sync.WaitGroup
	for i := range calls {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = place(i)
		})
	}
	wg.Wait()
	return firstError(errs)
}

func firstError(errs []error) error {
	var first error
	n := 0
	for _, err := range errs {
		if err != nil {
			if first == nil {
				first = err
			}
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%w (and %d more)", first, n-1)
	}
	return first
}
