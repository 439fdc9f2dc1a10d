package guard

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// clock is a fake clock the tests move.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newGuard(tb testing.TB, cfg Config, st Store) (*Guard, *clock) {
	tb.Helper()
	c := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	if st == nil {
		st = NewMemoryStore()
	}
	g, err := New(cfg, st, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), c.now)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { g.Close() })
	return g, c
}

var (
	attacker = netip.MustParseAddr("203.0.113.7")
	other    = netip.MustParseAddr("198.51.100.9")
)

func TestAuthFailuresBan(t *testing.T) {
	tests := []struct {
		name     string
		failures int
		gap      time.Duration // between failures
		banned   bool
	}{
		{"below the limit", 9, time.Second, false},
		{"at the limit", 10, time.Second, true},
		{"spread over more than a window", 10, 40 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, c := newGuard(t, Defaults(), nil)
			for range tt.failures {
				g.AuthFailed(attacker, "alice", "udp")
				c.add(tt.gap)
			}
			if got := g.Banned(attacker); got != tt.banned {
				t.Errorf("Banned(%v) = %v, want %v", attacker, got, tt.banned)
			}
			if g.Banned(other) {
				t.Errorf("Banned(%v) = true for a source that never failed, want false", other)
			}
			if got := g.Admit(attacker, "udp"); got == tt.banned {
				t.Errorf("Admit(%v) = %v, want %v", attacker, got, !tt.banned)
			}
		})
	}
}

func TestBanEscalatesAndEnds(t *testing.T) {
	cfg := Defaults()
	g, c := newGuard(t, cfg, nil)
	want := []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 16 * time.Hour, 24 * time.Hour, 24 * time.Hour}
	for i, w := range want {
		for range cfg.Failures {
			g.AuthFailed(attacker, "", "tcp")
		}
		bans := g.Bans()
		if len(bans) != 1 {
			t.Fatalf("ban %d: Bans() = %v, want one", i+1, bans)
		}
		if got := bans[0].Until.Sub(bans[0].Since); got != w || bans[0].Count != i+1 || bans[0].Reason != ReasonAuth {
			t.Errorf("ban %d lasts %v (count %d, reason %s), want %v (count %d, auth)", i+1, got, bans[0].Count, bans[0].Reason, w, i+1)
		}
		c.add(w - time.Second)
		if !g.Banned(attacker) {
			t.Fatalf("ban %d: Banned a second before its end = false, want true", i+1)
		}
		c.add(time.Second)
		if g.Banned(attacker) || len(g.Bans()) != 0 {
			t.Fatalf("ban %d: Banned at its end = true, want false", i+1)
		}
	}
	// Remembered until the longest ban has passed since the last one ended.
	c.add(cfg.MaxBanTime)
	g.Sweep()
	for range cfg.Failures {
		g.AuthFailed(attacker, "", "tcp")
	}
	if b := g.Bans(); len(b) != 1 || b[0].Count != 1 || b[0].Until.Sub(b[0].Since) != cfg.BanTime {
		t.Errorf("Bans() after the history was forgotten = %v, want a first ban of %v", b, cfg.BanTime)
	}
}

func TestAllowList(t *testing.T) {
	cfg := Defaults()
	cfg.Allow = []string{"203.0.113.0/24"}
	g, _ := newGuard(t, cfg, nil)
	for range 1000 {
		if !g.Admit(attacker, "udp") {
			t.Fatalf("Admit(%v) = false for an allow-listed source, want true", attacker)
		}
		g.AuthFailed(attacker, "", "udp")
	}
	if g.Banned(attacker) {
		t.Errorf("Banned(%v) = true for an allow-listed source, want false", attacker)
	}
	// Trunks' addresses join the configured ones.
	g.SetAllow([]netip.Prefix{netip.PrefixFrom(other, 32)})
	for range 200 {
		if !g.Admit(other, "udp") || !g.Admit(attacker, "udp") {
			t.Fatalf("Admit after SetAllow = false, want true for both the trunk and the configured CIDR")
		}
	}
}

func TestAdmitRate(t *testing.T) {
	cfg := Defaults()
	g, c := newGuard(t, cfg, nil)
	for i := range cfg.Burst {
		if !g.Admit(attacker, "udp") {
			t.Fatalf("Admit #%d = false within the burst of %d, want true", i+1, cfg.Burst)
		}
	}
	if g.Admit(attacker, "udp") {
		t.Errorf("Admit past the burst = true, want false")
	}
	if !g.Admit(other, "udp") {
		t.Errorf("Admit(%v) = false: one source's flood throttled another, want true", other)
	}
	c.add(time.Second / time.Duration(cfg.Rate))
	if !g.Admit(attacker, "udp") {
		t.Errorf("Admit a token's time later = false, want true")
	}
	// Going on over the rate bans the source for flooding.
	for range cfg.FloodBan {
		g.Admit(attacker, "udp")
	}
	if b := g.Bans(); len(b) != 1 || b[0].Reason != ReasonFlood || b[0].Addr != attacker {
		t.Errorf("Bans() after %d requests over the rate = %v, want a flood ban of %v", cfg.FloodBan, b, attacker)
	}
}

