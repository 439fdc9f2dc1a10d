package main

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dialtone/dialtone/switch/guard"
)

func newGuardCmd(load func() (*Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "guard", Short: "Sources the running switch has banned (password guessing, floods)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "bans",
		Short: "List the bans in force: address, reason, since, until, failures",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			var bans []guard.Ban
			if err := adminGet(cfg, "/admin/guard/bans", &bans); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ADDRESS\tREASON\tSINCE\tUNTIL\tFAILURES\tBAN")
			for _, b := range bans {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\n", b.Addr, b.Reason, b.Since.Format(time.RFC3339), b.Until.Format(time.RFC3339), b.Failures, b.Count)
			}
			return w.Flush()
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "unban ADDR",
		Short: "Lift the ban of an address and forget its failures",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := netip.ParseAddr(args[0])
			if err != nil {
				return fmt.Errorf("unban: %q is not an IP address", args[0])
			}
			cfg, err := load()
			if err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodDelete, adminURL(cfg, "/admin/guard/bans/"+a.String()), nil)
			if err != nil {
				return fmt.Errorf("unban %s: %w", a, err)
			}
			res, err := adminClient.Do(req)
			if err != nil {
				return fmt.Errorf("is the switch running? %w", err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("unban %s refused: %s", a, body)
			}
			fmt.Fprint(cmd.OutOrStdout(), string(body))
			return nil
		},
	})
	return cmd
}
