package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

type apiAgentsInstallOptions struct {
	*apiFactory
	Agent     string
	Reinstall bool
}

func newAPIAgentsInstallCmd(f *apiFactory, runF func(context.Context, *apiAgentsInstallOptions) error) *cobra.Command {
	opts := &apiAgentsInstallOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:               "install <agent>",
		Short:             "Install or update an agent (POST /v1/agents/{agent}/install)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeAgent,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Agent = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIAgentsInstall(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Reinstall, "reinstall", false, "install again even if the agent is installed")
	return cmd
}

func runAPIAgentsInstall(ctx context.Context, opts *apiAgentsInstallOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	body := client.AgentInstallRequest{}
	if opts.Reinstall {
		body.Reinstall = &opts.Reinstall
	}
	res, err := c.InstallAgentWithResponse(ctx, opts.Agent, body)
	if err := opts.check(res, err, http.StatusNoContent); err != nil {
		return err
	}
	if opts.wantJSON() {
		return nil // 204: nothing to print; the exit code says it worked
	}
	_, err = fmt.Fprintf(opts.Out, "%s is installed\n", opts.Agent)
	return err
}
