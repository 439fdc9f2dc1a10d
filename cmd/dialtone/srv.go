package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// srvTTL is how long an SRV answer is reused.
const srvTTL = 30 * time.Second

// srvResolver finds a carrier's servers by DNS SRV (RFC 3263 section 4.2,
// RFC 2782): _sip._udp, _sip._tcp or _sips._tcp by transport. Targets come
// ordered by priority and, within one, shuffled by weight (Go's resolver
// does both). Answers are cached for srvTTL.
type srvResolver struct {
	resolver *net.Resolver
	now      func() time.Time

	mu    sync.Mutex
	cache map[string]srvAnswer
}

type srvAnswer struct {
	targets []string // host:port
	err     error
	at      time.Time
}

// newSRVResolver uses server ("IP:port") for DNS when given, else the system's.
func newSRVResolver(server string) *srvResolver {
	r := &srvResolver{resolver: net.DefaultResolver, now: time.Now, cache: map[string]srvAnswer{}}
	if server != "" {
		r.resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		}}
	}
	return r
}

// Lookup returns the servers of domain for transport, as host:port.
func (r *srvResolver) Lookup(ctx context.Context, transport, domain string) ([]string, error) {
	service, proto := "sip", "udp"
	switch transport {
	case "tcp":
		proto = "tcp"
	case "tls":
		service, proto = "sips", "tcp"
	}
	key := service + "/" + proto + "/" + domain
	r.mu.Lock()
	a, ok := r.cache[key]
	r.mu.Unlock()
	if ok && r.now().Sub(a.at) < srvTTL {
		return a.targets, a.err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, recs, err := r.resolver.LookupSRV(ctx, service, proto, domain)
	a = srvAnswer{at: r.now()}
	if err != nil {
		a.err = fmt.Errorf("srv _%s._%s.%s: %w", service, proto, domain, err)
	}
	for _, rec := range recs {
		if rec.Target == "." { // the service is not offered (RFC 2782)
			continue
		}
		// Resolved here, with the same resolver, so that the SIP stack gets addresses.
		ips, err := r.resolver.LookupIP(ctx, "ip4", strings.TrimSuffix(rec.Target, "."))
		if err != nil || len(ips) == 0 {
			continue
		}
		a.targets = append(a.targets, net.JoinHostPort(ips[0].String(), strconv.Itoa(int(rec.Port))))
	}
	if a.err == nil && len(a.targets) == 0 {
		a.err = fmt.Errorf("srv _%s._%s.%s: no servers", service, proto, domain)
	}
	r.mu.Lock()
	r.cache[key] = a
	r.mu.Unlock()
	return a.targets, a.err
}
