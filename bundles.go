package dialtone

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Validate reports the first problem with a bundle product, naming the field.
func (b Bundle) Validate() error {
	switch {
	case b.Code == "" || strings.ContainsAny(b.Code, " ,"):
		return fmt.Errorf("%w: code %q must be a word", ErrInvalid, b.Code)
	case b.Seconds <= 0:
		return fmt.Errorf("%w: minutes must be positive", ErrInvalid)
	case !b.Price.IsPositive():
		return fmt.Errorf("%w: price %s is not a positive amount", ErrInvalid, b.Price)
	case len(b.Currency) != 3:
		return fmt.Errorf("%w: currency %q is not an ISO 4217 code", ErrInvalid, b.Currency)
	case b.Validity <= 0:
		return fmt.Errorf("%w: days must be positive", ErrInvalid)
	case b.Increment < 1 || b.Increment > 3600:
		return fmt.Errorf("%w: increment %d is outside 1-3600 seconds", ErrInvalid, b.Increment)
	}
	if _, err := ToMicros(b.Price); err != nil {
		return err
	}
	for _, cc := range b.Countries {
		if len(cc) != 2 || strings.ToUpper(cc) != cc {
			return fmt.Errorf("%w: country %q is not an ISO 3166 alpha-2 code", ErrInvalid, cc)
		}
	}
	for _, t := range b.NumberTypes {
		if _, err := ParseNumberType(t); err != nil {
			return err
		}
	}
	return nil
}

// FindBundle returns the product of catalog with the code; ErrNotFound
// when there is none.
func FindBundle(catalog []Bundle, code string) (Bundle, error) {
	for _, b := range catalog {
		if b.Code == code {
			return b, nil
		}
	}
	return Bundle{}, fmt.Errorf("bundle %q: %w", code, ErrNotFound)
}

// BundlePurchase is an account buying a bundle product with wallet money.
type BundlePurchase struct {
	Account *Account
	Bundle  Bundle
	// Key makes the purchase idempotent per account: buying again with the
	// same key buys nothing more. The payment's ledger key is
	// "bundle:<account id>:<Key>", the same whoever asks (CLI or API).
	Key string
	At  time.Time // when it is bought; the bundle is valid from then
}

// Plan is the pure part of a purchase: the holding the account gets and the
// payment from its wallet to bundle revenue. It fails with ErrInvalid when
// the bundle is sold in another currency than the account pays in.
func (p BundlePurchase) Plan() (*Holding, *Movement, error) {
	a, b := p.Account, p.Bundle
	if a == nil {
		return nil, nil, fmt.Errorf("%w bundle purchase: no account", ErrInvalid)
	}
	if err := b.Validate(); err != nil {
		return nil, nil, fmt.Errorf("bundle %s: %w", b.Code, err)
	}
	if b.Currency != a.Currency {
		return nil, nil, fmt.Errorf("%w: bundle %s is sold in %s, account %s pays in %s", ErrInvalid, b.Code, b.Currency, a.Username, a.Currency)
	}
	if p.Key == "" || p.At.IsZero() {
		return nil, nil, fmt.Errorf("%w bundle purchase: key and time are required", ErrInvalid)
	}
	pay, err := Transfer{Key: fmt.Sprintf("bundle:%d:%s", a.ID, p.Key), Kind: "bundle", Currency: b.Currency, Memo: b.Name,
		From: WalletAccount(a.ID), To: BundleRevenueAccount(b.Currency), Amount: b.Price}.Movement()
	if err != nil {
		return nil, nil, err
	}
	at := p.At.UTC()
	h := &Holding{AccountID: a.ID, Bundle: b.Code, Seconds: b.Seconds, SecondsLeft: b.Seconds, Increment: b.Increment,
		Countries: b.Countries, NumberTypes: b.NumberTypes, BoughtAt: at, ExpiresAt: at.Add(b.Validity)}
	return h, pay, nil
}

// BuyBundle makes the purchase in one transaction of st: the wallet pays,
// the account holds the bundle. A replay of the key changes nothing and
// reports replayed: the holding returned then has the stored one's ID but
// this request's times. ErrInsufficientFunds when the wallet cannot pay.
func BuyBundle(ctx context.Context, st BundleStore, p BundlePurchase) (h *Holding, replayed bool, err error) {
	h, pay, err := p.Plan()
	if err != nil {
		return nil, false, err
	}
	replayed, err = st.BuyBundle(ctx, h, pay)
	if err != nil {
		return nil, false, err
	}
	return h, replayed, nil
}
