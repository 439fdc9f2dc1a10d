package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
	"github.com/dialtone/dialtone/companion"
	"github.com/dialtone/dialtone/postgres"
	"github.com/dialtone/dialtone/sqlite"
	"github.com/dialtone/dialtone/switch/b2bua"
	"github.com/dialtone/dialtone/switch/digest"
	"github.com/dialtone/dialtone/switch/edge"
	"github.com/dialtone/dialtone/switch/guard"
	"github.com/dialtone/dialtone/switch/limits"
	"github.com/dialtone/dialtone/trunks"
	"github.com/dialtone/dialtone/trunks/health"
	"github.com/dialtone/dialtone/web"
)

func newServeCmd(load func() (*Config, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the switch",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			if err := cfg.checkListen(); err != nil { // before the store is opened or migrated
				return err
			}
			// serve tells SIGTERM (drain) from SIGINT (hang up) itself; the
			// command context is cancelled by either, so it must not decide.
			return serve(context.WithoutCancel(cmd.Context()), cfg, load)
		},
	}
}

func newMigrateCmd(load func() (*Config, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the embedded schema migrations to the configured store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			st, applied, err := openStore(cmd.Context(), cfg.Store)
			if err != nil {
				return err
			}
			defer st.Close()
			if len(applied) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "schema is up to date")
			}
			for _, v := range applied {
				fmt.Fprintln(cmd.OutOrStdout(), "applied", v)
			}
			return nil
		},
	}
}

// openStore opens the store the URL names and applies pending migrations.
func openStore(ctx context.Context, c StoreConfig) (dialtone.Store, []string, error) {
	driver, dsn, err := c.Parse()
	if err != nil {
		return nil, nil, err
	}
	switch driver {
	case "sqlite":
		db, err := sqlite.Open(ctx, dsn)
		if err != nil {
			return nil, nil, err
		}
		applied, err := db.Migrate(ctx)
		if err != nil {
			db.Close()
			return nil, nil, fmt.Errorf("store %s: %w", dsn, err)
		}
		return db, applied, nil
	default:
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, nil, fmt.Errorf("open %s: %w", redact(dsn), err)
		}
		applied, err := db.Migrate(ctx)
		if err != nil {
			db.Close()
			return nil, nil, err
		}
		return db, applied, nil
	}
}

// newLogger is the process's logger, bounded against floods (package
// guard): call flush now and then to report suppressed lines.
func newLogger(c LogConfig) (log *slog.Logger, flush func()) {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if c.Format == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	bounded := guard.NewLogHandler(h, guard.DefaultLog(), nil)
	return slog.New(bounded), func() { bounded.Flush(context.Background()) }
}

