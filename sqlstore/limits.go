package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// AccountLimits returns the limits set for an account (see dialtone.LimitStore).
func (s *Store) AccountLimits(ctx context.Context, accountID int64) (dialtone.Limits, error) {
	var l dialtone.Limits
	var hour, day, rate int64
	var countries, types string
	err := s.r().QueryRow(ctx, `SELECT concurrent_calls, calls_per_minute, spend_hour, spend_day, max_rate, countries, number_types
		FROM account_limits WHERE account_id = ?`, accountID).Scan(&l.Concurrent, &l.PerMinute, &hour, &day, &rate, &countries, &types)
	if errors.Is(err, sql.ErrNoRows) {
		return dialtone.Limits{}, nil
	}
	if err != nil {
		return dialtone.Limits{}, fmt.Errorf("limits of account %d: %w", accountID, err)
	}
	l.SpendHour, l.SpendDay, l.MaxRate = limitMoney(hour), limitMoney(day), limitMoney(rate)
	if countries != "" {
		l.Countries = strings.Split(countries, ",")
	}
	if types != "" {
		for _, t := range strings.Split(types, ",") {
			l.NumberTypes = append(l.NumberTypes, dialtone.NumberType(t))
		}
	}
	return l, nil
}

// SetAccountLimits replaces an account's limits (see dialtone.LimitStore).
func (s *Store) SetAccountLimits(ctx context.Context, accountID int64, l dialtone.Limits) error {
	if err := l.Validate(false); err != nil {
		return fmt.Errorf("set limits of account %d: %w", accountID, err)
	}
	var micros [3]int64
	for i, d := range []decimal.Decimal{l.SpendHour, l.SpendDay, l.MaxRate} {
		if d.Equal(dialtone.UnlimitedMoney) {
			micros[i] = -1
			continue
		}
		m, err := dialtone.ToMicros(d)
		if err != nil {
			return fmt.Errorf("set limits of account %d: %w", accountID, err)
		}
		micros[i] = m
	}
	types := make([]string, len(l.NumberTypes))
	for i, t := range l.NumberTypes {
		types[i] = string(t)
	}
	var one int
	if err := s.r().QueryRow(ctx, `SELECT 1 FROM accounts WHERE id = ?`, accountID).Scan(&one); err != nil {
		return fmt.Errorf("set limits of account %d: %w", accountID, notFound(err))
	}
	if l.IsDefault() {
		if _, err := s.w().Exec(ctx, `DELETE FROM account_limits WHERE account_id = ?`, accountID); err != nil {
			return fmt.Errorf("set limits of account %d: %w", accountID, err)
		}
		return nil
	}
	_, err := s.w().Exec(ctx, `INSERT INTO account_limits (account_id, concurrent_calls, calls_per_minute, spend_hour, spend_day, max_rate,
		countries, number_types, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET concurrent_calls = excluded.concurrent_calls, calls_per_minute = excluded.calls_per_minute,
		spend_hour = excluded.spend_hour, spend_day = excluded.spend_day, max_rate = excluded.max_rate,
		countries = excluded.countries, number_types = excluded.number_types, updated_at = excluded.updated_at`,
		accountID, l.Concurrent, l.PerMinute, micros[0], micros[1], micros[2],
		strings.Join(l.Countries, ","), strings.Join(types, ","), s.d.T(s.now()))
	if err != nil {
		return fmt.Errorf("set limits of account %d: %w", accountID, err)
	}
	return nil
}

// CallSpend sums the prices of an account's calls that ended at or after
// since and the money its open call sessions hold (see dialtone.LimitStore).
func (s *Store) CallSpend(ctx context.Context, accountID int64, since time.Time) (decimal.Decimal, error) {
	var spent, held int64
	err := s.r().QueryRow(ctx, `SELECT
		CAST((SELECT coalesce(sum(price), 0) FROM cdrs WHERE account_id = ? AND end_at >= ?) AS BIGINT),
		CAST((SELECT coalesce(sum(reserved), 0) FROM call_sessions WHERE account_id = ? AND `+s.d.Schema.IsFalse("settled")+`) AS BIGINT)`,
		accountID, s.d.T(since), accountID).Scan(&spent, &held)
	if err != nil {
		return decimal.Zero, fmt.Errorf("call spend of account %d: %w", accountID, err)
	}
	return dialtone.FromMicros(spent + held), nil
}

// limitMoney reads a stored amount limit: -1 is unlimited.
func limitMoney(m int64) decimal.Decimal {
	if m == -1 {
		return dialtone.UnlimitedMoney
	}
	return dialtone.FromMicros(m)
}
