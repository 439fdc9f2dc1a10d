package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dialtone/dialtone"
)

// newRegistrationsCmd is `dialtone registrations [USERNAME]`: the devices
// registered on every node of the store, and the node that holds each one.
func newRegistrationsCmd(load func() (*Config, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "registrations [USERNAME]",
		Short: "List the devices registered on every node: username, contact, source, transport, node, expiry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			user := ""
			if len(args) == 1 {
				user = args[0]
			}
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				rs, err := st.Registrations(cmd.Context(), user, time.Now())
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "USERNAME\tCONTACT\tSOURCE\tTRANSPORT\tNODE\tEXPIRES")
				for _, r := range rs {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Username, r.Contact, r.Source, r.Transport, r.Node, r.Expires.Format(time.RFC3339))
				}
				return w.Flush()
			})
		},
	}
}
