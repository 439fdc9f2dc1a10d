package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
)

func newCDRCmd(load func() (*Config, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "cdr", Short: "Export call detail records and summaries for finance"}
	var from, to, account, trunk, format, out string
	export := &cobra.Command{
		Use:   "export --from DATE --to DATE [--account USER] [--trunk NAME] [--format csv|jsonl] [--out FILE]",
		Short: "Stream the CDRs that ended in [from, to) as CSV or JSON lines (columns in README.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := dialtone.ParseCDRFilter(from, to, account, trunk)
			if err != nil {
				return err
			}
			fm, err := dialtone.ParseExportFormat(format)
			if err != nil {
				return err
			}
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				w, done, err := output(out, cmd.OutOrStdout())
				if err != nil {
					return err
				}
				var dst io.Writer = w
				if out != "" && isTerminal(os.Stderr) {
					bar := progressbar.DefaultBytes(-1, "exporting")
					dst = io.MultiWriter(w, bar)
					defer bar.Finish()
				}
				n, err := st.ExportCDRs(cmd.Context(), f, fm, dst)
				if err := errors.Join(err, done()); err != nil {
					return err
				}
				if out != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "exported %d CDRs to %s\n", n, out)
				}
				return nil
			})
		},
	}
	export.Flags().StringVar(&from, "from", "", "start, inclusive (YYYY-MM-DD or RFC 3339, UTC)")
	export.Flags().StringVar(&to, "to", "", "end, exclusive")
	export.Flags().StringVar(&account, "account", "", "only this account")
	export.Flags().StringVar(&trunk, "trunk", "", "only this trunk")
	export.Flags().StringVar(&format, "format", "csv", "csv or jsonl")
	export.Flags().StringVar(&out, "out", "", "file to write (default: standard output)")

	var by, chart string
	summary := &cobra.Command{
		Use:   "summary --from DATE --to DATE [--by trunk|destination|day] [--out FILE] [--chart FILE.svg|.png]",
		Short: "Per day and trunk (or destination, or day alone): calls, minutes, revenue, cost, margin, ASR, ACD",
		Long: "The CSV keeps money at full precision with its currency in the last column, like cdr export.\n" +
			"--by day is a daily series: every day of [from, to), zeros on days without calls; its --chart\n" +
			"draws revenue, cost and margin, minutes, ASR and ACD per day. --chart draws one currency.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := dialtone.ParseCDRFilter(from, to, account, trunk)
			if err != nil {
				return err
			}
			key := billing.SummaryKey(by)
			if key != billing.ByTrunk && key != billing.ByDestination && key != billing.ByDay {
				return fmt.Errorf("%w --by %q: want trunk, destination or day", dialtone.ErrInvalid, by)
			}
			if chart != "" {
				if err := checkChartPath(chart); err != nil {
					return err
				}
			}
			return withStore(cmd.Context(), load, func(_ *Config, st dialtone.Store) error {
				s := billing.NewSummary(key)
				if err := st.EachCDR(cmd.Context(), f, s.Add); err != nil {
					return err
				}
				s.FillDays(f.From, f.To)
				w, done, err := output(out, cmd.OutOrStdout())
				if err != nil {
					return err
				}
				if err := errors.Join(s.WriteCSV(w), done()); err != nil {
					return err
				}
				if chart != "" {
					if err := summaryChart(s, f.From, f.To, chart); err != nil {
						return err
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "chart written to %s\n", chart)
				}
				return nil
			})
		},
	}
	summary.Flags().StringVar(&from, "from", "", "start, inclusive (YYYY-MM-DD or RFC 3339, UTC)")
	summary.Flags().StringVar(&to, "to", "", "end, exclusive")
	summary.Flags().StringVar(&account, "account", "", "only this account")
	summary.Flags().StringVar(&trunk, "trunk", "", "only this trunk")
	summary.Flags().StringVar(&by, "by", "trunk", "trunk, destination or day")
	summary.Flags().StringVar(&out, "out", "", "CSV file to write (default: standard output)")
	summary.Flags().StringVar(&chart, "chart", "", "also draw a chart to this .svg or .png file")
	cmd.AddCommand(export, summary)
	return cmd
}

// output opens path for writing, or uses stdout when path is empty; done
// flushes and closes.
func output(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "" {
		bw := bufio.NewWriterSize(stdout, 64<<10)
		return bw, bw.Flush, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	return bw, func() error { return errors.Join(bw.Flush(), f.Close()) }, nil
}
