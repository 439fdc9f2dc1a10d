// Package srv finds a carrier's SIP servers by DNS SRV (RFC 3263 section
// 4.2, RFC 2782): _sip._udp, _sip._tcp or _sips._tcp by transport, each
// target resolved to its IPv4 address, ordered by priority and, within one
// priority, by a weighted draw. It asks DNS itself (miekg/dns), so that
// a lookup's failure says what DNS answered.
//
// Concurrency: a Resolver is safe for concurrent use. Answers, failures
// included, are reused for Config.TTL.
package srv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

var (
	// ErrNotFound: DNS says the name does not exist (NXDOMAIN).
	ErrNotFound = errors.New("no such domain")
	// ErrNoServers: the name exists but gives no usable server (no SRV
	// records, the target ".", or no target with an address).
	ErrNoServers = errors.New("no servers")
)

// Config sets up a Resolver. Zero values take the defaults.
type Config struct {
	Server  string        // DNS server "IP:port"; empty: the nameservers of /etc/resolv.conf
	TTL     time.Duration // how long an answer is reused; default 30s
	Timeout time.Duration // one lookup's bound; default 3s
	Now     func() time.Time
	Rand    func(n int) int // uniform in [0, n), for the weighted draw; default math/rand/v2
}

// Resolver looks up SRV records and caches the answers.
type Resolver struct {
	cfg     Config
	servers []string
	noDNS   error // why there are no servers to ask (/etc/resolv.conf unreadable)
	client  *dns.Client

	mu    sync.Mutex
	cache map[string]answer
}

type answer struct {
	targets []target
	err     error
	at      time.Time
}

// New makes a Resolver that asks cfg.Server, else the nameservers of
// /etc/resolv.conf; when that cannot be read, every lookup says so.
func New(cfg Config) *Resolver {
	if cfg.TTL == 0 {
		cfg.TTL = 30 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.IntN
	}
	r := &Resolver{cfg: cfg, client: &dns.Client{Net: "udp"}, cache: map[string]answer{}}
	if cfg.Server != "" {
		r.servers = []string{cfg.Server}
		return r
	}
	cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		r.noDNS = fmt.Errorf("dns servers: %w", err)
		return r
	}
	for _, s := range cc.Servers {
		r.servers = append(r.servers, net.JoinHostPort(s, cc.Port))
	}
	if len(r.servers) == 0 {
		r.noDNS = errors.New("dns servers: /etc/resolv.conf names none")
	}
	return r
}

// Lookup returns the servers of domain for transport (udp, tcp or tls),
// best first. An error names the query and wraps ErrNotFound, ErrNoServers
// or what the exchange with DNS failed with.
func (r *Resolver) Lookup(ctx context.Context, transport, domain string) ([]netip.AddrPort, error) {
	name := serviceName(transport, domain)
	if r.noDNS != nil {
		return nil, fmt.Errorf("srv %s: %w", name, r.noDNS)
	}
	r.mu.Lock()
	a, ok := r.cache[name]
	r.mu.Unlock()
	if ok && r.cfg.Now().Sub(a.at) < r.cfg.TTL {
		return order(a.targets, r.cfg.Rand), a.err
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	a = answer{at: r.cfg.Now()}
	a.targets, a.err = r.lookup(ctx, name)
	if a.err != nil {
		a.targets = nil
		a.err = fmt.Errorf("srv %s: %w", name, a.err)
	}
	r.mu.Lock()
	r.cache[name] = a
	r.mu.Unlock()
	return order(a.targets, r.cfg.Rand), a.err
}

// serviceName is the SRV owner name (RFC 3263 section 4.2).
func serviceName(transport, domain string) string {
	service, proto := "_sip", "_udp"
	switch transport {
	case "tcp":
		proto = "_tcp"
	case "tls":
		service, proto = "_sips", "_tcp"
	}
	return service + "." + proto + "." + dns.Fqdn(domain)
}

// target is an SRV record's server, resolved.
type target struct {
	addr     netip.AddrPort
	priority uint16
	weight   uint16
}

// lookup asks for the SRV records of name and each target's address;
// the targets come in no particular order (order sorts them).
func (r *Resolver) lookup(ctx context.Context, name string) ([]target, error) {
	res, err := r.exchange(ctx, name, dns.TypeSRV)
	if err != nil {
		return nil, err
	}
	var srvs []*dns.SRV
	for _, rr := range res.Answer {
		if s, ok := rr.(*dns.SRV); ok && s.Target != "." { // "." : the service is not offered (RFC 2782)
			srvs = append(srvs, s)
		}
	}
	if len(srvs) == 0 {
		return nil, ErrNoServers
	}
	glue := map[string]netip.Addr{} // addresses given with the answer
	for _, rr := range res.Extra {
		if a, ok := rr.(*dns.A); ok {
			if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
				glue[strings.ToLower(a.Hdr.Name)] = ip
			}
		}
	}
	var ts []target
	var firstErr error
	for _, s := range srvs {
		ip, ok := glue[strings.ToLower(s.Target)]
		if !ok {
			if ip, err = r.address(ctx, s.Target); err != nil {
				firstErr = cmpErr(firstErr, err)
				continue
			}
		}
		ts = append(ts, target{addr: netip.AddrPortFrom(ip, s.Port), priority: s.Priority, weight: s.Weight})
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("%w: %w", ErrNoServers, firstErr)
	}
	return ts, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// address resolves a target to its first IPv4 address.
func (r *Resolver) address(ctx context.Context, host string) (netip.Addr, error) {
	res, err := r.exchange(ctx, host, dns.TypeA)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("a %s: %w", host, err)
	}
	for _, rr := range res.Answer {
		if a, ok := rr.(*dns.A); ok {
			if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
				return ip, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("a %s: no address", host)
}

// exchange asks the servers in turn until one answers.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.RecursionDesired = true
	var err error
	for _, server := range r.servers {
		var res *dns.Msg
		res, _, err = r.client.ExchangeContext(ctx, q, server)
		if err != nil {
			continue
		}
		switch res.Rcode {
		case dns.RcodeSuccess:
			return res, nil
		case dns.RcodeNameError:
			return nil, ErrNotFound
		}
		err = fmt.Errorf("%s from %s", dns.RcodeToString[res.Rcode], server)
	}
	return nil, err
}

// order sorts by priority, lowest first, and within one priority by the
// weighted draw of RFC 2782: zero weights first, then the running sum of
// the weights, a number drawn in [0, sum], and the first target whose
// running sum reaches it goes next; again over the rest.
func order(ts []target, rnd func(int) int) []netip.AddrPort {
	if ts == nil {
		return nil
	}
	ts = slices.Clone(ts)
	slices.SortStableFunc(ts, func(a, b target) int {
		if a.priority != b.priority {
			return int(a.priority) - int(b.priority)
		}
		return int(min(a.weight, 1)) - int(min(b.weight, 1)) // zero weights first
	})
	out := make([]netip.AddrPort, 0, len(ts))
	for len(ts) > 0 {
		n := 1 // targets of the lowest priority left
		for n < len(ts) && ts[n].priority == ts[0].priority {
			n++
		}
		group := ts[:n]
		for len(group) > 0 {
			sum := 0
			for _, t := range group {
				sum += int(t.weight)
			}
			x := rnd(sum + 1)
			pick, run := 0, 0
			for i, t := range group {
				run += int(t.weight)
				if run >= x {
					pick = i
					break
				}
			}
			out = append(out, group[pick].addr)
			group = slices.Delete(group, pick, pick+1)
		}
		ts = ts[n:]
	}
	return out
}
