// Package cli is agentd's command tree. Each command is an options struct
// and a run function; Main maps errors to exit codes in one place.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// IO is where commands read and write; tests swap in buffers.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError marks errors in how the command was called.
type usageError struct{ error }

// Main runs the command line and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	streams := IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	cmd := newRootCmd(streams)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(streams.Err, "agentd:", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	return exitCode(err) // 1, or the api commands' 3 (API error) and 4 (network error)
}

func newRootCmd(streams IO) *cobra.Command {
	root := &cobra.Command{
		Use:           "agentd",
		Short:         "One HTTP + SSE API over every coding agent",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServerCmd(streams, nil), newOpenAPICmd(streams), newVersionCmd(streams), newDevCmd(streams))
	root.AddCommand(newAPICmd(streams))
	root.AddCommand(newInstallAgentCmd(streams, nil), newCredentialsCmd(streams))
	return root
}

// bindEnv lets every flag of cmd be set by AGENTD_<FLAG_NAME> when it was
// not given on the command line.
func bindEnv(cmd *cobra.Command) error {
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" {
			return
		}
		name := envVar(f.Name)
		v := os.Getenv(name)
		if v == "" { // set but empty counts as unset, as XDG_* does
			return
		}
		if sv, isSlice := f.Value.(pflag.SliceValue); isSlice {
			if err := sv.Replace(strings.Split(v, ",")); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, usageError{fmt.Errorf("%s=%q: %w", name, v, err)})
		}
	})
	return errors.Join(errs...)
}

// envVar is the environment variable bindEnv reads for a flag.
func envVar(flag string) string {
	return "AGENTD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// isCobraUsage recognises cobra's own usage errors, which it returns as
// plain errors: unknown commands and wrong argument counts.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command ", "accepts ", "requires ", "unknown flag", "unknown shorthand flag"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}