// serve runs the switch until a signal: SIGTERM drains (new calls get 503,
// active ones may finish within shutdown.drain_timeout, the rest get BYE);
// SIGINT hangs up every call at once. SIGHUP re-reads trunks and routes
// through load.
func serve(ctx context.Context, cfg *Config, load func() (*Config, error)) error {
	log, flushLog := newLogger(cfg.Log)
	defer everyMinute(flushLog)()
	if limit := cfg.Runtime.apply(); limit > 0 {
		log.Info("memory limit", "mib", limit>>20)
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	defer signal.Stop(hups)

	st, applied, err := openStore(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(applied) > 0 {
		log.Info("schema migrated", "applied", applied)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	appKey, err := appCredentialKey(ctx, cfg, st)
	if err != nil {
		return err
	}
	sw, err := buildSwitch(ctx, cfg, load, st, appKey, reg, log)
	if err != nil {
		return err
	}

	bus, closeBus, err := liveBus(ctx, st, log)
	if err != nil {
		sw.Close()
		return err
	}
	defer closeBus()
	api := newCompanion(cfg, st, bus, sw.guard, appKey, quoter{router: sw.carriers.router, ctl: sw.carriers.ctl, st: st,
		free: cfg.Billing.FreeCalls(), now: func() time.Time { return time.Now().UTC() }}, log)
	stopExpiry := everyMinute(func() {
		if n, err := api.ExpireEnvelopes(context.Background()); err != nil {
			log.Error("red envelope refunds", "error", err)
		} else if n > 0 {
			log.Info("refunded expired red envelopes", "envelopes", n)
		}
	})
	defer stopExpiry()
	// The API (companion and finance export) is on http.listen unless
	// api.listen gives it a listener of its own, which is how it should be
	// exposed: http.listen also serves /admin, /metrics and pprof.
	apiMux := http.NewServeMux()
	apiMux.Handle("/api/v1/", api.Handler())
	adminHandler := adminMux(cfg, st, reg, sw)
	if cfg.API.Listen == "" {
		mux := http.NewServeMux()
		mux.Handle("/api/v1/", apiMux)
		mux.Handle("/", adminHandler)
		adminHandler = mux
	}
	// api.listen first: once http.listen answers /readyz, the API is up too.
	if cfg.API.Listen != "" {
		if cfg.Web.Enabled { // the dialer is for app users too: on the listener meant to be exposed
			apiMux.Handle("/", dialerPage(cfg, sw.listeners)) // no method: "GET /" would conflict with "/api/v1/"
		}
		apiSrv, _, err := startHTTP("api.listen", cfg.API.Listen, apiMux, log)
		if err != nil {
			sw.Close()
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = apiSrv.Shutdown(sctx)
		}()
	}
	admin, adminLn, err := startHTTP("http.listen", cfg.HTTP.Listen, adminHandler, log)
	if err != nil {
		sw.Close()
		return err // the deferred Shutdown closes api.listen
	}
	sw.edge.Serve(sw.listeners)
	for _, l := range sw.listeners {
		log.Info("sip listening", "transport", l.Transport, "addr", listenerAddr(l))
	}
	log.Info("dialtone ready", "version", version, "http", adminLn.Addr().String(), "store", redact(cfg.Store.URL))
	if cfg.Web.Enabled {
		log.Info("dialer page", "url", "http://"+adminLn.Addr().String()+"/")
	}

	var sig os.Signal
wait:
	for {
		select {
		case sig = <-sigs:
			break wait
		case <-ctx.Done():
			sig = os.Interrupt
			break wait
		case <-hups:
			if err := sw.reload(); err != nil {
				log.Error("reload refused: the running trunks and routes stay", "error", err)
			}
		}
	}
	if sig == syscall.SIGTERM {
		log.Info("draining: refusing new calls", "active", sw.calls.ActiveCalls(), "timeout", cfg.Shutdown.DrainTimeout)
		dctx, cancel := context.WithTimeout(context.Background(), cfg.Shutdown.DrainTimeout)
		left := 0
		go func() {
			select {
			case <-sigs: // a second signal ends the wait
				cancel()
			case <-dctx.Done():
			}
		}()
		left = sw.calls.Drain(dctx)
		cancel()
		if left > 0 {
			log.Info("drain timeout: hanging up", "active", left)
		}
	} else {
		log.Info("stopping: hanging up", "active", sw.calls.ActiveCalls())
	}
	sw.calls.HangupAll()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = admin.Shutdown(sctx)
	sw.Close()
	log.Info("dialtone stopped")
	return nil
}

// theSwitch is the SIP side, built and wired.
type theSwitch struct {
	ua        *sipgo.UserAgent
	edge      *edge.Edge
	calls     *b2bua.Server
	leases    *billing.Leases
	listeners []edge.Listener
	carriers  *carriers
	media     *mediaFactory
	guard     *guard.Guard
	fronts    []netip.Prefix // sip.trusted_proxies, allowed by the guard; not reloaded
	shared    *limits.Shared // nil: calls counted in this process
	registrar *edge.Registrar
	load      func() (*Config, error)
	log       *slog.Logger
	reloadMu  sync.Mutex
}

// reload re-reads the configuration file and swaps in its trunks and
// routes; calls in progress are untouched. A file that does not validate
// changes nothing.
func (s *theSwitch) reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg, err := s.load()
	if err != nil {
		return err
	}
	n, err := s.carriers.reload(cfg)
	if err != nil {
		return err
	}
	s.guard.SetAllow(append(trunkAllow(cfg), s.fronts...))
	s.log.Info("trunks and routes reloaded", "trunks", n)
	return nil
}

func (s *theSwitch) Close() {
	s.carriers.stop()
	s.calls.Close()
	// Every call is finished: the lease is dropped, so that other nodes
	// settle at once whatever could not be settled here.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.leases.Close(ctx, true); err != nil {
		s.log.Warn("lease not dropped: other nodes wait for it to lapse", "error", err)
	}
	s.edge.Close()
	s.registrar.Close()
	s.guard.Close()
	if s.shared != nil {
		s.shared.Close()
	}
	s.ua.Close()
	if err := s.media.Close(); err != nil {
		s.log.Warn("webrtc media socket close", "error", err)
	}
}

func buildSwitch(ctx context.Context, cfg *Config, load func() (*Config, error), st dialtone.Store, appKey []byte, reg prometheus.Registerer, log *slog.Logger) (*theSwitch, error) {
	var serverTLS *tls.Config
	if cfg.SIP.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.SIP.TLSCert, cfg.SIP.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("sip.tls_cert / sip.tls_key: %w", err)
		}
		serverTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	clientTLS, err := carrierTLS(cfg.Trunks)
	if err != nil {
		return nil, err
	}
	listeners, ports, err := bindSIP(cfg.SIP.Listen, serverTLS)
	if err != nil {
		return nil, err
	}
	closeAll := func() {
		for _, l := range listeners {
			if l.Packet != nil {
				l.Packet.Close()
			}
			if l.Stream != nil {
				l.Stream.Close()
			}
		}
	}
	// The transport layer logs each message it cannot parse: through the
	// bounded logger, not slog's default.
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(cfg.SIP.UserAgent), sipgo.WithUserAgentHostname(cfg.SIP.Advertise), sipgo.WithUserAgenTLSConfig(clientTLS),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)))
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("sip user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("sip server: %w", err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname(cfg.SIP.Advertise), sipgo.WithClientLogger(log))
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("sip client: %w", err)
	}
	refused := newRefused(reg)
	carriers, err := newCarriers(cfg, client, ports["udp"], refused, log)
	if err != nil {
		closeAll()
		return nil, err
	}
	media, err := newMediaFactory(cfg.Media, reg, log)
	if err != nil {
		closeAll()
		return nil, err
	}
	closeListeners := closeAll
	closeAll = func() { closeListeners(); media.Close() }
	nonceKey, err := nonceKey(ctx, cfg, st)
	if err != nil {
		closeAll()
		return nil, err
	}
	auth, err := digest.NewServer(digest.Config{Realm: cfg.SIP.Realm, Secret: nonceKey, NonceTTL: cfg.SIP.NonceTTL, Algorithms: cfg.SIP.AuthAlgs,
		Counts: newNonceCounts(st, time.Now)})
	if err != nil {
		closeAll()
		return nil, err
	}
	clock := b2bua.SystemClock() // one clock for the calls and their billing
	ctl, err := newCredit(cfg, st, carriers.buyPlan, clock.Now, reg, log)
	if err != nil {
		closeAll()
		return nil, err
	}
	carriers.ctl = ctl
	reg.MustRegister(health.NewCollector(carriers.router.Carriers))
	carriers.start()
	// This node's lease is renewed first, so that no other node claims its
	// calls; then the calls it left open (a crash, a kill) are settled
	// before new ones start, charged up to its last heartbeat.
	leases, err := billing.NewLeases(cfg.Billing.Lease(), st, ctl, log)
	if err != nil {
		closeAll()
		return nil, err
	}
	lease, err := leases.Start(ctx)
	if err != nil {
		closeAll()
		return nil, err
	}
	if n, err := ctl.Recover(ctx, lease.Previous); err != nil {
		log.Error("open calls not all settled; retried at the next start", "settled", n, "error", err)
	} else if n > 0 {
		log.Info("settled calls left open by the last run", "calls", n)
	}
	// Accounts' calls and carriers' channels are counted in the store when
	// the nodes share it (limits.counters), else in this process.
	var counters limits.Counters = limits.NewMemory(clock.Now)
	var shared *limits.Shared
	if engine, _, _ := cfg.Store.Parse(); cfg.Limits.Shared(engine) {
		if shared, err = limits.NewShared(ctx, st, cfg.Billing.Node, clock.Now, log); err != nil {
			closeAll()
			return nil, err
		}
		counters, carriers.channels = shared, shared
		closeMedia := closeAll
		closeAll = func() { closeMedia(); shared.Close() }
	}
	limiter, err := limits.New(cfg.Limits.Defaults(), st, rater{ctl}, counters, clock.Now, limits.NewMetrics(refused), log)
	if err != nil {
		closeAll()
		return nil, err
	}
	calls := b2bua.New(b2bua.Config{
		Host:        cfg.SIP.Advertise,
		Ports:       ports,
		UserAgent:   cfg.SIP.UserAgent,
		RingTimeout: cfg.SIP.RingTimeout,
		CreditLead:  cfg.Billing.CreditLead,
		Clock:       clock,
		Limits:      admitter{limiter},
	}, client, carriers, media, st, credit{ctl}, b2bua.NewMetrics(reg), log)
	registrar := edge.NewRegistrar()
	registrar.Share(st, cfg.Billing.Node, time.Now, log) // what `dialtone registrations` and the other nodes read
	g, err := guard.New(cfg.Guard, st, guard.NewMetrics(reg), log, nil)
	if err != nil {
		registrar.Close()
		calls.Close()
		_ = leases.Close(ctx, true)
		closeAll()
		return nil, err
	}
	// The front proxies' sockets carry every client behind them: the
	// guard's socket-level limits must not throttle or ban them, and the
	// edge takes the limits per real client instead (edge/source.go).
	fronts, err := edge.ParseTrustedProxies(cfg.SIP.TrustedProxies) // checked by Validate
	if err != nil {
		g.Close()
		calls.Close()
		closeAll()
		return nil, fmt.Errorf("sip.trusted_proxies: %w", err)
	}
	g.SetAllow(append(trunkAllow(cfg), fronts...))
	e := edge.New(edge.Config{Realm: cfg.SIP.Realm, UserAgent: cfg.SIP.UserAgent, MaxExpires: cfg.SIP.MaxExpires, WSAuthAlgorithms: cfg.SIP.WSAuthAlgs,
		HandshakeTimeout: cfg.SIP.HandshakeTimeout, IdleTimeout: cfg.SIP.TCPIdleTimeout, CallHold: cfg.SIP.RingTimeout + cfg.Billing.MaxCallDuration,
		TrustedProxies: fronts},
		srv, auth, edge.NewCredentials(edge.NewAccountCache(st, cfg.SIP.AccountCacheTTL), st, cfg.SIP.Realm, appKey, cfg.SIP.AppCredentialTTL), calls, registrar, g, log)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dialtone_registrations", Help: "Accounts with at least one live registration.",
	}, func() float64 { return float64(registrar.Count()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dialtone_sip_connections", Help: "TCP, TLS and WebSocket connections open on the SIP listeners.",
	}, func() float64 { return float64(e.Connections()) }))
	return &theSwitch{ua: ua, edge: e, calls: calls, leases: leases, listeners: listeners, carriers: carriers, media: media, guard: g, fronts: fronts, shared: shared, registrar: registrar, load: load, log: log}, nil
}

