// Package limits enforces each account's limits at call setup: the calls
// it has in progress and starts per minute, the money it spends per hour
// and per day, the highest rate per minute, and the countries and number
// types it may reach. The rule itself (dialtone.Limits, its defaults and
// its checks) lives in the root package; this package gathers what the
// account has used, asks the rule, counts the calls it admits until they
// end, and counts its refusals by limit.
//
// The account's own limits and its spending come from the store, so they
// hold across restarts and nodes. The calls in progress and the recent
// call starts are kept by Counters: Memory keeps them in this process,
// exactly (50 calls at once against a limit of N admit N); an
// implementation over a shared store can replace it for several nodes.
//
// Concurrency: a Limiter is safe for concurrent use. Memory takes its lock
// for the count and the check only, never across I/O.
package limits

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// Store is what the limiter reads: the account's own limits and what it spent.
type Store interface {
	AccountLimits(ctx context.Context, accountID int64) (dialtone.Limits, error)
	CallSpend(ctx context.Context, accountID int64, since time.Time) (decimal.Decimal, error)
}

// Rater gives the sell rate per minute a call would be priced at; ok is
// false when the call would not be billed or its plan has no rate for it
// (billing then refuses it on its own).
type Rater interface {
	SellRate(ctx context.Context, acct *dialtone.Account, e164, numberType string) (perMinute decimal.Decimal, ok bool, err error)
}

// Counters keep, per account, the calls in progress and the starts of the
// calls admitted within the last minute.
type Counters interface {
	// Take calls admit with the account's calls in progress and its call
	// starts within the minute before now; when admit returns nil, the
	// call is counted as in progress until release and as started at
	// now. Take and the count it gives admit are atomic: concurrent takes
	// of one account see each other. release may be called more than once.
	Take(ctx context.Context, accountID int64, now time.Time, admit func(calls, recent int) error) (release func(), err error)
}

// Call is what the limiter is told of a routed call.
type Call struct {
	E164       string
	Country    string
	NumberType string
}

// Limiter admits or refuses calls by their account's limits.
type Limiter struct {
	defaults dialtone.Limits
	store    Store
	rater    Rater // nil: the rate is not checked
	counters Counters
	now      func() time.Time
	metrics  *Metrics
	log      *slog.Logger
}

// New returns a limiter with defaults (complete, see dialtone.Limits.Validate).
func New(defaults dialtone.Limits, store Store, rater Rater, counters Counters, now func() time.Time, m *Metrics, log *slog.Logger) (*Limiter, error) {
	if err := defaults.Validate(true); err != nil {
		return nil, fmt.Errorf("limits: defaults: %w", err)
	}
	return &Limiter{defaults: defaults, store: store, rater: rater, counters: counters, now: now, metrics: m, log: log}, nil
}

// Defaults are the limits of an account that set none.
func (l *Limiter) Defaults() dialtone.Limits { return l.defaults }

// Effective returns the limits that apply to an account: its own over the defaults.
func (l *Limiter) Effective(ctx context.Context, accountID int64) (dialtone.Limits, error) {
	own, err := l.store.AccountLimits(ctx, accountID)
	if err != nil {
		return dialtone.Limits{}, err
	}
	return own.Over(l.defaults), nil
}

