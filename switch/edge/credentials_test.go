package edge

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/switch/guard"
)

var testAppKey = dialtone.AppCredentialKey([]byte("test secret"))

// memDevices is a device table in memory.
type memDevices struct {
	mu     sync.Mutex
	byName map[string]*dialtone.Device
	seen   []netip.Addr
	fail   error // when set, every lookup fails with it (a store down)
}

func newMemDevices(ds ...*dialtone.Device) *memDevices {
	m := &memDevices{byName: map[string]*dialtone.Device{}}
	for _, d := range ds {
		m.byName[d.Username] = d
	}
	return m
}

func (m *memDevices) DeviceByUsername(_ context.Context, name string) (*dialtone.Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	d, ok := m.byName[name]
	if !ok {
		return nil, dialtone.ErrNotFound
	}
	c := *d
	return &c, nil
}

func (m *memDevices) DeviceSeen(_ context.Context, _ int64, addr netip.Addr, _ time.Time) error {
	m.mu.Lock()
	m.seen = append(m.seen, addr)
	m.mu.Unlock()
	return nil
}

func (m *memDevices) revoke(name string) {
	m.mu.Lock()
	m.byName[name].RevokedAt = time.Now()
	m.mu.Unlock()
}

func (m *memDevices) seenCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

func TestAppCredentials(t *testing.T) {
	p := startEdge(t, newTestGuard(t, guard.Defaults()))
	now := time.Now()
	valid := dialtone.IssueAppCredential(testAppKey, "alice", now.Add(30*time.Minute))
	expired := dialtone.IssueAppCredential(testAppKey, "alice", now.Add(-time.Second))
	tooLong := dialtone.IssueAppCredential(testAppKey, "alice", now.Add(3*time.Hour))
	otherKey := dialtone.IssueAppCredential(dialtone.AppCredentialKey([]byte("another node's secret")), "alice", now.Add(30*time.Minute))
	unknown := dialtone.IssueAppCredential(testAppKey, "mallory", now.Add(30*time.Minute))
	for _, tt := range []struct {
		name, user, password string
		code                 int
		reason               string
	}{
		{"valid", valid.Username, valid.Password, 200, "OK"},
		{"wrong password", valid.Username, "guess", 403, "Forbidden"},
		{"the account's device password", valid.Username, "secret", 403, "Forbidden"},
		{"expired", expired.Username, expired.Password, 403, "Forbidden: credentials expired"},
		{"expired, wrong password", expired.Username, "guess", 403, "Forbidden"},
		{"expires too far ahead", tooLong.Username, tooLong.Password, 403, "Forbidden"},
		{"another key", otherKey.Username, otherKey.Password, 403, "Forbidden"},
		{"unknown account", unknown.Username, unknown.Password, 403, "Forbidden"},
		{"not canonical", "0" + valid.Username, valid.Password, 403, "Forbidden"},
	} {
		res := p.register(tt.user, tt.password, p.nonce(tt.user), 5*time.Second)
		if res == nil || res.StatusCode != tt.code || res.Reason != tt.reason {
			t.Errorf("%s: REGISTER = %v, want %d %s", tt.name, res, tt.code, tt.reason)
		}
	}
	if n := p.devices.seenCount(); n != 0 {
		t.Errorf("app credentials recorded %d device sign-ins, want none", n)
	}
}

func TestRevokedDeviceRefusedAtOnce(t *testing.T) {
	p := startEdge(t, newTestGuard(t, guard.Defaults()))
	for range 3 {
		if res := p.register("alice", "secret", p.nonce("alice"), 5*time.Second); res == nil || res.StatusCode != 200 {
			t.Fatalf("REGISTER with the device = %v, want 200", res)
		}
	}
	// Three sign-ins from one address within a minute: written once.
	if n := p.devices.seenCount(); n != 1 {
		t.Errorf("3 sign-ins recorded %d times, want once", n)
	}
	p.devices.revoke("alice")
	if res := p.register("alice", "secret", p.nonce("alice"), 5*time.Second); res == nil || res.StatusCode != 403 {
		t.Errorf("REGISTER with a revoked device = %v, want 403", res)
	}
}

func TestSeenThrottle(t *testing.T) {
	devs := newMemDevices()
	c := NewCredentials(nil, devs, "dialtone", nil, time.Hour)
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	l := &Login{Device: &dialtone.Device{ID: 7}}
	ctx := context.Background()
	for _, step := range []struct {
		after time.Duration
		from  netip.Addr
		want  int
	}{
		{0, a, 1}, {10 * time.Second, a, 1}, {10 * time.Second, b, 2}, {59 * time.Second, b, 2}, {time.Second, b, 3},
	} {
		now = now.Add(step.after)
		_ = c.Seen(ctx, l, step.from)
		if n := devs.seenCount(); n != step.want {
			t.Errorf("after +%v from %s: %d writes, want %d", step.after, step.from, n, step.want)
		}
	}
	if err := c.Seen(ctx, &Login{}, a); err != nil || devs.seenCount() != 3 {
		t.Errorf("Seen(app credential) = %v with %d writes, want nothing written", err, devs.seenCount())
	}
}
