package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/internal/fakemodel"
)

func newDevCmd(streams IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Development helpers",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newDevFakeModelCmd(streams, nil))
	return cmd
}

type devFakeModelOptions struct {
	IO
	Host         string
	Port         int
	Scenario     string
	ScenarioDirs []string
	// ready, when set, receives the base URL once the server listens (tests).
	ready func(baseURL string)
}

func newDevFakeModelCmd(streams IO, runF func(context.Context, *devFakeModelOptions) error) *cobra.Command {
	opts := &devFakeModelOptions{IO: streams}
	cmd := &cobra.Command{
		Use:   "fake-model",
		Short: "Run a scripted fake model (Anthropic Messages, OpenAI Responses and Chat Completions)",
		Long: "Run a scripted fake model server in the foreground, logging every request.\n\n" +
			"A user message containing SCN:<name> picks scenario <name>; --scenario sets the default for\n" +
			"requests without a marker. Point Claude Code at it with ANTHROPIC_BASE_URL=http://HOST:PORT,\n" +
			"Codex and OpenCode with a provider base URL of http://HOST:PORT/v1.\n\n" +
			"Built-in scenarios: " + strings.Join(fakemodel.New().Scenarios(), ", ") + ".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDevFakeModel(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Host, "host", "H", "127.0.0.1", "address to listen on")
	f.IntVarP(&opts.Port, "port", "p", 18080, "port to listen on (0 picks a free one)")
	f.StringVarP(&opts.Scenario, "scenario", "s", "", "default scenario for requests without a SCN: marker")
	f.StringSliceVar(&opts.ScenarioDirs, "scenario-dir", nil, "directory of extra scenarios as *.json files (repeatable)")
	return cmd
}

func runDevFakeModel(ctx context.Context, opts *devFakeModelOptions) error {
	if opts.Port < 0 || opts.Port > 65535 {
		return usageError{fmt.Errorf("--port %d is out of range", opts.Port)}
	}
	logger := slog.New(slog.NewTextHandler(opts.Err, nil))
	var extra []fakemodel.Scenario
	for _, dir := range opts.ScenarioDirs {
		scs, err := fakemodel.LoadScenarioDir(dir)
		if err != nil {
			return err
		}
		extra = append(extra, scs...)
	}
	srv := fakemodel.New(
		fakemodel.WithAddr(net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))),
		fakemodel.WithScenarios(extra...),
		fakemodel.WithDefaultScenario(opts.Scenario),
		fakemodel.WithOnRequest(func(r fakemodel.Request) { logger.Info(r.Line()) }),
	)
	if opts.Scenario != "" && !slices.Contains(srv.Scenarios(), opts.Scenario) {
		return usageError{fmt.Errorf("unknown scenario %q (known: %s)", opts.Scenario, strings.Join(srv.Scenarios(), ", "))}
	}
	base, err := srv.Start(ctx)
	if err != nil {
		return err
	}
	defer srv.Close()
	logger.Info("fake model listening", "url", base, "default_scenario", opts.Scenario, "scenarios", len(srv.Scenarios()))
	if opts.ready != nil {
		opts.ready(base)
	}
	<-ctx.Done()
	logger.Info("fake model stopped", "requests", len(srv.Requests()))
	return nil
}
