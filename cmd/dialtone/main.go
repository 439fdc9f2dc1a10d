// Command dialtone is the app-to-phone softswitch: one binary whose
// subcommands serve calls, migrate the store and manage accounts.
//
// This is the only package that builds the real parts and wires them
// together; every other package declares what it needs.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	status := execute(ctx, newRootCmd(), os.Args[1:], os.Stderr)
	stop()
	os.Exit(status)
}

type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func newRootCmd() *cobra.Command {
	var configPath string
	root := &cobra.Command{
		Use:           "dialtone",
		Short:         "Dialtone: an app-to-phone softswitch",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&configPath, "config", "c", envOr("DIALTONE_CONFIG", "configs/dialtone.yaml"), "configuration file (env DIALTONE_CONFIG)")
	load := func() (*Config, error) { return LoadConfig(configPath) }
	root.AddCommand(
		newServeCmd(load),
		newMigrateCmd(load),
		newAccountCmd(load),
		newDeviceCmd(load),
		newRatesCmd(load),
		newWalletCmd(load),
		newBundleCmd(load),
		newLedgerCmd(load),
		newCDRCmd(load),
		newTrunksCmd(load),
		newGuardCmd(load),
		newReloadCmd(load),
		newCarrierSimCmd(),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintln(cmd.OutOrStdout(), "dialtone", version)
			},
		},
	)
	applyConventions(root) // last: it covers every command added above
	return root
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