// trunkAllow is what guard.allow_trunks adds to the allow-list: the IP
// addresses written in the trunks' address and addresses (host names and
// SRV domains are not resolved for it).
func trunkAllow(cfg *Config) []netip.Prefix {
	if !cfg.Guard.AllowTrunks {
		return nil
	}
	var out []netip.Prefix
	for _, t := range cfg.Trunks {
		for _, ep := range t.AddressList() {
			host, _, err := net.SplitHostPort(ep)
			if err != nil {
				continue
			}
			if a, err := netip.ParseAddr(host); err == nil {
				a = a.Unmap()
				out = append(out, netip.PrefixFrom(a, a.BitLen()))
			}
		}
	}
	return out
}

// bindSIP opens the SIP sockets before anything is served, so that the
// ports are known (port 0 picks a free one) and errors come early.
func bindSIP(ls []edge.ListenSettings, serverTLS *tls.Config) ([]edge.Listener, map[string]int, error) {
	var out []edge.Listener
	ports := map[string]int{}
	fail := func(err error) ([]edge.Listener, map[string]int, error) {
		for _, l := range out {
			if l.Packet != nil {
				l.Packet.Close()
			}
			if l.Stream != nil {
				l.Stream.Close()
			}
		}
		return nil, nil, err
	}
	for i, l := range ls {
		switch l.Transport {
		case "udp":
			pc, err := net.ListenPacket("udp", l.Addr)
			if err != nil {
				return fail(fmt.Errorf("sip.listen[%d]: %w", i, err))
			}
			out = append(out, edge.Listener{Transport: "udp", Packet: pc})
			if _, ok := ports["udp"]; !ok {
				ports["udp"] = pc.LocalAddr().(*net.UDPAddr).Port
			}
		case "tls", "ws", "wss":
			ln, err := net.Listen("tcp", l.Addr)
			if err != nil {
				return fail(fmt.Errorf("sip.listen[%d]: %w", i, err))
			}
			var stream net.Listener = ln
			if l.Transport != "ws" {
				stream = tls.NewListener(ln, serverTLS)
			}
			out = append(out, edge.Listener{Transport: l.Transport, Stream: stream})
			if _, ok := ports[l.Transport]; !ok {
				ports[l.Transport] = ln.Addr().(*net.TCPAddr).Port
			}
		case "tcp":
			ln, err := net.Listen("tcp", l.Addr)
			if err != nil {
				return fail(fmt.Errorf("sip.listen[%d]: %w", i, err))
			}
			out = append(out, edge.Listener{Transport: "tcp", Stream: ln})
			if _, ok := ports["tcp"]; !ok {
				ports["tcp"] = ln.Addr().(*net.TCPAddr).Port
			}
		}
	}
	return out, ports, nil
}

