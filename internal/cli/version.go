package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api"
)

func newVersionCmd(streams IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print agentd's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(streams.Out, "agentd", api.Version)
			return err
		},
	}
}
