package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// Store is what credit control needs from storage.
type Store interface {
	Balance(ctx context.Context, account string) (decimal.Decimal, error)
	Holdings(ctx context.Context, accountID int64, at time.Time) ([]dialtone.Holding, error)
	Rates(ctx context.Context, plan string) (dialtone.RatePlan, []dialtone.Rate, error)
	OpenSession(ctx context.Context, s *dialtone.CallSession, first *dialtone.Reservation) error
	Reserve(ctx context.Context, r dialtone.Reservation) error
	Confirm(ctx context.Context, id string, at time.Time, cdr *dialtone.CDR) error
	Settle(ctx context.Context, st dialtone.Settlement, cdr *dialtone.CDR) error
	OpenSessions(ctx context.Context, node string) ([]*dialtone.CallSession, error)
	CompanyPayer(ctx context.Context, accountID int64) (dialtone.Member, bool, error)
	CompanySpent(ctx context.Context, orgID, accountID int64, since time.Time) (decimal.Decimal, error)
}

// Config tunes credit control.
type Config struct {
	Node        string                    // this switch's name; it settles its own open calls after a restart
	Interval    time.Duration             // credit reserved at a time while a call runs
	Rounding    Rounding                  // of prices
	DefaultPlan string                    // sell plan of accounts that name none
	Unbilled    bool                      // calls of accounts with no plan (and no DefaultPlan) connect free; false: they are refused
	BuyPlan     func(trunk string) string // the trunk's buy deck, for cost and margin; nil or "": none
	RatesTTL    time.Duration             // a deck is re-read from the store at most this often
	MaxDuration time.Duration             // the longest call authorized
	Metrics     *Metrics                  // nil: not counted
}

// Controller authorizes, meters and settles calls.
type Controller struct {
	cfg   Config
	store Store
	now   func() time.Time
	log   *slog.Logger

	mu    sync.Mutex
	decks map[string]cachedDeck
	live  map[string]*Call // calls authorized and not finished
}

type cachedDeck struct {
	deck *Deck
	at   time.Time
}

// NewController returns a controller; now is its clock.
func NewController(cfg Config, store Store, now func() time.Time, log *slog.Logger) (*Controller, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 60 * time.Second
	}
	if cfg.RatesTTL <= 0 {
		cfg.RatesTTL = 10 * time.Second
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = 4 * time.Hour
	}
	if cfg.Rounding == (Rounding{}) {
		cfg.Rounding = DefaultRounding
	}
	if err := cfg.Rounding.Validate(); err != nil {
		return nil, err
	}
	return &Controller{cfg: cfg, store: store, now: now, log: log, decks: map[string]cachedDeck{}, live: map[string]*Call{}}, nil
}

// Deck returns a plan's deck, read from the store at most once per RatesTTL.
func (c *Controller) Deck(ctx context.Context, plan string) (*Deck, error) {
	now := c.now()
	c.mu.Lock()
	d, ok := c.decks[plan]
	c.mu.Unlock()
	if ok && now.Sub(d.at) < c.cfg.RatesTTL {
		return d.deck, nil
	}
	p, rates, err := c.store.Rates(ctx, plan)
	if err != nil {
		return nil, err
	}
	d = cachedDeck{deck: NewDeck(p, rates), at: now}
	c.mu.Lock()
	c.decks[plan] = d
	c.mu.Unlock()
	return d.deck, nil
}

// Request is a call to authorize.
type Request struct {
	CallID     string // the CDR's ID
	Account    *dialtone.Account
	E164       string
	Country    string // region of the number
	NumberType string
	CDR        dialtone.CDR // the record so far
}