// Admit checks call against acct's limits and, when it is allowed, counts
// it as in progress until release is called (when the call ends, however
// it ends). A refusal is a *dialtone.LimitError (an ErrForbidden); a
// failure to read the store is an ErrUnavailable: a call is never let
// through unchecked.
func (l *Limiter) Admit(ctx context.Context, acct *dialtone.Account, call Call) (release func(), err error) {
	lim, err := l.Effective(ctx, acct.ID)
	if err != nil {
		return nil, unavailable(acct, err)
	}
	lc := dialtone.LimitCall{Country: call.Country, NumberType: call.NumberType}
	if l.rater != nil && !lim.MaxRate.Equal(dialtone.UnlimitedMoney) {
		if lc.Rate, lc.Rated, err = l.rater.SellRate(ctx, acct, call.E164, call.NumberType); err != nil {
			return nil, unavailable(acct, err)
		}
	}
	if e := lim.CheckDestination(lc); e != nil {
		return nil, l.refuse(e)
	}
	now := l.now()
	var u dialtone.LimitUsage
	if !lim.SpendHour.Equal(dialtone.UnlimitedMoney) {
		if u.SpentHour, err = l.store.CallSpend(ctx, acct.ID, now.Add(-time.Hour)); err != nil {
			return nil, unavailable(acct, err)
		}
	}
	if !lim.SpendDay.Equal(dialtone.UnlimitedMoney) {
		if u.SpentDay, err = l.store.CallSpend(ctx, acct.ID, now.Add(-24*time.Hour)); err != nil {
			return nil, unavailable(acct, err)
		}
	}
	if e := lim.CheckSpend(u); e != nil {
		return nil, l.refuse(e)
	}
	release, err = l.counters.Take(ctx, acct.ID, now, func(calls, recent int) error {
		u.Calls, u.RecentCalls = calls, recent
		if e := lim.CheckCalls(u); e != nil {
			return e
		}
		return nil
	})
	if err != nil {
		var e *dialtone.LimitError
		if errors.As(err, &e) {
			return nil, l.refuse(e)
		}
		return nil, unavailable(acct, err)
	}
	return release, nil
}

func (l *Limiter) refuse(e *dialtone.LimitError) error {
	l.metrics.refused.WithLabelValues(string(e.Limit)).Inc()
	return e
}

func unavailable(acct *dialtone.Account, err error) error {
	return fmt.Errorf("limits of %s: %w (%w)", acct.Username, dialtone.ErrUnavailable, err)
}

// Metrics are the limiter's Prometheus collectors.
type Metrics struct {
	refused *prometheus.CounterVec
}

// NewMetrics counts refusals in refused, a counter vector with one label,
// reason, which takes the limit's name (the switch counts its other
// refusals before any carrier there too).
func NewMetrics(refused *prometheus.CounterVec) *Metrics {
	m := &Metrics{refused: refused}
	for _, l := range dialtone.AllLimits {
		m.refused.WithLabelValues(string(l)) // every limit shows, at 0
	}
	return m
}

// Refused is the counter of refusals by limit.
func (m *Metrics) Refused(limit dialtone.Limit) prometheus.Counter {
	return m.refused.WithLabelValues(string(limit))
}

// Memory is Counters in this process's memory: exact for the calls this
// node handles. An account's entry is forgotten when it has no call in
// progress and no recent start.
type Memory struct {
	now      func() time.Time // for releases; takes are told their time
	mu       sync.Mutex
	accounts map[int64]*usage
}

type usage struct {
	calls  int
	starts []time.Time // admitted call starts, oldest first, within the last minute
}

// NewMemory returns empty counters on the clock now.
func NewMemory(now func() time.Time) *Memory { return &Memory{now: now, accounts: map[int64]*usage{}} }

// Take implements Counters.
func (m *Memory) Take(_ context.Context, accountID int64, now time.Time, admit func(calls, recent int) error) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.accounts[accountID]
	if u == nil {
		u = &usage{}
	}
	u.prune(now)
	if err := admit(u.calls, len(u.starts)); err != nil {
		m.forget(accountID, u)
		return nil, err
	}
	u.calls++
	u.starts = append(u.starts, now)
	m.accounts[accountID] = u
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			u.calls--
			u.prune(m.now())
			m.forget(accountID, u)
		})
	}, nil
}

// prune drops the starts a minute or more before now.
func (u *usage) prune(now time.Time) {
	cut := now.Add(-time.Minute)
	i := 0
	for i < len(u.starts) && !u.starts[i].After(cut) {
		i++
	}
	u.starts = u.starts[i:]
}

func (m *Memory) forget(accountID int64, u *usage) {
	if u.calls == 0 && len(u.starts) == 0 {
		delete(m.accounts, accountID)
	}
}
