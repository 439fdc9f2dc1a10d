package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dialtone/dialtone"
)

// newLimitsCmd is `dialtone account limits USERNAME [flags]`: it shows the
// account's effective limits and, with flags, changes its own first.
func newLimitsCmd(load func() (*Config, error)) *cobra.Command {
	var concurrent, perMinute, spendHour, spendDay, maxRate, countries, types string
	var reset bool
	cmd := &cobra.Command{
		Use:   "limits USERNAME",
		Short: "Show an account's limits, or set them with flags (\"unlimited\", or \"default\" to take the configured default)",
		Example: `  dialtone account limits alice
  dialtone account limits alice --concurrent 5 --calls-per-minute 20 --spend-hour 5.00 --countries US,GB --number-types mobile,fixed
  dialtone account limits alice --max-rate unlimited --countries default
  dialtone account limits alice --reset`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), load, func(cfg *Config, st dialtone.Store) error {
				ctx := cmd.Context()
				a, err := st.AccountByUsername(ctx, args[0])
				if err != nil {
					return err
				}
				own, err := st.AccountLimits(ctx, a.ID)
				if err != nil {
					return err
				}
				f := cmd.Flags()
				changed := reset
				if reset {
					own = dialtone.Limits{}
				}
				s := own.Settings()
				for _, v := range []struct {
					flag string
					to   *dialtone.Setting
					val  string
				}{
					{"concurrent", &s.Concurrent, concurrent}, {"calls-per-minute", &s.PerMinute, perMinute},
					{"spend-hour", &s.SpendHour, spendHour}, {"spend-day", &s.SpendDay, spendDay}, {"max-rate", &s.MaxRate, maxRate},
				} {
					if f.Changed(v.flag) {
						*v.to, changed = dialtone.Setting(v.val), true
					}
				}
				if f.Changed("countries") {
					s.Countries, changed = listFlag(countries), true
				}
				if f.Changed("number-types") {
					s.NumberTypes, changed = listFlag(types), true
				}
				if changed {
					if own, err = s.Limits(false); err != nil {
						return err
					}
					if err := st.SetAccountLimits(ctx, a.ID, own); err != nil {
						return err
					}
				}
				return printLimits(cmd, a, own, own.Over(cfg.Limits.Defaults()))
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&concurrent, "concurrent", "", "calls in progress at once")
	f.StringVar(&perMinute, "calls-per-minute", "", "calls started within any 60 seconds")
	f.StringVar(&spendHour, "spend-hour", "", "money spent and held by calls within the last hour, in the account's currency")
	f.StringVar(&spendDay, "spend-day", "", "the same within the last 24 hours")
	f.StringVar(&maxRate, "max-rate", "", "the highest sell rate per minute a call may have")
	f.StringVar(&countries, "countries", "", "ISO 3166 regions a call may reach, comma-separated (001: non-geographic), * for all")
	f.StringVar(&types, "number-types", "", "number types a call may reach, comma-separated: "+dialtone.NumberTypeNames())
	f.BoolVar(&reset, "reset", false, "return every limit to the configured default (other flags then apply)")
	return cmd
}

// listFlag splits a comma-separated flag; "default" or nothing is the default.
func listFlag(v string) []string {
	if v = strings.TrimSpace(v); v == "" || v == dialtone.SettingDefault {
		return nil
	}
	return strings.Split(v, ",")
}

func printLimits(cmd *cobra.Command, a *dialtone.Account, own, eff dialtone.Limits) error {
	o, e := own.Settings(), eff.Settings()
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "limits of %s (%s)\tlimit\tset by\n", a.Username, a.Currency)
	row := func(name dialtone.Limit, own, eff string) {
		by := "account"
		if own == dialtone.SettingDefault {
			by = "default"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", name, eff, by)
	}
	row(dialtone.LimitConcurrent, string(o.Concurrent), string(e.Concurrent))
	row(dialtone.LimitPerMinute, string(o.PerMinute), string(e.PerMinute))
	row(dialtone.LimitSpendHour, string(o.SpendHour), string(e.SpendHour))
	row(dialtone.LimitSpendDay, string(o.SpendDay), string(e.SpendDay))
	row(dialtone.LimitMaxRate, string(o.MaxRate), string(e.MaxRate))
	list := func(own, eff []string) (string, string) {
		if len(own) == 0 {
			return dialtone.SettingDefault, strings.Join(eff, ",")
		}
		return strings.Join(own, ","), strings.Join(eff, ",")
	}
	oc, ec := list(o.Countries, e.Countries)
	if ec == dialtone.AnyCountry {
		ec = "* (all)"
	}
	row("countries", oc, ec)
	ot, et := list(o.NumberTypes, e.NumberTypes)
	row(dialtone.LimitNumberType+"s", ot, et)
	return w.Flush()
}