// Call is the money side of one call. Its methods are called by the
// goroutines of that call, one at a time or concurrently.
type Call struct {
	c       *Controller
	account *dialtone.Account
	plan    string
	country string
	numType string
	// MaxSeconds is what the account could afford when the call was authorized.
	MaxSeconds int64
	Rate       dialtone.Rate

	// company is the membership whose organization pays this call (up to
	// its monthly cap), nil when the caller pays.
	company *dialtone.Member

	mu           sync.Mutex
	session      dialtone.CallSession // the store's view, as last written (and the answer time, once answered)
	answerStored bool                 // the store has the answer time
	known        map[int64]dialtone.Holding
	finished     bool
	lost         bool   // another node took the call over (see Controller.Lost)
	onLost       func() // told once when lost is found (see OnTakenOver)
}

// OnTakenOver registers f, called once when this node finds the call taken
// over by another switch node (Controller.Lost, or the store refusing its
// credit): that node settles it, so the call must end at once. f is called
// at once if the call was found taken already; it must not block nor call
// the Call's methods, as it may run inside them.
func (k *Call) OnTakenOver(f func()) {
	k.mu.Lock()
	k.onLost = f
	lost := k.lost && !k.finished
	k.mu.Unlock()
	if lost {
		f()
	}
}

// markLost marks the call taken over by another node and reports whether
// it was not known so already; k.mu is held. The call's OnTakenOver
// function is told.
func (k *Call) markLost() bool {
	if k.lost || k.finished {
		k.lost = true
		return false
	}
	k.lost = true
	if k.onLost != nil {
		k.onLost()
	}
	return true
}

// Authorize prices the call and reserves its first increment (with the
// connect fee) before any carrier is dialed, so no call is ever connected
// unpaid: the session opens with that reservation or not at all. MaxSeconds
// is what the account could afford then.
//
// It fails with dialtone.ErrNoPlan for an account without a rate plan
// (when there is no default plan and unbilled calls are not allowed; when
// they are, it returns a nil Call: the call is not billed),
// dialtone.ErrNoRate when the plan has no rate for the number, and
// dialtone.ErrInsufficientFunds when the payer cannot pay the first
// increment, also when concurrent calls took the money first.
func (c *Controller) Authorize(ctx context.Context, req Request) (*Call, error) {
	plan := c.planOf(req.Account)
	if plan == "" {
		if c.cfg.Unbilled {
			return nil, nil
		}
		return nil, fmt.Errorf("authorize %s: account %s names none and billing.default_plan is empty: %w", req.CallID, req.Account.Username, noPlan{})
	}
	deck, err := c.Deck(ctx, plan)
	if err != nil {
		return nil, fmt.Errorf("authorize %s: rate plan %q: %w", req.CallID, plan, err)
	}
	now := c.now()
	rate, ok := deck.Find(req.E164, req.NumberType, now)
	if !ok {
		return nil, fmt.Errorf("authorize %s: %s (%s) in plan %q: %w", req.CallID, req.E164, req.NumberType, plan, dialtone.ErrNoRate)
	}
	if deck.Plan.Currency != req.Account.Currency {
		return nil, fmt.Errorf("authorize %s: plan %q is in %s, the account in %s: %w", req.CallID, plan, deck.Plan.Currency, req.Account.Currency, dialtone.ErrNoRate)
	}
	// Concurrent calls of the account may take the money between the look
	// and the reservation: then the store refuses it and we look again.
	var lost error
	for range 5 {
		k := &Call{c: c, account: req.Account, plan: plan, country: req.Country, numType: req.NumberType, Rate: *rate,
			known: map[int64]dialtone.Holding{}}
		pool, err := k.choosePayer(ctx, now)
		if err != nil {
			return nil, fmt.Errorf("authorize %s: %w", req.CallID, err)
		}
		if k.MaxSeconds == 0 {
			return nil, fmt.Errorf("authorize %s: %s cannot pay for %d s to %s: %w", req.CallID, req.Account.Username, rate.FirstIncrement, req.E164, dialtone.ErrInsufficientFunds)
		}
		// The first increment, or what of it the bundles pay when they
		// cover less (the call is then cut when they run out).
		covered := min(k.MaxSeconds, rate.FirstIncrement)
		ch := Cost(rate, c.cfg.Rounding, pool.Bundles, covered)
		cdr := req.CDR
		k.fill(&cdr)
		k.session = dialtone.CallSession{ID: req.CallID, Node: c.cfg.Node, AccountID: req.Account.ID, Currency: req.Account.Currency,
			Payer: k.payer(), Sell: *rate, CDR: cdr}
		first := dialtone.Reservation{SessionID: req.CallID, Seq: 1, Money: ch.Price, Takes: ch.Takes, Covered: covered, At: now,
			CapSince: k.capSince(now)}
		err = c.store.OpenSession(ctx, &k.session, &first)
		if errors.Is(err, dialtone.ErrInsufficientFunds) {
			lost = err
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("authorize %s: %w", req.CallID, err)
		}
		c.mu.Lock()
		c.live[k.session.ID] = k
		c.mu.Unlock()
		return k, nil
	}
	return nil, fmt.Errorf("authorize %s: %w", req.CallID, lost)
}

