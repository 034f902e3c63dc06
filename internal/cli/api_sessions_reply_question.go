package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

type apiSessionsReplyQuestionOptions struct {
	*apiFactory
	SessionID  string
	QuestionID string
	// Answers is one list of selected labels per question.
	Answers [][]string
}

func newAPISessionsReplyQuestionCmd(f *apiFactory, runF func(context.Context, *apiSessionsReplyQuestionOptions) error) *cobra.Command {
	opts := &apiSessionsReplyQuestionOptions{apiFactory: f}
	var labels []string
	var answersJSON string
	cmd := &cobra.Command{
		Use:   "reply-question <session-id> <question-id> --answer <label> [--answer <label>…]",
		Short: "Answer a question (POST /v1/sessions/{session_id}/questions/{question_id}/reply)",
		Long: "Answer the agent's question with the selected option labels. Each --answer selects one label of\n" +
			"the (first) question; --answers gives one list per question as JSON instead, e.g. '[[\"Yes\"],[\"A\",\"B\"]]'.",
		Example:           "  agentd api sessions reply-question s1 mock_1_question --answer Yes",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeSession(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.SessionID, opts.QuestionID = args[0], args[1]
			switch {
			case len(labels) > 0 && answersJSON != "":
				return usageError{errors.New("--answer and --answers exclude each other")}
			case answersJSON != "":
				if err := json.Unmarshal([]byte(answersJSON), &opts.Answers); err != nil {
					return usageError{fmt.Errorf("--answers is not a JSON list of lists of labels: %w", err)}
				}
			case len(labels) > 0:
				opts.Answers = [][]string{labels}
			default:
				return usageError{errors.New("give the answer with --answer <label> (or --answers JSON)")}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPISessionsReplyQuestion(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&labels, "answer", nil, "selected option label (repeatable)")
	cmd.Flags().StringVar(&answersJSON, "answers", "", "every answer as JSON: one list of labels per question")
	return cmd
}

func runAPISessionsReplyQuestion(ctx context.Context, opts *apiSessionsReplyQuestionOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	answers := opts.Answers
	if answers == nil {
		answers = [][]string{}
	}
	res, err := c.ReplyQuestionWithResponse(ctx, opts.SessionID, opts.QuestionID, client.QuestionReplyRequest{Answers: answers})
	if err := opts.check(res, err, http.StatusNoContent); err != nil {
		return err
	}
	if opts.wantJSON() {
		return nil
	}
	_, err = fmt.Fprintf(opts.Out, "answered %s\n", opts.QuestionID)
	return err
}
