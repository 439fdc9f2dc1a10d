package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dialtone/dialtone"
)

func newDeviceCmd(load func() (*Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "device", Short: "Add, list and revoke the SIP credentials of an account's phones and PBXs"}

	var name, username string
	add := &cobra.Command{
		Use:   "add ACCOUNT",
		Short: "Add a device: SIP credentials with a random password, shown once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), load, func(cfg *Config, st dialtone.Store) error {
				a, err := st.AccountByUsername(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				d, pw, err := (devices{st: st, realm: cfg.SIP.Realm}).newDevice(cmd.Context(), a, name, username, "")
				if err != nil {
					return fmt.Errorf("add device to %s: %w", a.Username, err)
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintf(w, "device\t%d\nname\t%s\nusername\t%s\npassword\t%s\nrealm\t%s\n", d.ID, d.Name, d.Username, pw, d.Realm)
				fmt.Fprintln(w, "The password is not kept: note it now.")
				return w.Flush()
			})
		},
	}
	add.Flags().StringVar(&name, "name", "device", "a label, e.g. \"desk phone\"")
	add.Flags().StringVar(&username, "username", "", "SIP username (default: ACCOUNT.xxxxxx, random)")

	list := &cobra.Command{
		Use:   "list ACCOUNT",
		Short: "List an account's devices, where and when each last signed in, and which are revoked",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				a, err := st.AccountByUsername(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				ds, err := st.Devices(cmd.Context(), a.ID)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tUSERNAME\tNAME\tCREATED\tLAST SEEN\tFROM\tREVOKED")
				for _, d := range ds {
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Username, d.Name, when(d.CreatedAt), when(d.LastSeenAt), orNone(d.LastSeenAddr), when(d.RevokedAt))
				}
				return w.Flush()
			})
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ACCOUNT DEVICE",
		Short: "Revoke a device (by ID or username): the switch refuses it from its next request",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				a, err := st.AccountByUsername(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				// A username first (a PBX's may be all digits), else an ID.
				var id int64
				if d, err := st.DeviceByUsername(cmd.Context(), args[1]); err == nil && d.AccountID == a.ID {
					id = d.ID
				} else if id, err = strconv.ParseInt(args[1], 10, 64); err != nil {
					return fmt.Errorf("device %q of %s: %w", args[1], a.Username, dialtone.ErrNotFound)
				}
				d, err := st.RevokeDevice(cmd.Context(), a.ID, id, time.Now())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "device %d (%s) of %s revoked at %s\n", d.ID, d.Username, a.Username, when(d.RevokedAt))
				return nil
			})
		},
	}
	cmd.AddCommand(add, list, revoke)
	return cmd
}

// when is a time for a table: UTC to the second, or "-" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
