package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/agentd-dev/agentd/internal/install"
)

func TestInstallAgentFlags(t *testing.T) {
	tests := []struct {
		args    []string
		want    installAgentOptions
		wantErr bool
	}{
		{args: []string{"claude"}, want: installAgentOptions{Agent: "claude"}},
		{args: []string{"codex", "--version", "latest", "--reinstall", "--data-dir", "/d"},
			want: installAgentOptions{Agent: "codex", Version: "latest", Reinstall: true, DataDir: "/d"}},
		{args: []string{}, wantErr: true},
		{args: []string{"a", "b"}, wantErr: true},
	}
	for _, tc := range tests {
		var got *installAgentOptions
		cmd := newInstallAgentCmd(IO{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, func(_ context.Context, o *installAgentOptions) error {
			got = o
			return nil
		})
		cmd.SetArgs(tc.args)
		err := cmd.Execute()
		if tc.wantErr {
			if _, ok := err.(usageError); !ok {
				t.Errorf("%v: err = %v, want a usage error", tc.args, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if tc.want.DataDir == "" {
			tc.want.DataDir = got.DataDir // the default depends on the environment
		}
		if got.Agent != tc.want.Agent || got.Version != tc.want.Version || got.Reinstall != tc.want.Reinstall || got.DataDir != tc.want.DataDir {
			t.Errorf("%v: options %+v, want %+v", tc.args, *got, tc.want)
		}
	}
}

func TestProgressPrinter(t *testing.T) {
	var plain bytes.Buffer
	p := newProgressPrinter(&plain, false)
	for _, pr := range []install.Progress{
		{Agent: "amp", Version: "1", Phase: install.PhaseResolving},
		{Agent: "amp", Version: "1", Phase: install.PhaseDownloading, Downloaded: 1, Total: 10},
		{Agent: "amp", Version: "1", Phase: install.PhaseDownloading, Downloaded: 5, Total: 10},
		{Agent: "amp", Version: "1", Phase: install.PhaseDone},
	} {
		p.report(pr)
	}
	p.done()
	// Without a terminal, one line per phase: no progress spam in logs.
	if got := strings.Count(plain.String(), "\n"); got != 3 || strings.Contains(plain.String(), "\r") {
		t.Fatalf("plain output %q", plain.String())
	}
	var tty bytes.Buffer
	p = newProgressPrinter(&tty, true)
	p.report(install.Progress{Agent: "amp", Version: "1", Phase: install.PhaseDownloading, Downloaded: 5, Total: 10})
	p.report(install.Progress{Agent: "amp", Version: "1", Phase: install.PhaseDownloading, Downloaded: 10, Total: 10})
	p.done()
	if !strings.Contains(tty.String(), "\r\033[K") || !strings.Contains(tty.String(), "100%") || !strings.HasSuffix(tty.String(), "\n") {
		t.Fatalf("terminal output %q", tty.String())
	}
}
