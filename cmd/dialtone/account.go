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
	"github.com/dialtone/dialtone/billing"
	"github.com/dialtone/dialtone/switch/digest"
	"github.com/dialtone/dialtone/trunks"
)

func newAccountCmd(load func() (*Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Create and manage accounts"}

	var country, currency, password, plan, callerID string
	var sipOnly, apiOnly bool
	create := &cobra.Command{
		Use:   "create USERNAME",
		Short: "Create an account with a password (from --password, DIALTONE_PASSWORD or standard input) for the API and for SIP",
		Long: `Create an account. Its password is set for the companion API (which the
browser dialer signs in with) and for SIP, as the device named USERNAME (for a
softphone set up with the account's name); --api or --sip sets only one of them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), load, func(cfg *Config, st dialtone.Store) error {
				pw, err := readPassword(cmd.InOrStdin(), password)
				if err != nil {
					return err
				}
				md5, sha := unusedHashes(args[0], cfg.SIP.Realm)
				a := &dialtone.Account{
					Username:  args[0],
					Realm:     cfg.SIP.Realm,
					HA1MD5:    md5,
					HA1SHA256: sha,
					Country:   strings.ToUpper(country),
					Currency:  strings.ToUpper(currency),
					RatePlan:  plan,
					Status:    dialtone.AccountActive,
				}
				if err := checkPlan(cmd.Context(), st, plan, a.Currency); err != nil {
					return err
				}
				if callerID != "" {
					if a.CallerID, err = trunks.VerifiedNumber(callerID, a.Country); err != nil {
						return err
					}
				}
				if err := st.CreateAccount(cmd.Context(), a); err != nil {
					return err // the store names the account
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created account %s (id %d, %s, %s)\n", a.Username, a.ID, a.Country, a.Currency)
				if plan == "" && cfg.Billing.DefaultPlan == "" && cfg.Billing.Unbilled != billing.UnbilledAllow {
					fmt.Fprintf(cmd.ErrOrStderr(), "note: %s has no rate plan and billing.default_plan is empty: its calls are refused until it has one (dialtone account plan %s PLAN)\n",
						a.Username, a.Username)
				}
				return setPasswords(cmd, st, cfg, a, pw, sipOnly, apiOnly)
			})
		},
	}
	create.Flags().StringVar(&country, "country", "US", "ISO 3166 country used to read national numbers")
	create.Flags().StringVar(&currency, "currency", "USD", "ISO 4217 currency")
	create.Flags().StringVar(&password, "password", "", "password (prefer DIALTONE_PASSWORD or standard input)")
	create.Flags().StringVar(&plan, "plan", "", "sell rate plan that prices the account's calls (empty: billing.default_plan)")
	create.Flags().StringVar(&callerID, "caller-id", "", "the account's verified number, the only one its calls may present (read in --country)")
	create.Flags().BoolVar(&sipOnly, "sip", false, "set the SIP password only (the device named as the account)")
	create.Flags().BoolVar(&apiOnly, "api", false, "set the API password only")
	create.MarkFlagsMutuallyExclusive("sip", "api")

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
				fmt.Fprintf(w, "id\t%d\nusername\t%s\nstatus\t%s\ncountry\t%s\ncurrency\t%s\nrate plan\t%s\ncaller id\t%s\nrealm\t%s\ncreated\t%s\nupdated\t%s\n",
					a.ID, a.Username, a.Status, a.Country, a.Currency, orNone(a.RatePlan), orNone(a.CallerID), a.Realm,
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
				fmt.Fprintln(w, "ID\tUSERNAME\tSTATUS\tCOUNTRY\tCURRENCY\tPLAN\tCALLER ID")
				for _, a := range as {
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Username, a.Status, a.Country, a.Currency, orNone(a.RatePlan), orNone(a.CallerID))
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
		Short: "Set an account's API and SIP password (from --password, DIALTONE_PASSWORD or standard input)",
		Long: `Set an account's password for the companion API and for SIP (the device named
USERNAME, made when missing); --api or --sip sets only one of them. Other
devices keep their own passwords: see dialtone device.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), load, func(cfg *Config, st dialtone.Store) error {
				pw, err := readPassword(cmd.InOrStdin(), password)
				if err != nil {
					return err
				}
				a, err := st.AccountByUsername(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return setPasswords(cmd, st, cfg, a, pw, sipOnly, apiOnly)
			})
		},
	}
	passwd.Flags().StringVar(&password, "password", "", "password (prefer DIALTONE_PASSWORD or standard input)")
	passwd.Flags().BoolVar(&sipOnly, "sip", false, "set the SIP password only (the device named as the account)")
	passwd.Flags().BoolVar(&apiOnly, "api", false, "set the API password only")
	passwd.MarkFlagsMutuallyExclusive("sip", "api")

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

	setCallerID := &cobra.Command{
		Use:   "callerid USERNAME NUMBER",
		Short: "Set an account's verified number, the only one its calls may present and what carriers are told (\"\" for none)",
		Long: `Set an account's verified caller number. NUMBER is read in the account's
country (+, 00 and national forms) and stored in E.164; it must be a valid
number. Calls whose From presents any other number are refused (403).
Carriers see it in From (and P-Asserted-Identity when the trunk asks),
unless the trunk fixes its own with caller_id.from. "" removes it: the
account's calls then go out anonymous.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				a, err := st.AccountByUsername(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				number := ""
				if args[1] != "" {
					if number, err = trunks.VerifiedNumber(args[1], a.Country); err != nil {
						return err
					}
				}
				if _, err := st.UpdateAccount(cmd.Context(), args[0], dialtone.AccountUpdate{CallerID: &number}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "account %s presents %s\n", args[0], orNone(number))
				return nil
			})
		},
	}

	cmd.AddCommand(create, show, list, setPlan, setCallerID, newLimitsCmd(load),
		setStatus("disable", "Disable an account: it can no longer register or call", dialtone.AccountDisabled),
		setStatus("enable", "Enable a disabled account", dialtone.AccountActive),
		passwd)
	return cmd
}

// setPasswords sets a's API password and the SIP password of its device
// named as the account, or only one of them.
func setPasswords(cmd *cobra.Command, st dialtone.Store, cfg *Config, a *dialtone.Account, pw string, sipOnly, apiOnly bool) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	if !apiOnly {
		if err := (devices{st: st, realm: cfg.SIP.Realm}).setSIPPassword(ctx, a, pw); err != nil {
			return fmt.Errorf("SIP password of %s: %w", a.Username, err)
		}
		fmt.Fprintf(out, "SIP password of %s set (device %s)\n", a.Username, a.Username)
	}
	if !sipOnly {
		if err := setAPIPassword(ctx, st, a, pw); err != nil {
			return fmt.Errorf("API password of %s: %w", a.Username, err)
		}
		fmt.Fprintf(out, "API password of %s set\n", a.Username)
	}
	return nil
}

// unusedHashes are digest hashes for an account's own columns, of a random
// password: the switch checks devices and app credentials, not these.
func unusedHashes(username, realm string) (md5, sha string) {
	pw := randomHex(16)
	return digest.HA1(digest.MD5, username, realm, pw), digest.HA1(digest.SHA256, username, realm, pw)
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

// apiAccounts creates accounts for the companion API's sign-up. The API
// password (set by the API, bcrypt) signs in to the API only: the account
// gets no device, and SIP signs in with the app credentials the API issues
// or with devices the user adds. The account's own digest hashes, which
// the switch no longer checks, are of a random password.
type apiAccounts struct {
	st    dialtone.Store
	realm string
}

func (a apiAccounts) Create(ctx context.Context, username, _, country, currency string) (*dialtone.Account, error) {
	md5, sha := unusedHashes(username, a.realm)
	acct := &dialtone.Account{
		Username: username, Realm: a.realm, HA1MD5: md5, HA1SHA256: sha,
		Country: country, Currency: currency, Status: dialtone.AccountActive,
	}
	if err := a.st.CreateAccount(ctx, acct); err != nil {
		return nil, err
	}
	return acct, nil
}
