package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
)

func newRatesCmd(load func() (*Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "rates", Short: "Import and list rate decks (sell plans and carriers' buy decks)"}
	var plan, currency string
	imp := &cobra.Command{
		Use:   "import --plan NAME FILE",
		Short: "Replace a plan's deck with a CSV file; a deck with any error changes nothing",
		Long: "Columns (first line, any order): " + strings.Join(billing.DeckColumns, ", ") + ".\n" +
			"prefix, destination and rate are required; see README.md for each column.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if plan == "" {
				return errors.New("--plan is required")
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			var onProgress func(int64)
			if fi, err := f.Stat(); err == nil && isTerminal(os.Stderr) {
				bar := progressbar.DefaultBytes(fi.Size(), "reading "+args[0])
				defer bar.Finish()
				onProgress = func(n int64) { _ = bar.Set64(n) }
			}
			rates, err := billing.ParseDeck(f, onProgress)
			if err != nil {
				return fmt.Errorf("%s: nothing imported:\n%w", args[0], err)
			}
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				if err := st.ReplaceRates(cmd.Context(), dialtone.RatePlan{Name: plan, Currency: strings.ToUpper(currency)}, rates); err != nil {
					return fmt.Errorf("%s: nothing imported: %w", args[0], err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "imported %d rates into plan %s (%s)\n", len(rates), plan, strings.ToUpper(currency))
				return nil
			})
		},
	}
	imp.Flags().StringVar(&plan, "plan", "", "plan name (required)")
	imp.Flags().StringVar(&currency, "currency", "USD", "ISO 4217 currency of the deck")

	list := &cobra.Command{
		Use:   "list",
		Short: "List rate plans",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				plans, err := st.RatePlans(cmd.Context())
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "PLAN\tCURRENCY\tRATES\tUPDATED")
				for _, p := range plans {
					fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", p.Name, p.Currency, p.Rates, p.UpdatedAt.Format(time.RFC3339))
				}
				return w.Flush()
			})
		},
	}
	cmd.AddCommand(imp, list)
	return cmd
}

func newWalletCmd(load func() (*Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "wallet", Short: "Top up and inspect account wallets"}
	var key, memo string
	topup := &cobra.Command{
		Use:   "topup USERNAME AMOUNT",
		Short: "Credit a wallet (a retry with the same --key credits once)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := dialtone.ParseAmount(args[1])
			if err != nil {
				return err
			}
			if !amount.IsPositive() {
				return fmt.Errorf("amount %s: must be positive", amount)
			}
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				a, err := st.AccountByUsername(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				k := key
				if k == "" {
					k = "topup:" + uuid.NewString()
				}
				m, err := dialtone.Transfer{Key: k, Kind: "topup", Currency: a.Currency, Memo: memo,
					From: dialtone.FundingAccount(a.Currency), To: dialtone.WalletAccount(a.ID), Amount: amount}.Movement()
				if err != nil {
					return err
				}
				replayed, err := st.Post(cmd.Context(), m)
				if err != nil {
					return err
				}
				bal, err := st.Balance(cmd.Context(), dialtone.WalletAccount(a.ID))
				if err != nil {
					return err
				}
				verb := "credited"
				if replayed {
					verb = "already credited (same key): nothing moved;"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s to %s (key %s); balance %s\n", verb, dialtone.FormatMoney(amount, a.Currency), a.Username, k,
					dialtone.FormatMoney(bal, a.Currency))
				return nil
			})
		},
	}
	topup.Flags().StringVar(&key, "key", "", "idempotency key (default: a new one)")
	topup.Flags().StringVar(&memo, "memo", "operator top-up", "note kept in the ledger")

	show := &cobra.Command{
		Use:   "show USERNAME",
		Short: "Show a wallet's balance, money on hold for calls, and bundles",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				ctx := cmd.Context()
				a, err := st.AccountByUsername(ctx, args[0])
				if err != nil {
					return err
				}
				bal, err1 := st.Balance(ctx, dialtone.WalletAccount(a.ID))
				hold, err2 := st.Balance(ctx, dialtone.HoldAccount(a.ID))
				hs, err3 := st.Holdings(ctx, a.ID, time.Now())
				if err := errors.Join(err1, err2, err3); err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintf(w, "account\t%s\nbalance\t%s\non hold\t%s (calls in progress)\n", a.Username,
					dialtone.FormatMoney(bal, a.Currency), dialtone.FormatMoney(hold, a.Currency))
				for _, h := range hs {
					fmt.Fprintf(w, "bundle\t%s: %d of %d min left, expires %s\n", h.Bundle, h.SecondsLeft/60, h.Seconds/60, h.ExpiresAt.Format(time.RFC3339))
				}
				return w.Flush()
			})
		},
	}

	var limit int
	history := &cobra.Command{
		Use:   "history USERNAME",
		Short: "List a wallet's history, newest first: one line per top-up, transfer, bundle and call",
		Long: "Each call is one line (the number, its duration, the charge), its credit reservations folded in;\n" +
			"a call in progress shows its hold, a call that failed shows nothing charged.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 1000 {
				return fmt.Errorf("--limit %d: want 1-1000", limit)
			}
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				a, err := st.AccountByUsername(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				items, err := st.WalletHistory(cmd.Context(), a.ID, 0, limit)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "TIME\tKIND\tAMOUNT\tBALANCE\tMEMO")
				for _, it := range items {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", it.At.UTC().Format(time.RFC3339), it.Kind,
						dialtone.FormatMoney(it.Amount, a.Currency), dialtone.FormatMoney(it.Balance, a.Currency), it.Memo)
				}
				return w.Flush()
			})
		},
	}
	history.Flags().IntVar(&limit, "limit", 50, "entries to show (at most 1000)")
	cmd.AddCommand(topup, show, history)
	return cmd
}