func listenerAddr(l edge.Listener) string {
	if l.Packet != nil {
		return l.Packet.LocalAddr().String()
	}
	return l.Stream.Addr().String()
}

// startHTTP serves h on addr (named key in errors) until Shutdown.
func startHTTP(key, addr string, h http.Handler, log *slog.Logger) (*http.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", key, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http stopped", "listener", key, "error", err)
		}
	}()
	return srv, ln, nil
}

func adminMux(cfg *Config, st dialtone.Store, reg *prometheus.Registry, sw *theSwitch) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if sw.calls.Draining() {
			http.Error(w, "draining: not taking new calls", http.StatusServiceUnavailable)
			return
		}
		if err := st.Ping(ctx); err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready; active calls "+strconv.Itoa(sw.calls.ActiveCalls()))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Profiles for operators; the admin listener is loopback by default.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	// Operators: carriers' state, and a reload of trunks and routes.
	mux.HandleFunc("GET /admin/trunks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(sw.carriers.status())
	})
	mux.HandleFunc("GET /admin/guard/bans", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(sw.guard.Bans())
	})
	mux.HandleFunc("DELETE /admin/guard/bans/{addr}", func(w http.ResponseWriter, r *http.Request) {
		a, err := netip.ParseAddr(r.PathValue("addr"))
		if err != nil {
			companion.WriteError(w, http.StatusBadRequest, "invalid_address", err.Error())
			return
		}
		if !sw.guard.Unban(a) {
			companion.WriteError(w, http.StatusNotFound, "not_banned", a.String()+" is not banned")
			return
		}
		fmt.Fprintln(w, "unbanned", a)
	})
	mux.HandleFunc("POST /admin/reload", func(w http.ResponseWriter, _ *http.Request) {
		if err := sw.reload(); err != nil {
			companion.WriteError(w, http.StatusBadRequest, "invalid_config", err.Error())
			return
		}
		fmt.Fprintln(w, "reloaded")
	})
	if cfg.Web.Enabled { // every path not routed above; it answers 405 to other methods
		mux.Handle("/", dialerPage(cfg, sw.listeners))
	}
	return mux
}