// choosePayer sets who pays and MaxSeconds and returns that payer's pool.
// An organization with a call cap for the caller pays while the cap and its
// wallet allow at least the first increment; otherwise the caller does.
func (k *Call) choosePayer(ctx context.Context, now time.Time) (Pool, error) {
	limit := int64(k.c.cfg.MaxDuration / time.Second)
	if m, ok, err := k.c.store.CompanyPayer(ctx, k.account.ID); err != nil {
		return Pool{}, err
	} else if ok {
		k.company = &m
		pool, err := k.pool(ctx, now)
		if err != nil {
			return Pool{}, err
		}
		if k.MaxSeconds = MaxSeconds(&k.Rate, k.c.cfg.Rounding, pool, limit); k.MaxSeconds > 0 {
			return pool, nil
		}
		k.company = nil
	}
	pool, err := k.pool(ctx, now)
	if err != nil {
		return Pool{}, err
	}
	k.MaxSeconds = MaxSeconds(&k.Rate, k.c.cfg.Rounding, pool, limit)
	return pool, nil
}

// capSince is the start of the month whose spending counts against the
// caller's call cap when an organization pays; zero when the caller pays.
func (k *Call) capSince(now time.Time) time.Time {
	if k.company == nil {
		return time.Time{}
	}
	return monthStart(now)
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// noPlan is dialtone.ErrNoPlan with the words the app is told (a SIP
// Warning): the account cannot call at all until it is given a plan.
type noPlan struct{}

func (noPlan) Error() string   { return dialtone.ErrNoPlan.Error() }
func (noPlan) Unwrap() error   { return dialtone.ErrNoPlan }
func (noPlan) Warning() string { return "no rate plan: this account cannot place calls" }

// payer is the ledger account this call's money comes from.
func (k *Call) payer() string {
	if k.company != nil {
		return dialtone.OrgAccount(k.company.OrgID)
	}
	return dialtone.WalletAccount(k.account.ID)
}

// money is what the payer can spend on this call besides what it holds
// already: the caller's wallet, or the organization's wallet within what is
// left of the caller's monthly cap.
func (k *Call) money(ctx context.Context, now time.Time) (decimal.Decimal, error) {
	bal, err := k.c.store.Balance(ctx, k.payer())
	if err != nil || k.company == nil {
		return bal, err
	}
	spent, err := k.c.store.CompanySpent(ctx, k.company.OrgID, k.account.ID, monthStart(now))
	if err != nil {
		return decimal.Zero, err
	}
	// spent counts this call's hold too, which pool adds back: what is left
	// beyond it is the cap minus spent.
	left := k.company.CallCap.Sub(spent)
	return decimal.Max(decimal.Zero, decimal.Min(bal, left)), nil
}

// pool is what the account can pay with now: its eligible bundles (plus
// what this call has reserved on them) and its payer's money (plus this
// call's hold).
func (k *Call) pool(ctx context.Context, now time.Time) (Pool, error) {
	holdings, err := k.c.store.Holdings(ctx, k.account.ID, now)
	if err != nil {
		return Pool{}, err
	}
	money, err := k.money(ctx, now)
	if err != nil {
		return Pool{}, err
	}
	left := map[int64]int64{}
	for _, h := range holdings {
		if Covers(&h, k.country, k.numType) {
			k.known[h.ID] = h
			left[h.ID] = h.SecondsLeft
		}
	}
	for _, t := range k.session.Takes {
		left[t.HoldingID] += t.Seconds
	}
	return Pool{Bundles: k.allowances(left), Money: money.Add(k.session.ReservedMoney)}, nil
}

// allowances orders holdings as bundles are used: soonest expiry first.
func (k *Call) allowances(seconds map[int64]int64) []Allowance {
	ids := make([]int64, 0, len(seconds))
	for id := range seconds {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := k.known[ids[i]], k.known[ids[j]]
		if !a.ExpiresAt.Equal(b.ExpiresAt) {
			return a.ExpiresAt.Before(b.ExpiresAt)
		}
		return ids[i] < ids[j]
	})
	out := make([]Allowance, 0, len(ids))
	for _, id := range ids {
		inc := k.known[id].Increment
		if inc == 0 { // a holding known only from a recovered session's takes
			inc = k.takeIncrement(id)
		}
		out = append(out, Allowance{HoldingID: id, Seconds: seconds[id], Increment: inc})
	}
	return out
}

