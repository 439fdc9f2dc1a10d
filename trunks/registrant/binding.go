// Package registrant keeps the switch registered with the carriers that
// ask for it: outbound REGISTER (RFC 3261 section 10.2) with digest
// credentials, refreshed before the granted expiry, retried after a
// failure, withdrawn on stop.
//
// A Binding is one registration's client side: it keeps one Call-ID and
// From tag for its life and raises the CSeq on every request (RFC 3261
// section 10.2), and it honours 423 Interval Too Brief by asking again
// for the registrar's Min-Expires (sections 10.2.8 and 20.23). A Keeper
// runs one Binding per registering carrier.
//
// Concurrency: a Binding is used by one goroutine at a time. A Keeper is
// safe for concurrent use; it owns its goroutines and Stop waits for them.
package registrant

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/dialtone/dialtone/trunks"
)

// StatusError is a registrar's final answer other than 2xx.
type StatusError struct {
	Code   int
	Reason string
}

func (e *StatusError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Reason) }

// BindingConfig is who registers, where, and how.
type BindingConfig struct {
	Domain      string // the registrar's domain: the Request-URI and the AOR's host; empty: the address registered at
	User        string // the AOR's user
	Username    string // digest credentials; empty: challenges are not answered
	Password    string
	Transport   string // udp, tcp, tls
	ContactHost string // where the carrier reaches us
	ContactPort int
}

// Binding is one registration binding with a registrar.
type Binding struct {
	client     *sipgo.Client
	cfg        BindingConfig
	callID     string
	fromTag    string
	cseq       uint32
	minExpires time.Duration // the registrar's Min-Expires, once it said it
}

// NewBinding starts a binding: its Call-ID and From tag are drawn here
// and kept for every REGISTER it sends.
func NewBinding(client *sipgo.Client, cfg BindingConfig) *Binding {
	return &Binding{client: client, cfg: cfg, callID: sip.GenerateTagN(24), fromTag: sip.GenerateTagN(16)}
}

// CallID is the binding's Call-ID.
func (b *Binding) CallID() string { return b.callID }

// Register sends REGISTER to ep asking for expires (0 withdraws the
// binding, RFC 3261 section 10.2.2), answers one digest challenge, and
// after 423 Interval Too Brief asks once more for the Min-Expires the
// registrar gave. It returns the expiry the registrar granted.
func (b *Binding) Register(ctx context.Context, ep trunks.Endpoint, expires time.Duration) (time.Duration, error) {
	if expires > 0 && expires < b.minExpires {
		expires = b.minExpires
	}
	for tries := 0; ; tries++ {
		res, err := b.send(ctx, ep, expires)
		if err != nil {
			return 0, err
		}
		if res.StatusCode == sip.StatusIntervalToBrief && expires > 0 && tries == 0 {
			min, ok := minExpires(res)
			if !ok || min <= expires {
				return 0, fmt.Errorf("%d %s without a usable Min-Expires", res.StatusCode, res.Reason)
			}
			b.minExpires, expires = min, min
			continue
		}
		if !res.IsSuccess() {
			return 0, &StatusError{Code: res.StatusCode, Reason: res.Reason}
		}
		return b.granted(res, expires), nil
	}
}

// send makes one REGISTER transaction, and a second one with credentials
// when the first is challenged; each takes the next CSeq.
func (b *Binding) send(ctx context.Context, ep trunks.Endpoint, expires time.Duration) (*sip.Response, error) {
	domain := b.cfg.Domain
	ruri := sip.Uri{Scheme: "sip", Host: domain}
	if domain == "" {
		domain = ep.Host
		ruri = sip.Uri{Scheme: "sip", Host: ep.Host, Port: ep.Port}
	}
	req := sip.NewRequest(sip.REGISTER, ruri)
	req.SetTransport(strings.ToUpper(b.cfg.Transport))
	req.SetDestination(ep.String())
	aor := sip.Uri{Scheme: "sip", User: b.cfg.User, Host: domain}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", b.fromTag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	callID := sip.CallIDHeader(b.callID)
	req.AppendHeader(&callID)
	b.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: b.cseq, MethodName: sip.REGISTER})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: b.cfg.User, Host: b.cfg.ContactHost, Port: b.cfg.ContactPort}})
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := b.client.Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	if (res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired) && b.cfg.Password != "" {
		// sipgo raises the request's CSeq for the second transaction.
		res, err = b.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: b.cfg.Username, Password: b.cfg.Password})
		b.cseq = req.CSeq().SeqNo
		if err != nil {
			return nil, fmt.Errorf("register: %w", err)
		}
	}
	return res, nil
}

// granted is the expiry of our contact in a 2xx: its expires parameter,
// else the Expires header, else what was asked (RFC 3261 section 10.2.4).
func (b *Binding) granted(res *sip.Response, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok || c.Address.Host != b.cfg.ContactHost || (c.Address.Port != 0 && c.Address.Port != b.cfg.ContactPort) {
			continue
		}
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

// minExpires reads a 423's Min-Expires (RFC 3261 section 20.23).
func minExpires(res *sip.Response) (time.Duration, bool) {
	h := res.GetHeader("Min-Expires")
	if h == nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
	if err != nil || n <= 0 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}