// dialerPage is the browser dialer (package web): its SIP domain is the
// realm, and it signs in over web.sip_url, else over the first ws or wss
// listener at the page's own host name.
func dialerPage(cfg *Config, ls []edge.Listener) http.Handler {
	pc := web.Config{SIPURL: cfg.Web.SIPURL, Domain: cfg.SIP.Realm}
	for _, l := range ls {
		if l.Transport == "ws" || l.Transport == "wss" {
			pc.WSPort = l.Stream.Addr().(*net.TCPAddr).Port
			pc.Secure = l.Transport == "wss"
			break
		}
	}
	return web.Handler(pc)
}

// carrierTLS is the client side of TLS to carriers: their certificates are
// verified against the system's CAs and those each trunk's tls_ca adds.
// A change of tls_ca takes a restart.
func carrierTLS(ts []trunks.TrunkConfig) (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for i, t := range ts {
		if t.TLSCA == "" {
			continue
		}
		pem, err := os.ReadFile(t.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("trunks[%d].tls_ca: %w", i, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("trunks[%d].tls_ca: %s holds no PEM certificate", i, t.TLSCA)
		}
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// newCompanion builds the companion API on the store; its sign-in counts
// failures in the guard the SIP listeners share, it issues app credentials
// with appKey, it prices numbers with q, and its live events go through bus.
func newCompanion(cfg *Config, st dialtone.Store, bus companion.Bus, g companion.Guard, appKey []byte, q companion.Quoter, log *slog.Logger) *companion.Server {
	bundles, _ := cfg.BundleCatalog() // checked at start
	c := cfg.API.Config(bundles, cfg.Limits.Defaults())
	c.SIP = companion.SIP{Key: appKey, TTL: cfg.SIP.AppCredentialTTL, Realm: cfg.SIP.Realm, Devices: devices{st: st, realm: cfg.SIP.Realm}}
	c.Bus = bus
	c.Quoter = q
	return companion.New(c, st, apiAccounts{st: st, realm: cfg.SIP.Realm}, g, func() time.Time { return time.Now().UTC() }, log)
}

// liveBus is the bus of the companion's live events for the store: over
// LISTEN/NOTIFY on PostgreSQL, which several nodes share; in process on
// SQLite, which one node owns.
func liveBus(ctx context.Context, st dialtone.Store, log *slog.Logger) (companion.Bus, func(), error) {
	if db, ok := st.(*postgres.DB); ok {
		bus, err := postgres.NewBus(ctx, db.Pool(), log)
		if err != nil {
			return nil, nil, err
		}
		return bus, bus.Close, nil
	}
	return companion.NewLocalBus(), func() {}, nil
}

// everyMinute runs f once a minute until the returned stop is called; stop
// waits for a run in progress.
func everyMinute(f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