func (k *Call) takeIncrement(id int64) int64 {
	for _, t := range k.session.Takes {
		if t.HoldingID == id {
			return t.Increment
		}
	}
	return 1
}

// Answered records the answer and reserves the first interval (the first
// increment is reserved already) and returns when the call must end unless
// Extend pushes that further.
func (k *Call) Answered(ctx context.Context, at time.Time, cdr *dialtone.CDR) (time.Time, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.finished {
		return at, fmt.Errorf("answer %s: %w: finished already", k.session.ID, dialtone.ErrConflict)
	}
	if k.lost {
		return at, fmt.Errorf("answer %s: %w: another switch node took the call over", k.session.ID, dialtone.ErrConflict)
	}
	k.session.AnswerAt = at
	first := max(int64(k.c.cfg.Interval/time.Second), k.Rate.FirstIncrement)
	snapshot := *cdr
	k.fill(&snapshot)
	until, err := k.reserveTo(ctx, first, at, &snapshot)
	k.noteTaken(err)
	return until, err
}

// noteTaken marks the call lost when the store refused it as settled or
// claimed: this node is not finished with it, so another node took it over.
func (k *Call) noteTaken(err error) {
	if errors.Is(err, dialtone.ErrConflict) {
		k.markLost()
	}
}

// Extend reserves one more interval, or what is left of the account's
// credit, and returns when the call must end. When nothing more can be
// reserved the time does not move: the call must end then.
func (k *Call) Extend(ctx context.Context, now time.Time) (time.Time, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.finished {
		return k.until(), fmt.Errorf("extend %s: %w: finished already", k.session.ID, dialtone.ErrConflict)
	}
	if k.lost {
		return k.until(), fmt.Errorf("extend %s: %w: another switch node took the call over", k.session.ID, dialtone.ErrConflict)
	}
	until, err := k.reserveTo(ctx, k.session.Covered+int64(k.c.cfg.Interval/time.Second), now, nil)
	k.noteTaken(err)
	return until, err
}

func (k *Call) until() time.Time {
	return k.session.AnswerAt.Add(time.Duration(k.session.Covered) * time.Second)
}

