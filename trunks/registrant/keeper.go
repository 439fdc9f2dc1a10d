package registrant

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/emiago/sipgo"

	"github.com/dialtone/dialtone/trunks"
)

// Config sets up a Keeper.
type Config struct {
	Client *sipgo.Client
	// Endpoints gives a carrier's addresses (trunks.Router.Endpoints); the
	// first is registered at. Its error (a DNS failure) is the attempt's.
	Endpoints   func(ctx context.Context, c *trunks.Carrier) ([]trunks.Endpoint, error)
	ContactHost string // our advertised host, in Contact
	ContactPort int    // our UDP port, in Contact
	Log         *slog.Logger
	Now         func() time.Time                     // default time.Now
	After       func(time.Duration) <-chan time.Time // the wait before a refresh or retry; default time.After
}

// Keeper keeps one binding per carrier with register.enabled.
type Keeper struct {
	cfg   Config
	loops trunks.Loops

	mu    sync.Mutex
	state map[string]string // trunk -> "registered until ...", "not registered: ..." or "unregistered"
}

// NewKeeper makes a Keeper; Restart starts it.
func NewKeeper(cfg Config) *Keeper {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Keeper{cfg: cfg, state: map[string]string{}}
}

// Restart withdraws the previous carriers' registrations and starts cs's.
func (k *Keeper) Restart(cs *trunks.Carriers) {
	k.loops.Restart(cs, func(c *trunks.Carrier) bool { return c.Config.Register.Enabled }, k.keep)
}

// Stop withdraws every registration and waits for that.
func (k *Keeper) Stop() { k.loops.Stop() }

// State is what a registering carrier's last attempt gave, for status.
func (k *Keeper) State(trunk string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.state[trunk]
}

func (k *Keeper) set(trunk, s string) {
	k.mu.Lock()
	k.state[trunk] = s
	k.mu.Unlock()
}

// keep registers c, refreshes before the granted expiry lapses, retries
// after register.retry on a failure, and withdraws when ctx ends.
func (k *Keeper) keep(ctx context.Context, c *trunks.Carrier) {
	tc := c.Config
	user := tc.Username
	if user == "" {
		user = tc.Name
	}
	b := NewBinding(k.cfg.Client, BindingConfig{Domain: tc.SRV, User: user, Username: tc.Username, Password: tc.Password,
		Transport: tc.Transport, ContactHost: k.cfg.ContactHost, ContactPort: k.cfg.ContactPort})
	var at *trunks.Endpoint // where the binding is registered
	for {
		wait := tc.Register.Retry.D()
		granted, ep, err := k.register(ctx, b, c)
		switch {
		case err != nil && ctx.Err() != nil:
		case err != nil:
			k.set(tc.Name, "not registered: "+err.Error())
			k.cfg.Log.Warn("carrier registration failed", "trunk", tc.Name, "error", err, "retry_in", wait)
		default:
			at = &ep
			k.set(tc.Name, "registered until "+k.cfg.Now().Add(granted).UTC().Format(time.RFC3339))
			k.cfg.Log.Info("registered with carrier", "trunk", tc.Name, "expires", granted)
			wait = max(granted*4/5, time.Second) // refresh before it lapses
		}
		select {
		case <-ctx.Done():
		case <-k.cfg.After(wait):
			continue
		}
		break
	}
	if at == nil {
		return
	}
	// Withdraw, best effort, in a context of its own: ctx is done.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if _, err := b.Register(wctx, *at, 0); err == nil {
		k.set(tc.Name, "unregistered")
	}
}

func (k *Keeper) register(ctx context.Context, b *Binding, c *trunks.Carrier) (time.Duration, trunks.Endpoint, error) {
	eps, err := k.cfg.Endpoints(ctx, c)
	if err != nil {
		return 0, trunks.Endpoint{}, err
	}
	if len(eps) == 0 {
		return 0, trunks.Endpoint{}, trunks.ErrDNS
	}
	granted, err := b.Register(ctx, eps[0], c.Config.Register.Expires.D())
	return granted, eps[0], err
}