func TestUserUnderAttack(t *testing.T) {
	cfg := Defaults()
	g, c := newGuard(t, cfg, nil)
	// Many sources, each below its own limit, all on alice.
	for i := range cfg.UserFailures {
		g.AuthFailed(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), "alice", "udp")
	}
	if !g.UserAllowed("bob") {
		t.Errorf("UserAllowed(%q) = false, want true", "bob")
	}
	if !g.UserAllowed("alice") {
		t.Errorf("UserAllowed(%q) = false for the first attempt under attack, want true", "alice")
	}
	if g.UserAllowed("alice") {
		t.Errorf("UserAllowed(%q) = true twice in the same instant, want false", "alice")
	}
	c.add(time.Duration(float64(time.Second) / cfg.UserRate))
	if !g.UserAllowed("alice") {
		t.Errorf("UserAllowed(%q) = false a token's time later, want true", "alice")
	}
	c.add(cfg.UserSlow)
	for range 5 {
		if !g.UserAllowed("alice") {
			t.Fatalf("UserAllowed(%q) = false after the attack ended, want true", "alice")
		}
	}
}

func TestStaleNonce(t *testing.T) {
	cfg := Defaults()
	g, _ := newGuard(t, cfg, nil)
	for range cfg.StaleNonces + cfg.Failures - 1 {
		g.StaleNonce(attacker, "udp")
	}
	if g.Banned(attacker) {
		t.Fatalf("Banned after %d stale nonces = true, want false", cfg.StaleNonces+cfg.Failures-1)
	}
	g.StaleNonce(attacker, "udp")
	if !g.Banned(attacker) {
		t.Errorf("Banned after %d stale nonces = false, want true", cfg.StaleNonces+cfg.Failures)
	}
}

func TestSweepBound(t *testing.T) {
	cfg := Defaults()
	cfg.MaxSources = 100
	g, c := newGuard(t, cfg, nil)
	for i := range 1000 { // a spoofed flood: every datagram from a new address
		g.Admit(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), "udp")
		g.AuthFailed(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), fmt.Sprint("user", i), "udp")
	}
	g.mu.Lock()
	sources, users := len(g.sources), len(g.users)
	g.mu.Unlock()
	if sources > cfg.MaxSources || users > cfg.MaxSources {
		t.Errorf("after 1000 sources, %d sources and %d users kept, want at most %d", sources, users, cfg.MaxSources)
	}
	c.add(cfg.Window)
	g.Sweep()
	g.mu.Lock()
	sources, users = len(g.sources), len(g.users)
	g.mu.Unlock()
	if sources != 0 || users != 0 {
		t.Errorf("after an idle window, %d sources and %d users kept, want 0", sources, users)
	}
}

func TestBansPersist(t *testing.T) {
	cfg := Defaults()
	st := NewMemoryStore()
	g, c := newGuard(t, cfg, st)
	for range cfg.Failures {
		g.AuthFailed(attacker, "", "udp")
		g.AuthFailed(other, "", "udp")
	}
	g.Unban(other)
	g.Close() // writes what is queued
	saved, err := st.Bans(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(saved) != 1 || saved[0].Addr != attacker {
		t.Fatalf("store Bans() = %v, want %v's ban alone", saved, attacker)
	}
	// A restart starts with the saved bans.
	g2, err := New(cfg, st, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), c.now)
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Close()
	if !g2.Banned(attacker) || g2.Banned(other) {
		t.Errorf("after a restart Banned(%v), Banned(%v) = %v, %v, want true, false", attacker, other, g2.Banned(attacker), g2.Banned(other))
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"defaults", func(*Config) {}, true},
		{"allow address and CIDR", func(c *Config) { c.Allow = []string{"192.0.2.1", "2001:db8::/32"} }, true},
		{"allow garbage", func(c *Config) { c.Allow = []string{"carrier.example"} }, false},
		{"no failures", func(c *Config) { c.Failures = 0 }, false},
		{"max ban below ban", func(c *Config) { c.MaxBanTime = time.Minute }, false},
		{"zero rate", func(c *Config) { c.Rate = 0 }, false},
		{"no connections", func(c *Config) { c.MaxConnections = 0 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.edit(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
