package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api"
)

type openAPIOptions struct {
	IO
	V30 bool
}

func newOpenAPICmd(streams IO) *cobra.Command {
	opts := &openAPIOptions{IO: streams}
	cmd := &cobra.Command{
		Use:   "openapi",
		Short: "Print the OpenAPI document of the API",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return runOpenAPI(opts) },
	}
	cmd.Flags().BoolVar(&opts.V30, "3.0", false, "print the OpenAPI 3.0 form, for client generators")
	return cmd
}

func runOpenAPI(opts *openAPIOptions) error {
	doc, err := api.Document(opts.V30)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(opts.Out, string(doc))
	return err
}
