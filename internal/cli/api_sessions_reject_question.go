package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

type apiSessionsRejectQuestionOptions struct {
	*apiFactory
	SessionID  string
	QuestionID string
}

func newAPISessionsRejectQuestionCmd(f *apiFactory, runF func(context.Context, *apiSessionsRejectQuestionOptions) error) *cobra.Command {
	opts := &apiSessionsRejectQuestionOptions{apiFactory: f}
	return &cobra.Command{
		Use:               "reject-question <session-id> <question-id>",
		Short:             "Decline to answer a question (POST /v1/sessions/{session_id}/questions/{question_id}/reject)",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeSession(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.SessionID, opts.QuestionID = args[0], args[1]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPISessionsRejectQuestion(cmd.Context(), opts)
		},
	}
}

func runAPISessionsRejectQuestion(ctx context.Context, opts *apiSessionsRejectQuestionOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.RejectQuestionWithResponse(ctx, opts.SessionID, opts.QuestionID)
	if err := opts.check(res, err, http.StatusNoContent); err != nil {
		return err
	}
	if opts.wantJSON() {
		return nil
	}
	_, err = fmt.Fprintf(opts.Out, "rejected %s\n", opts.QuestionID)
	return err
}