// reserveTo makes the session cover target seconds after answer, or as much
// of it as the account can pay for. Concurrent calls of the account may take
// the same money first: then it recomputes, a few times. The answer time
// reaches the store with the first reservation after it, one that moves no
// money when nothing more can be reserved, so that a recovered call that
// was answered is charged.
func (k *Call) reserveTo(ctx context.Context, target int64, now time.Time, cdr *dialtone.CDR) (time.Time, error) {
	limit := int64(k.c.cfg.MaxDuration / time.Second)
	target = min(target, limit)
	for range 5 {
		pool, err := k.pool(ctx, now)
		if err != nil {
			return k.until(), fmt.Errorf("reserve credit for %s: %w", k.session.ID, err)
		}
		want := MaxSeconds(&k.Rate, k.c.cfg.Rounding, pool, target)
		if want <= k.session.Covered {
			return k.stay(ctx, now, cdr)
		}
		ch := Cost(&k.Rate, k.c.cfg.Rounding, pool.Bundles, want)
		r := k.next(want, now, cdr)
		r.Money = decimal.Max(decimal.Zero, ch.Price.Sub(k.session.ReservedMoney))
		own := map[int64]int64{}
		for _, t := range k.session.Takes {
			own[t.HoldingID] = t.Seconds
		}
		for _, t := range ch.Takes {
			if more := t.Seconds - own[t.HoldingID]; more > 0 {
				r.Takes = append(r.Takes, dialtone.BundleTake{HoldingID: t.HoldingID, Seconds: more, Increment: t.Increment})
			}
		}
		err = k.c.store.Reserve(ctx, r)
		if errors.Is(err, dialtone.ErrInsufficientFunds) {
			continue // another call of the account got there first
		}
		if err != nil {
			return k.until(), fmt.Errorf("reserve credit for %s: %w", k.session.ID, err)
		}
		err = k.applied(r)
		return k.until(), err
	}
	return k.stay(ctx, now, cdr)
}

// next is the session's next reservation, covering covered seconds, with
// no money or bundle time yet.
func (k *Call) next(covered int64, now time.Time, cdr *dialtone.CDR) dialtone.Reservation {
	return dialtone.Reservation{SessionID: k.session.ID, Seq: k.session.Seq + 1, Covered: covered, At: now,
		AnswerAt: k.session.AnswerAt, CDR: cdr, CapSince: k.capSince(now)}
}

// stay keeps what the session covers: it confirms the call is up, or, when
// the store does not know the answer yet, records it with a reservation of
// nothing more.
func (k *Call) stay(ctx context.Context, now time.Time, cdr *dialtone.CDR) (time.Time, error) {
	if !k.session.AnswerAt.IsZero() && !k.answerStored {
		r := k.next(k.session.Covered, now, cdr)
		if err := k.c.store.Reserve(ctx, r); err != nil {
			return k.until(), fmt.Errorf("record the answer of %s: %w", k.session.ID, err)
		}
		err := k.applied(r)
		return k.until(), err
	}
	if err := k.c.store.Confirm(ctx, k.session.ID, now, cdr); err != nil {
		return k.until(), fmt.Errorf("confirm %s: %w", k.session.ID, err)
	}
	return k.until(), nil
}

// applied brings the session up to a reservation the store took.
func (k *Call) applied(r dialtone.Reservation) error {
	next, _, err := dialtone.ApplyReservation(&k.session, r)
	if err != nil || next == nil {
		return fmt.Errorf("reserve credit for %s: %v", k.session.ID, err)
	}
	k.session = *next
	k.answerStored = !k.session.AnswerAt.IsZero()
	return nil
}

