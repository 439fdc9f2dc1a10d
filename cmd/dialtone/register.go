package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone/switch/b2bua"
)

// registrations keeps the switch registered with the carriers that ask for
// it (RFC 3261 section 10): a REGISTER with digest credentials, refreshed
// before the granted expiry, retried after a failure, withdrawn on stop.
type registrations struct {
	loops
	client    *sipgo.Client
	endpoints func(context.Context, *carrier) []b2bua.Trunk
	host      string // our advertised host, in Contact
	port      int    // our UDP port, in Contact
	log       *slog.Logger
	stateMu   sync.Mutex
	state     map[string]string // trunk -> "registered until ..." or the last error
}

// Restart withdraws the previous carriers' registrations and starts cs's.
func (r *registrations) Restart(cs *carriers) {
	r.loops.Restart(cs, func(c *carrier) bool { return c.cfg.Register.Enabled }, r.keep)
}

// State is what each registering carrier's last attempt gave.
func (r *registrations) State(trunk string) string {
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	return r.state[trunk]
}

func (r *registrations) set(trunk, s string) {
	r.stateMu.Lock()
	if r.state == nil {
		r.state = map[string]string{}
	}
	r.state[trunk] = s
	r.stateMu.Unlock()
}

func (r *registrations) keep(ctx context.Context, c *carrier) {
	for {
		granted, err := r.register(ctx, c, c.cfg.Register.Expires.D())
		wait := c.cfg.Register.Retry.D()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			r.set(c.cfg.Name, "not registered: "+err.Error())
			r.log.Warn("carrier registration failed", "trunk", c.cfg.Name, "error", err, "retry_in", wait)
		} else {
			r.set(c.cfg.Name, "registered until "+time.Now().Add(granted).UTC().Format(time.RFC3339))
			r.log.Info("registered with carrier", "trunk", c.cfg.Name, "expires", granted)
			wait = max(granted*4/5, time.Second) // refresh before it lapses
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
			continue
		}
		break
	}
	// Withdraw: Expires 0 (RFC 3261 section 10.2.2), best effort.
	wctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := r.register(wctx, c, 0); err == nil {
		r.set(c.cfg.Name, "unregistered")
	}
}

// register sends one REGISTER and answers a digest challenge; it returns
// the expiry the carrier granted.
func (r *registrations) register(ctx context.Context, c *carrier, expires time.Duration) (time.Duration, error) {
	tr := r.endpoints(ctx, c)[0]
	if tr.Host == "" {
		return 0, fmt.Errorf("no server for %s in DNS", c.cfg.SRV)
	}
	user := c.cfg.Username
	if user == "" {
		user = c.cfg.Name
	}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: tr.Host, Port: tr.Port})
	req.SetTransport(strings.ToUpper(tr.Transport))
	req.SetDestination(net.JoinHostPort(tr.Host, strconv.Itoa(tr.Port)))
	aor := sip.Uri{Scheme: "sip", User: user, Host: tr.Host}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: r.host, Port: r.port}})
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := r.client.Do(ctx, req)
	if err != nil {
		return 0, err
	}
	if (res.StatusCode == 401 || res.StatusCode == 407) && c.cfg.Password != "" {
		res, err = r.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: c.cfg.Username, Password: c.cfg.Password})
		if err != nil {
			return 0, err
		}
	}
	if !res.IsSuccess() {
		return 0, fmt.Errorf("%d %s", res.StatusCode, res.Reason)
	}
	granted := expires
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n >= 0 {
			granted = time.Duration(n) * time.Second
		}
	}
	return granted, nil
}
