package billing

import (
	"context"
	"errors"
	"fmt"

	"github.com/dialtone/dialtone"
)

// planOf is the sell plan that prices acct's calls: its own, else the
// default; empty when its calls are not billed.
func (c *Controller) planOf(acct *dialtone.Account) string {
	if acct.RatePlan != "" {
		return acct.RatePlan
	}
	return c.cfg.DefaultPlan
}

// Quote returns the sell rate a call from acct to e164 (of numberType)
// would be priced at now, as Authorize would find it. ok is false when the
// account's calls are not billed, or its plan has no rate for the number
// in the account's currency, or the plan is not there (Authorize refuses
// such a call).
func (c *Controller) Quote(ctx context.Context, acct *dialtone.Account, e164, numberType string) (rate dialtone.Rate, ok bool, err error) {
	plan := c.planOf(acct)
	if plan == "" {
		return dialtone.Rate{}, false, nil
	}
	deck, err := c.Deck(ctx, plan)
	if errors.Is(err, dialtone.ErrNotFound) {
		return dialtone.Rate{}, false, nil // Authorize answers for a plan that is not there
	}
	if err != nil {
		return dialtone.Rate{}, false, fmt.Errorf("quote %s: rate plan %q: %w", e164, plan, err)
	}
	r, found := deck.Find(e164, numberType, c.now())
	if !found || deck.Plan.Currency != acct.Currency {
		return dialtone.Rate{}, false, nil
	}
	return *r, true, nil
}
