package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dialtone/dialtone/trunks"
)

// adminURL is where a running switch's admin listener answers.
func adminURL(cfg *Config, path string) string {
	host, port, _ := net.SplitHostPort(cfg.HTTP.Listen)
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path
}

var adminClient = &http.Client{Timeout: 10 * time.Second}

// adminGet reads the JSON at path of the running switch's admin listener into v.
func adminGet(cfg *Config, path string, v any) error {
	res, err := adminClient.Get(adminURL(cfg, path))
	if err != nil {
		return fmt.Errorf("is the switch running? %w", err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

func newTrunksCmd(load func() (*Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "trunks", Short: "Carrier trunks of the running switch"}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Show each carrier: up or down and why, channels in use, limits",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			var ts []trunks.Status
			if err := adminGet(cfg, "/admin/trunks", &ts); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TRUNK\tADDRESS\tSTATE\tSINCE\tCHANNELS\tMAX CPS\tREASON\tREGISTRATION")
			for _, t := range ts {
				state, max, cps := "up", "unlimited", "unlimited"
				if !t.Up {
					state = "down"
				}
				if t.MaxChannels > 0 {
					max = fmt.Sprint(t.MaxChannels)
				}
				if t.MaxCPS > 0 {
					cps = fmt.Sprintf("%g", t.MaxCPS)
				}
				fmt.Fprintf(w, "%s\t%s/%s\t%s\t%s\t%d/%s\t%s\t%s\t%s\n", t.Name, t.Address, t.Transport, state, t.Since.Format(time.RFC3339), t.Channels, max, cps, orDash(t.Reason), orDash(t.Register))
			}
			return w.Flush()
		},
	})
	return cmd
}

func newReloadCmd(load func() (*Config, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "reload",
		Short: "Make the running switch re-read its trunks and routes (as SIGHUP does); calls in progress stay up",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return fmt.Errorf("the file does not validate, nothing sent: %w", err)
			}
			res, err := adminClient.Post(adminURL(cfg, "/admin/reload"), "text/plain", nil)
			if err != nil {
				return fmt.Errorf("is the switch running? %w", err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("reload refused: %s", body)
			}
			fmt.Fprint(cmd.OutOrStdout(), string(body))
			return nil
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
