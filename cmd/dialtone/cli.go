package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The command line's conventions, applied to the whole tree at once so
// that every command, present and future, follows them:
//   - wrong arguments or flags print the command's usage and exit 2;
//   - an unknown subcommand is an error (exit 2), not the group's help;
//   - a negative number is an argument, not a flag ("wallet topup demo -5"
//     reaches the command, which says what is wrong with it);
//   - errors are printed once, by main; usage only for usage errors.

// usageError is a mistake in how a command was called: main prints the
// command's usage after it and exits 2.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// applyConventions sets the conventions on root and every command under it.
func applyConventions(root *cobra.Command) {
	root.SilenceUsage, root.SilenceErrors = true, true
	root.SetHelpCommand(helpCommand())
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{cmd, err}
	})
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() && !c.Runnable() {
			// A group: alone it shows its help; with anything else it is
			// an unknown subcommand.
			c.Args = unknownSubcommand
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
		if check := c.Args; check != nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := check(cmd, args); err != nil {
					var ue usageError
					if errors.As(err, &ue) {
						return err
					}
					return usageError{cmd, fmt.Errorf("%s: %w", strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" "), err)}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// helpCommand is `dialtone help [COMMAND...]`: the command's help, or a
// usage error for a command that does not exist (cobra's own help prints
// the root's help and succeeds).
func helpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || cmd == nil || len(rest) > 0 {
				return usageError{c, fmt.Errorf("help: unknown command %q", strings.Join(args, " "))}
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	}
}

// unknownSubcommand refuses any argument of a group command, suggesting
// the nearest subcommand.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, which SuggestionsFor does not apply
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
	}
	return usageError{cmd, errors.New(msg)}
}

// execute runs root on args and prints what went wrong: the error, and
// the usage after a usage error. It returns the process's exit status.
func execute(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(negativesAsArgs(root, args))
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "dialtone:", err)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprint(stderr, "\n", ue.cmd.UsageString())
		return 2
	}
	var ee exitError
	if errors.As(err, &ee) {
		return int(ee)
	}
	return 1
}

// negativeNumber is an argument such as -5 or -0.99.
var negativeNumber = regexp.MustCompile(`^-[0-9]+(\.[0-9]*)?$`)

// negativesAsArgs moves negative numbers that are arguments, not flag
// values, behind a "--" (with the arguments after them, in order), so
// that the flag parser passes them on instead of reading "-5" as the
// shorthand flags 5. Flags stay in front; a command line that has its
// own "--" is left as it is.
func negativesAsArgs(root *cobra.Command, args []string) []string {
	if slices.Contains(args, "--") {
		return args
	}
	cmd, _, err := root.Find(args)
	if err != nil {
		return args
	}
	lookup := func(tok string) *pflag.Flag {
		name, _, hasValue := strings.Cut(strings.TrimLeft(tok, "-"), "=")
		if hasValue {
			return nil // --flag=value carries its own
		}
		for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.InheritedFlags()} {
			var f *pflag.Flag
			if strings.HasPrefix(tok, "--") {
				f = fs.Lookup(name)
			} else if len(name) == 1 {
				f = fs.ShorthandLookup(name)
			}
			if f != nil {
				return f
			}
		}
		return nil
	}
	var front, back []string
	moving := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case negativeNumber.MatchString(a):
			moving = true
			back = append(back, a)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			front = append(front, a)
			if f := lookup(a); f != nil && f.NoOptDefVal == "" && i+1 < len(args) {
				i++
				front = append(front, args[i]) // the flag's value, even "-5"
			}
		case moving:
			back = append(back, a)
		default:
			front = append(front, a)
		}
	}
	if !moving {
		return args
	}
	return append(append(front, "--"), back...)
}