// Finish rates the call from cdr (its answer time and duration), fills the
// CDR's money fields, charges the account and writes the CDR, all at once.
// Usage past what was reserved is not charged: the call should have ended.
func (k *Call) Finish(ctx context.Context, cdr *dialtone.CDR) error {
	defer k.c.forget(k)
	k.mu.Lock()
	lost, finished := k.lost, k.finished
	k.mu.Unlock()
	if !lost || finished {
		err := k.settle(ctx, cdr)
		if finished || !errors.Is(err, dialtone.ErrConflict) {
			return err
		}
		// The store refused: the call was claimed by another node.
	}
	// Another node took the call over while this one was taken for dead,
	// and settles it (or did): no second charge, no second CDR.
	k.c.log.Warn("call ended here after another switch node took it over: not settled again", "call_id", cdr.ID,
		"account", cdr.Account, "duration", cdr.Duration)
	return nil
}

// settle is Finish without the bookkeeping of live calls.
func (k *Call) settle(ctx context.Context, cdr *dialtone.CDR) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.finished {
		return fmt.Errorf("finish %s: %w: finished already", k.session.ID, dialtone.ErrConflict)
	}
	// An answered call is billed at least its first increment (that is what
	// was reserved before the carrier was dialed), never past what was
	// reserved; an unanswered one nothing.
	secs := int64(0)
	if !cdr.AnswerAt.IsZero() && k.session.Covered > 0 {
		secs = min(max(Seconds(cdr.Duration), 1), k.session.Covered)
	}
	own := map[int64]int64{}
	for _, t := range k.session.Takes {
		own[t.HoldingID] += t.Seconds
	}
	ch := Cost(&k.Rate, k.c.cfg.Rounding, k.allowances(own), secs)
	price := ch.Price
	if price.GreaterThan(k.session.ReservedMoney) {
		k.c.log.Warn("call cost more than its reservation: charging the reservation", "call_id", k.session.ID,
			"price", price, "reserved", k.session.ReservedMoney)
		price = k.session.ReservedMoney
	}
	k.fill(cdr)
	cdr.Price, cdr.BundleSeconds, cdr.BilledSeconds = price, ch.BundleSeconds, ch.Billed()
	k.cost(ctx, cdr, secs)
	if secs > 0 && cdr.Price.IsZero() && cdr.BundleSeconds == 0 && cdr.Cost.IsPositive() {
		k.c.cfg.Metrics.free()
		k.c.log.Warn("call rated free on a destination that costs us money", "call_id", k.session.ID, "account", cdr.Account,
			"destination", cdr.DialedE164, "destination_name", cdr.Destination, "rate_plan", k.plan, "trunk", cdr.Trunk, "cost", cdr.Cost)
	}
	err := k.c.store.Settle(ctx, dialtone.Settlement{SessionID: k.session.ID, Price: price, BundleUsed: ch.Takes, By: k.c.cfg.Node}, cdr)
	if err != nil {
		return fmt.Errorf("finish %s: %w", k.session.ID, err)
	}
	k.finished = true
	return nil
}

// fill writes what rating knows into a CDR.
func (k *Call) fill(cdr *dialtone.CDR) {
	cdr.Currency, cdr.RatePlan, cdr.PaidBy = k.account.Currency, k.plan, k.payer()
	cdr.Prefix, cdr.Destination, cdr.NumberType, cdr.SellRate = k.Rate.Prefix, k.Rate.Destination, k.numType, k.Rate.PerMinute
}

// cost prices the call at the carrier's buy deck, when it has one.
func (k *Call) cost(ctx context.Context, cdr *dialtone.CDR, secs int64) {
	cdr.BuyRate, cdr.Cost = decimal.Zero, decimal.Zero
	plan := ""
	if k.c.cfg.BuyPlan != nil {
		plan = k.c.cfg.BuyPlan(cdr.Trunk)
	}
	if plan != "" && secs > 0 {
		deck, err := k.c.Deck(ctx, plan)
		if err != nil {
			k.c.log.Warn("buy deck unavailable: cost not recorded", "call_id", k.session.ID, "trunk", cdr.Trunk, "plan", plan, "error", err)
		} else if buy, ok := deck.Find(cdr.DialedE164, k.numType, cdr.AnswerAt); ok {
			cdr.BuyRate = buy.PerMinute
			cdr.Cost = Price(buy, Billed(buy, secs), k.c.cfg.Rounding)
		}
	}
	cdr.Margin = cdr.Price.Sub(cdr.Cost)
}

