package cliagent

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/agentproc"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/schema"
)

func TestResolve(t *testing.T) {
	for name, tc := range map[string]struct {
		path    string
		err     error
		wantErr string
	}{
		"found":         {path: "/bin/x"},
		"not installed": {err: adapters.ErrNotInstalled, wantErr: adapters.ErrNotInstalled.Error()},
		"other failure": {err: errors.New("no cache"), wantErr: adapters.ErrNotInstalled.Error() + ": no cache"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Resolve(t.Context(), func(context.Context) (string, error) { return tc.path, tc.err })
			if tc.err == nil {
				if err != nil || got != tc.path {
					t.Fatalf("Resolve = %q, %v", got, err)
				}
				return
			}
			if !errors.Is(err, adapters.ErrNotInstalled) || got != "" || err.Error() != tc.wantErr {
				t.Fatalf("Resolve = %q, %v; want %q wrapping ErrNotInstalled", got, err, tc.wantErr)
			}
		})
	}
}

func TestDirectory(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{{dir, dir}, {"", wd}} {
		if got, err := Directory("x", tc.in); err != nil || got != tc.want {
			t.Errorf("Directory(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{file, filepath.Join(dir, "missing")} {
		_, err := Directory("x", bad)
		var p *apierr.Error
		if !errors.As(err, &p) || p.Kind != apierr.InvalidRequest {
			t.Errorf("Directory(%q) = %v; want an InvalidRequest problem", bad, err)
		}
	}
}

func TestExitMessage(t *testing.T) {
	if got := ExitMessage("claude", 1, ""); got != "claude exited unexpectedly with exit code 1" {
		t.Errorf("exit code: %q", got)
	}
	if got := ExitMessage("opencode server", -1, "SIGKILL"); got != "opencode server was killed by signal (SIGKILL)" {
		t.Errorf("signal: %q", got)
	}
}

func TestExitReport(t *testing.T) {
	for _, truncated := range []bool{false, true} {
		r := ExitReport{Message: "gone", Exit: agentproc.Exit{Code: 3}, Code: "process_exit", By: schema.ByAgent, NativeSessionID: "n1",
			Stderr: agentproc.Report{Head: "head", Tail: "tail", Truncated: truncated, TotalLines: 9}}
		evs := r.Events()
		if len(evs) != 2 || evs[0].Type != schema.EventError || evs[1].Type != schema.EventSessionEnded {
			t.Fatalf("events %+v", evs)
		}
		e := evs[0].Data.(schema.ErrorData)
		var details map[string]any
		if err := json.Unmarshal(e.Details, &details); err != nil || details["exitCode"] != 3.0 || details["signal"] != "" {
			t.Errorf("details %s (%v)", e.Details, err)
		}
		if e.Message != "gone" || *e.Code != "process_exit" || !evs[0].Synthetic || evs[0].NativeSessionID != "n1" {
			t.Errorf("error event %+v %+v", evs[0], e)
		}
		end := evs[1].Data.(schema.SessionEndedData)
		if end.Reason != schema.EndError || end.TerminatedBy != schema.ByAgent || *end.Message != "gone" || *end.ExitCode != 3 ||
			*end.Stderr.Head != "head" || *end.Stderr.TotalLines != 9 || end.Stderr.Truncated != truncated || (end.Stderr.Tail != nil) != truncated {
			t.Errorf("truncated %v: session.ended %+v stderr %+v", truncated, end, end.Stderr)
		}
	}
}