func newBundleCmd(load func() (*Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "bundle", Short: "Minute bundles: list the products, buy one with wallet money"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the bundles on sale (configured under bundles)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			catalog, err := cfg.BundleCatalog()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "CODE\tNAME\tMINUTES\tPRICE\tDAYS\tCOUNTRIES\tTYPES")
			for _, b := range catalog {
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\t%s\t%s\n", b.Code, b.Name, b.Seconds/60, dialtone.FormatMoney(b.Price, b.Currency),
					int64(b.Validity/(24*time.Hour)), orAny(b.Countries), orAny(b.NumberTypes))
			}
			return w.Flush()
		},
	}
	var key string
	buy := &cobra.Command{
		Use:   "buy USERNAME CODE",
		Short: "Buy a bundle with wallet money (a retry with the same --key buys once, as the API's Idempotency-Key does)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), load, func(cfg *Config, st dialtone.Store) error {
				catalog, err := cfg.BundleCatalog()
				if err != nil {
					return err
				}
				product, err := dialtone.FindBundle(catalog, args[1])
				if err != nil {
					return fmt.Errorf("%w (see: dialtone bundle list)", err)
				}
				a, err := st.AccountByUsername(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				k := key
				if k == "" {
					k = uuid.NewString()
				}
				h, replayed, err := dialtone.BuyBundle(cmd.Context(), st, dialtone.BundlePurchase{Account: a, Bundle: product, Key: k, At: time.Now()})
				if err != nil {
					return err
				}
				if replayed {
					fmt.Fprintf(cmd.OutOrStdout(), "already bought with key %s: nothing moved\n", k)
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s bought %s (%d min) for %s, valid until %s (key %s)\n",
					a.Username, product.Name, product.Seconds/60, dialtone.FormatMoney(product.Price, a.Currency), h.ExpiresAt.Format(time.RFC3339), k)
				return nil
			})
		},
	}
	buy.Flags().StringVar(&key, "key", "", "idempotency key (default: a new one)")
	cmd.AddCommand(list, buy)
	return cmd
}

func newLedgerCmd(load func() (*Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "Check the ledger"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Verify that balances sum to zero, each equals its entries and none is negative",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				c, err := st.CheckLedger(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d accounts, %d movements, total %s\n", c.Accounts, c.Movements, c.Total)
				if !c.OK() {
					return fmt.Errorf("ledger does not balance: total %s, mismatched %v, negative %v", c.Total, c.Mismatched, c.Negative)
				}
				fmt.Fprintln(cmd.OutOrStdout(), "ok")
				return nil
			})
		},
	})
	return cmd
}

func orAny(list []string) string {
	if len(list) == 0 {
		return "any"
	}
	return strings.Join(list, ",")
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