// Recover settles the calls this node left open when it stopped without
// finishing them (a crash, a kill), and those it claimed from a dead node
// and did not settle: each gets its CDR, exactly once. alive is this node's
// last heartbeat before the restart (zero when unknown): an answered call
// is charged from its answer up to the last time it was known up (see
// LeftEnd); one never answered gives back what it reserved and costs
// nothing. It returns how many it settled.
func (c *Controller) Recover(ctx context.Context, alive time.Time) (int, error) {
	open, err := c.store.OpenSessions(ctx, c.cfg.Node)
	if err != nil {
		return 0, fmt.Errorf("recover calls: %w", err)
	}
	n := 0
	var errs []error
	for _, s := range open {
		ok, err := c.settleLeft(ctx, s, alive)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// LeftEnd is when a call left open by a node that stopped is taken to have
// ended: the last time it was known up, that is its last confirmation or
// the last heartbeat of its node (alive; for a call another node claimed,
// the lapsed lease's last heartbeat), whichever is later, and never before
// its answer. Finish then charges it from its answer to there, within what
// was reserved.
func LeftEnd(s *dialtone.CallSession, alive time.Time) time.Time {
	if !s.LapsedAt.IsZero() {
		alive = s.LapsedAt
	}
	end := later(s.ConfirmedAt, alive)
	if !s.AnswerAt.IsZero() {
		end = later(end, s.AnswerAt)
	}
	return end
}

// settleLeft settles a session whose node is gone (this node before a
// restart, or a dead node whose calls it claimed), as this node. It reports
// false, with no error, when it was settled already.
func (c *Controller) settleLeft(ctx context.Context, s *dialtone.CallSession, alive time.Time) (bool, error) {
	why, failed := "after a restart", "Switch restarted"
	if s.Node != c.cfg.Node {
		why, failed = "by "+c.cfg.Node+": switch node "+s.Node+" died", "Switch node "+s.Node+" died"
	}
	k := &Call{c: c, account: &dialtone.Account{ID: s.AccountID, Username: s.CDR.Account, Currency: s.Currency},
		plan: s.CDR.RatePlan, country: "", numType: s.CDR.NumberType, Rate: s.Sell, session: *s, known: map[int64]dialtone.Holding{},
		answerStored: !s.AnswerAt.IsZero()}
	if org, ok := strings.CutPrefix(s.PayerAccount(), "org:"); ok {
		id, _ := strconv.ParseInt(org, 10, 64)
		k.company = &dialtone.Member{OrgID: id, AccountID: s.AccountID}
	}
	cdr := s.CDR
	cdr.HangupBy = dialtone.PartySwitch
	end := LeftEnd(s, alive)
	if !s.AnswerAt.IsZero() {
		cdr.AnswerAt, cdr.EndAt, cdr.Duration = s.AnswerAt, end, end.Sub(s.AnswerAt)
		cdr.Disposition, cdr.SIPCode, cdr.SIPReason = dialtone.Answered, 200, "OK (settled "+why+")"
	} else {
		cdr.EndAt = later(end, cdr.SetupAt)
		cdr.Disposition, cdr.SIPCode, cdr.SIPReason = dialtone.Failed, 500, failed
	}
	if err := k.settle(ctx, &cdr); err != nil {
		if errors.Is(err, dialtone.ErrConflict) {
			return false, nil
		}
		return false, err
	}
	c.log.Info("open call settled", "why", why, "call_id", s.ID, "account", cdr.Account, "node", s.Node,
		"duration", cdr.Duration, "billed_seconds", cdr.BilledSeconds, "price", cdr.Price)
	return true, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
