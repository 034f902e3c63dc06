package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/internal/install"
)

type installAgentOptions struct {
	IO
	Agent     string
	Version   string
	Reinstall bool
	DataDir   string
}

// newInstallAgentCmd is the reference's `install-agent`: it installs into
// the same data dir the daemon uses, so a later session finds the agent.
func newInstallAgentCmd(streams IO, runF func(context.Context, *installAgentOptions) error) *cobra.Command {
	opts := &installAgentOptions{IO: streams}
	cmd := &cobra.Command{
		Use:   "install-agent <agent>",
		Short: "Install a coding agent (claude, codex, opencode, amp) from the npm registry",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("install-agent takes one agent name, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			opts.Agent = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runInstallAgent(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Version, "version", "", "version to install (default: the tested pin, or AGENTD_<AGENT>_VERSION; \"latest\" allowed)")
	f.BoolVar(&opts.Reinstall, "reinstall", false, "replace an existing install")
	f.StringVar(&opts.DataDir, "data-dir", defaultDataDir(), "the daemon's data dir; installs go under agents/")
	return cmd
}

func runInstallAgent(ctx context.Context, opts *installAgentOptions) error {
	inst, err := install.New(install.Config{DataDir: opts.DataDir})
	if err != nil {
		return err
	}
	defer inst.Wait()
	progress := newProgressPrinter(opts.Err, isTerminal(opts.Err))
	bin, err := inst.Install(ctx, opts.Agent, opts.Version, opts.Reinstall, progress.report)
	progress.done()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.Out, "%s %s installed at %s\n", bin.Agent, bin.Version, bin.Path)
	return err
}

// progressPrinter shows an install's progress: a line redrawn in place on a
// terminal, one line per phase otherwise (logs, CI).
type progressPrinter struct {
	w         io.Writer
	tty       bool
	lastPhase install.Phase
	lastPct   int64
}

func newProgressPrinter(w io.Writer, tty bool) *progressPrinter {
	return &progressPrinter{w: w, tty: tty, lastPct: -1}
}

func (p *progressPrinter) report(pr install.Progress) {
	pct := int64(-1)
	if pr.Total > 0 {
		pct = pr.Downloaded * 100 / pr.Total
	}
	if pr.Phase == p.lastPhase && (!p.tty || pct == p.lastPct) {
		return
	}
	p.lastPhase, p.lastPct = pr.Phase, pct
	line := fmt.Sprintf("%s %s: %s", pr.Agent, pr.Version, pr.Phase)
	if pct >= 0 && pr.Phase == install.PhaseDownloading {
		line += fmt.Sprintf(" %3d%% of %.1f MB", pct, float64(pr.Total)/1e6)
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		return
	}
	fmt.Fprintln(p.w, line)
}

func (p *progressPrinter) done() {
	if p.tty && p.lastPhase != "" {
		fmt.Fprintln(p.w)
	}
}
