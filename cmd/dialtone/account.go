package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/switch/digest"
)

func newAccountCmd(load func() (*Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Create and manage accounts"}

	var country, currency, password, plan string
	create := &cobra.Command{
		Use:   "create USERNAME",
		Short: "Create an account (the password is read from --password, DIALTONE_PASSWORD or standard input)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), load, func(cfg *Config, st dialtone.Store) error {
				pw, err := readPassword(cmd.InOrStdin(), password)
				if err != nil {
					return err
				}
				a := &dialtone.Account{
					Username:  args[0],
					Realm:     cfg.SIP.Realm,
					HA1MD5:    digest.HA1(digest.MD5, args[0], cfg.SIP.Realm, pw),
					HA1SHA256: digest.HA1(digest.SHA256, args[0], cfg.SIP.Realm, pw),
					Country:   strings.ToUpper(country),
					Currency:  strings.ToUpper(currency),
					RatePlan:  plan,
					Status:    dialtone.AccountActive,
				}
				if err := checkPlan(cmd.Context(), st, plan, a.Currency); err != nil {
					return err
				}
				if err := st.CreateAccount(cmd.Context(), a); err != nil {
					return err // the store names the account
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created account %s (id %d, %s, %s)\n", a.Username, a.ID, a.Country, a.Currency)
				return nil
			})
		},
	}
	create.Flags().StringVar(&country, "country", "US", "ISO 3166 country used to read national numbers")
	create.Flags().StringVar(&currency, "currency", "USD", "ISO 4217 currency")
	create.Flags().StringVar(&password, "password", "", "SIP password (prefer DIALTONE_PASSWORD or standard input)")
	create.Flags().StringVar(&plan, "plan", "", "sell rate plan that prices the account's calls (empty: billing.default_plan)")

	show := &cobra.Command{
		Use:   "show USERNAME",
		Short: "Show one account",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				a, err := st.AccountByUsername(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintf(w, "id\t%d\nusername\t%s\nstatus\t%s\ncountry\t%s\ncurrency\t%s\nrate plan\t%s\nrealm\t%s\ncreated\t%s\nupdated\t%s\n",
					a.ID, a.Username, a.Status, a.Country, a.Currency, orNone(a.RatePlan), a.Realm,
					a.CreatedAt.UTC().Format("2006-01-02 15:04:05Z"), a.UpdatedAt.UTC().Format("2006-01-02 15:04:05Z"))
				bal, err1 := st.Balance(cmd.Context(), dialtone.WalletAccount(a.ID))
				hold, err2 := st.Balance(cmd.Context(), dialtone.HoldAccount(a.ID))
				if err := errors.Join(err1, err2); err != nil {
					return err
				}
				fmt.Fprintf(w, "balance\t%s\non hold\t%s\n", dialtone.FormatMoney(bal, a.Currency), dialtone.FormatMoney(hold, a.Currency))
				return w.Flush()
			})
		},
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				as, err := st.Accounts(cmd.Context())
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tUSERNAME\tSTATUS\tCOUNTRY\tCURRENCY\tPLAN")
				for _, a := range as {
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Username, a.Status, a.Country, a.Currency, orNone(a.RatePlan))
				}
				return w.Flush()
			})
		},
	}

	setStatus := func(use, short string, status dialtone.AccountStatus) *cobra.Command {
		return &cobra.Command{
			Use:   use + " USERNAME",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
					if _, err := st.UpdateAccount(cmd.Context(), args[0], dialtone.AccountUpdate{Status: &status}); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "account %s is %s\n", args[0], status)
					return nil
				})
			},
		}
	}

	passwd := &cobra.Command{
		Use:   "passwd USERNAME",
		Short: "Set an account's SIP password (from --password, DIALTONE_PASSWORD or standard input)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), load, func(cfg *Config, st dialtone.Store) error {
				pw, err := readPassword(cmd.InOrStdin(), password)
				if err != nil {
					return err
				}
				realm := cfg.SIP.Realm
				md5 := digest.HA1(digest.MD5, args[0], realm, pw)
				sha := digest.HA1(digest.SHA256, args[0], realm, pw)
				if _, err := st.UpdateAccount(cmd.Context(), args[0], dialtone.AccountUpdate{Realm: &realm, HA1MD5: &md5, HA1SHA256: &sha}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed\n", args[0])
				return nil
			})
		},
	}
	passwd.Flags().StringVar(&password, "password", "", "SIP password (prefer DIALTONE_PASSWORD or standard input)")

	setPlan := &cobra.Command{
		Use:   "plan USERNAME PLAN",
		Short: "Set the sell rate plan that prices an account's calls (\"\" for none)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				a, err := st.AccountByUsername(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if err := checkPlan(cmd.Context(), st, args[1], a.Currency); err != nil {
					return err
				}
				if _, err := st.UpdateAccount(cmd.Context(), args[0], dialtone.AccountUpdate{RatePlan: &args[1]}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "account %s is on rate plan %s\n", args[0], orNone(args[1]))
				return nil
			})
		},
	}

	cmd.AddCommand(create, show, list, setPlan,
		setStatus("disable", "Disable an account: it can no longer register or call", dialtone.AccountDisabled),
		setStatus("enable", "Enable a disabled account", dialtone.AccountActive),
		passwd)
	return cmd
}

// readPassword takes the flag, then DIALTONE_PASSWORD, then the first line of in.
func readPassword(in io.Reader, flag string) (string, error) {
	pw := flag
	if pw == "" {
		pw = os.Getenv("DIALTONE_PASSWORD")
	}
	if pw == "" {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if len(pw) < 4 {
		return "", errors.New("password must have at least 4 characters (give --password, DIALTONE_PASSWORD or a line on standard input)")
	}
	return pw, nil
}

func withStore(ctx context.Context, load func() (*Config, error), fn func(*Config, dialtone.Store) error) error {
	cfg, err := load()
	if err != nil {
		return err
	}
	st, _, err := openStore(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(cfg, st)
}

// checkPlan refuses a plan that does not exist or is in another currency.
func checkPlan(ctx context.Context, st dialtone.Store, plan, currency string) error {
	if plan == "" {
		return nil
	}
	p, _, err := st.Rates(ctx, plan)
	if err != nil {
		return fmt.Errorf("%w (import it with: dialtone rates import --plan %s FILE)", err, plan) // the store names the plan
	}
	if p.Currency != currency {
		return fmt.Errorf("rate plan %q is in %s, the account in %s", plan, p.Currency, currency)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// apiAccounts creates accounts for the companion API's sign-up: the same
// account as the SIP credentials, hashed for the configured realm.
type apiAccounts struct {
	st    dialtone.Store
	realm string
}

func (a apiAccounts) Create(ctx context.Context, username, password, country, currency string) (*dialtone.Account, error) {
	acct := &dialtone.Account{
		Username: username, Realm: a.realm,
		HA1MD5:    digest.HA1(digest.MD5, username, a.realm, password),
		HA1SHA256: digest.HA1(digest.SHA256, username, a.realm, password),
		Country:   country, Currency: currency, Status: dialtone.AccountActive,
	}
	if err := a.st.CreateAccount(ctx, acct); err != nil {
		return nil, err
	}
	return acct, nil
}
