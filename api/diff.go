package api

import (
	"context"
	"errors"
	"net/http"
	"os"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/gitdiff"
)

// DiffResponse is what changed in a session's working directory.
type DiffResponse struct {
	Directory string `json:"directory" doc:"The session's working directory"`
	gitdiff.Result
}

func (s *server) registerDiff(a huma.API) {
	huma.Register(a, huma.Operation{
		OperationID: "get_session_diff", Method: http.MethodGet, Path: "/v1/sessions/{session_id}/diff", Tags: []string{"sessions"},
		Summary: "Session Diff",
		Description: "Additive: what changed in the git work tree holding the session's directory since its last commit — " +
			"tracked changes, renames and new untracked files (ignored files excluded) — as a file list with line counts and " +
			"a unified diff. The repository is only read: its index and objects are left untouched. " +
			"`repository` is false when the directory is not in a git work tree.",
		Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *struct {
		SessionPathParam
		Patch bool `query:"patch" default:"true" doc:"Include the unified diff (cut at 4 MiB, then truncated is true)"`
	}) (*struct{ Body DiffResponse }, error) {
		res, err := s.sessionDiff(ctx, in.SessionID, !in.Patch)
		if err != nil {
			return nil, problem(ctx, s.Logger, err)
		}
		return &struct{ Body DiffResponse }{Body: res}, nil
	})
}

func (s *server) sessionDiff(ctx context.Context, id string, noPatch bool) (DiffResponse, error) {
	sess, err := s.Sessions.Get(id)
	if err != nil {
		return DiffResponse{}, err
	}
	dir := ""
	if d := sess.Info().Directory; d != nil {
		dir = *d
	}
	if dir == "" {
		// Agents run where the daemon runs when no directory was given.
		if dir, err = os.Getwd(); err != nil {
			return DiffResponse{}, err
		}
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return DiffResponse{}, apierr.New(apierr.InvalidRequest, "the session's directory no longer exists: %s", dir)
	}
	res, err := gitdiff.Diff(ctx, dir, gitdiff.Options{NoPatch: noPatch})
	if errors.Is(err, gitdiff.ErrNoGit) {
		return DiffResponse{}, huma.Error503ServiceUnavailable("git is not installed where agentd runs")
	}
	return DiffResponse{Directory: dir, Result: res}, err
}
