package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
	"github.com/dialtone/dialtone/companion"
	"github.com/dialtone/dialtone/trunks"
)

// quoter implements companion.Quoter with the rules a call meets: the
// router's destination checks (trunks.Router.Check: normalization in the
// account's country, the block list, the route table), the plan's rate
// (billing.Controller.Quote, as Authorize finds it) and the bundles that
// would pay (billing.Covers).
type quoter struct {
	router *trunks.Router
	ctl    *billing.Controller
	st     interface {
		Holdings(ctx context.Context, accountID int64, at time.Time) ([]dialtone.Holding, error)
	}
	free bool // billing.unbilled allow with no default plan: an account without a plan calls free
	now  func() time.Time
}

func (q quoter) Quote(ctx context.Context, acct *dialtone.Account, dialed string) (companion.Quote, error) {
	n, err := q.router.Check(dialed, acct.Country)
	out := companion.Quote{E164: n.E164, Country: n.Country, NumberType: string(n.Type)}
	var blocked *trunks.BlockedError
	switch {
	case errors.Is(err, trunks.ErrUnknownCountry):
		return out, fmt.Errorf("%w: the account's country %q has no numbering plan", dialtone.ErrInvalidNumber, acct.Country)
	case errors.Is(err, dialtone.ErrInvalidNumber):
		return out, err
	case errors.As(err, &blocked):
		out.Blocked = blocked.Rule
		return out, nil
	case errors.Is(err, dialtone.ErrNoRoute):
		out.NoRoute = true
		return out, nil
	case err != nil:
		return out, fmt.Errorf("quote %s: %w", dialed, err)
	}
	if acct.RatePlan == "" && q.free {
		out.Free = true
	} else if out.Rate, out.Priced, err = q.ctl.Quote(ctx, acct, n.E164, string(n.Type)); err != nil {
		return out, err
	}
	hs, err := q.st.Holdings(ctx, acct.ID, q.now())
	if err != nil {
		return out, fmt.Errorf("quote %s: bundles: %w", dialed, err)
	}
	for i := range hs {
		if hs[i].SecondsLeft > 0 && billing.Covers(&hs[i], n.Country, string(n.Type)) {
			out.BundleCovers = true
			out.BundleSecondsLeft += hs[i].SecondsLeft
		}
	}
	return out, nil
}
