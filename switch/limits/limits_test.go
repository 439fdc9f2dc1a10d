package limits_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/storetest"
	"github.com/dialtone/dialtone/switch/limits"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// atMost admits while fewer than n calls are in progress.
func atMost(n int) func(calls, recent int) error {
	return func(calls, _ int) error {
		if calls >= n {
			return &dialtone.LimitError{Limit: dialtone.LimitConcurrent}
		}
		return nil
	}
}

// TestMemoryExact: 50 takes at once against a bound of 5 admit exactly 5;
// a release gives a place back once, however often it is called.
func TestMemoryExact(t *testing.T) {
	m := limits.NewMemory(func() time.Time { return t0 })
	var wg sync.WaitGroup
	var mu sync.Mutex
	var releases []func()
	for range 50 {
		wg.Go(func() {
			if r, err := m.Take(context.Background(), 1, t0, atMost(5)); err == nil {
				mu.Lock()
				releases = append(releases, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(releases) != 5 {
		t.Fatalf("%d of 50 takes admitted, want 5", len(releases))
	}
	if _, err := m.Take(context.Background(), 2, t0, atMost(5)); err != nil {
		t.Errorf("another account's take = %v, want admitted", err)
	}
	releases[0]()
	releases[0]() // a second release gives nothing back
	if _, err := m.Take(context.Background(), 1, t0, atMost(5)); err != nil {
		t.Fatalf("take after a release = %v, want admitted", err)
	}
	if _, err := m.Take(context.Background(), 1, t0, atMost(5)); err == nil {
		t.Fatal("a take past the bound after one release was admitted")
	}
}

// TestMemoryWindow: admitted starts count for 60 seconds, refused ones never.
func TestMemoryWindow(t *testing.T) {
	m := limits.NewMemory(func() time.Time { return t0 })
	var seen []int
	three := func(calls, recent int) error {
		seen = append(seen, recent)
		if recent >= 3 {
			return &dialtone.LimitError{Limit: dialtone.LimitPerMinute}
		}
		return nil
	}
	for i, at := range []time.Duration{0, 10 * time.Second, 20 * time.Second} {
		r, err := m.Take(context.Background(), 1, t0.Add(at), three)
		if err != nil {
			t.Fatalf("take %d = %v", i, err)
		}
		r() // ended at once: only the starts count
	}
	if _, err := m.Take(context.Background(), 1, t0.Add(59*time.Second), three); err == nil {
		t.Error("a fourth start within the minute was admitted")
	}
	if _, err := m.Take(context.Background(), 1, t0.Add(60*time.Second), three); err != nil {
		t.Errorf("a start 60 s after the first = %v, want admitted", err)
	}
	if want := []int{0, 1, 2, 3, 2}; len(seen) != len(want) || seen[3] != 3 || seen[4] != 2 {
		t.Errorf("recent starts seen %v, want %v", seen, want)
	}
}

type rates map[string]string // e164 -> per minute

func (r rates) SellRate(_ context.Context, _ *dialtone.Account, e164, _ string) (decimal.Decimal, bool, error) {
	v, ok := r[e164]
	if !ok {
		return decimal.Zero, false, nil
	}
	return decimal.RequireFromString(v), true, nil
}

// TestAdmit: the limiter reads the account's own limits and its spending
// from the store, checks the destination, then counts the call; each
// refusal is counted by limit; a store that fails refuses with
// ErrUnavailable.
func TestAdmit(t *testing.T) {
	for name, open := range storetest.Stores() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			alice := storetest.NewAccount("alice")
			if err := st.CreateAccount(ctx, alice); err != nil {
				t.Fatal(err)
			}
			now := t0
			refused := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "refused"}, []string{"reason"})
			m := limits.NewMetrics(refused)
			l, err := limits.New(dialtone.DefaultLimits(), st, rates{"+12025550100": "0.02", "+442079460018": "1.50"},
				limits.NewMemory(func() time.Time { return now }), func() time.Time { return now }, m, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			us := limits.Call{E164: "+12025550100", Country: "US", NumberType: "fixed"}
			admit := func(c limits.Call, want dialtone.Limit) func() {
				t.Helper()
				release, err := l.Admit(ctx, alice, c)
				var le *dialtone.LimitError
				switch {
				case want == "" && err != nil:
					t.Fatalf("Admit(%+v) = %v, want admitted", c, err)
				case want != "" && (!errors.As(err, &le) || le.Limit != want):
					t.Fatalf("Admit(%+v) = %v, want refused by %s", c, err, want)
				}
				return release
			}
			// The defaults: 2 at once.
			r1, r2 := admit(us, ""), admit(us, "")
			admit(us, dialtone.LimitConcurrent)
			r1()
			r2()
			admit(limits.Call{E164: "+442079460018", Country: "GB", NumberType: "fixed"}, dialtone.LimitMaxRate)
			admit(limits.Call{E164: "+19002345678", Country: "US", NumberType: "premium"}, dialtone.LimitNumberType)

			// The account's own limits, read from the store at each call.
			own := dialtone.Limits{Concurrent: dialtone.Unlimited, SpendHour: decimal.RequireFromString("0.10"), Countries: []string{"GB"}}
			if err := st.SetAccountLimits(ctx, alice.ID, own); err != nil {
				t.Fatal(err)
			}
			admit(us, dialtone.LimitCountry)
			gbMobile := limits.Call{E164: "+447400123456", Country: "GB", NumberType: "mobile"}
			admit(gbMobile, "")() // unrated: the rate is not known, so not checked
			// Spending in the last hour, from the store.
			cdr := storetest.NewCDR(t, st, "alice", "spent-1", now.Add(-10*time.Minute))
			cdr.Price = decimal.RequireFromString("0.10")
			if err := st.InsertCDR(ctx, cdr); err != nil {
				t.Fatal(err)
			}
			admit(gbMobile, dialtone.LimitSpendHour)
			now = now.Add(51 * time.Minute) // the call ended over an hour ago
			admit(gbMobile, "")()
			// The default 10 starts a minute: one just now, the earlier ones are 51 minutes old.
			for range 9 {
				admit(gbMobile, "")()
			}
			admit(gbMobile, dialtone.LimitPerMinute)

			for lim, want := range map[dialtone.Limit]float64{dialtone.LimitConcurrent: 1, dialtone.LimitMaxRate: 1, dialtone.LimitNumberType: 1,
				dialtone.LimitCountry: 1, dialtone.LimitSpendHour: 1, dialtone.LimitPerMinute: 1, dialtone.LimitSpendDay: 0} {
				if got := value(t, m.Refused(lim)); got != want {
					t.Errorf("refusals by %s = %v, want %v", lim, got, want)
				}
			}

			st.Close()
			if _, err := l.Admit(ctx, alice, gbMobile); !errors.Is(err, dialtone.ErrUnavailable) {
				t.Errorf("Admit on a closed store = %v, want %v", err, dialtone.ErrUnavailable)
			}
		})
	}
}

func TestNewRefusesIncompleteDefaults(t *testing.T) {
	_, err := limits.New(dialtone.Limits{Concurrent: 2}, nil, nil, limits.NewMemory(time.Now), time.Now, limits.NewMetrics(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "refused"}, []string{"reason"})), slog.New(slog.DiscardHandler))
	if !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("New(incomplete defaults) = %v, want %v", err, dialtone.ErrInvalid)
	}
}

func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
