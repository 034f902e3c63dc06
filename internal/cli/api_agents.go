package cli

import (
	"github.com/spf13/cobra"
)

// newAPIAgentsCmd is `agentd api agents`.
func newAPIAgentsCmd(f *apiFactory) *cobra.Command {
	cmd := apiGroup("agents", "List agents, install them and show their modes and models", "")
	cmd.AddCommand(newAPIAgentsListCmd(f, nil), newAPIAgentsInstallCmd(f, nil),
		newAPIAgentsModesCmd(f, nil), newAPIAgentsModelsCmd(f, nil))
	return cmd
}

// knownAgents are the agent ids the API lists; they complete <agent>.
var knownAgents = []string{"claude", "codex", "opencode", "amp", "pi", "cursor", "mock"}

// completeAgent completes the first argument with an agent id.
func completeAgent(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return knownAgents, cobra.ShellCompDirectiveNoFileComp
}
