package api_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/agentd-dev/agentd/adapters/catalog"
	"github.com/agentd-dev/agentd/adapters/mock"
	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/session"
)

// stepInstaller reports a fixed series of steps, then fails for amp.
type stepInstaller struct{}

func (stepInstaller) Installable(string) bool { return true }
func (stepInstaller) Install(_ context.Context, agent, _ string, _ bool, progress func(session.InstallProgress)) error {
	for _, p := range []session.InstallProgress{
		{Phase: "resolving", Total: -1},
		{Phase: "downloading", Package: "pkg", Version: "1.0.0", Downloaded: 10, Total: 30},
		{Phase: "downloading", Package: "pkg", Version: "1.0.0", Downloaded: 30, Total: 30},
		{Phase: "extracting", Package: "pkg", Version: "1.0.0", Downloaded: 30, Total: 30},
	} {
		progress(p)
	}
	if agent == "amp" {
		return errors.New("integrity mismatch for pkg")
	}
	progress(session.InstallProgress{Phase: "done", Package: "pkg", Version: "1.0.0", Total: -1})
	return nil
}

// frames reads an SSE response into "event: data" lines.
func frames(t *testing.T, res *http.Response) []string {
	t.Helper()
	defer res.Body.Close()
	var out []string
	event := ""
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			out = append(out, event+" "+strings.TrimPrefix(line, "data: "))
		}
	}
	return out
}

func TestInstallStream(t *testing.T) {
	ts := newTestServer(t, func(d *api.Deps) {
		log, err := eventlog.Open(context.Background(), t.TempDir(), eventlog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		m, err := session.New(context.Background(), log, catalog.Agents(mock.New()), session.WithInstaller(stepInstaller{}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Shutdown(context.Background()); log.Close() })
		d.Sessions, d.Log = m, log
	})
	post := func(agent string) *http.Response {
		t.Helper()
		res, err := ts.Client.Post(ts.URL+"/v1/agents/"+agent+"/install/stream", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	res := post("codex")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	got := frames(t, res)
	// Every phase arrives, in order; a slow reader may see fewer download
	// steps, so repeats are folded.
	var phases []string
	for _, f := range got {
		if p, ok := strings.CutPrefix(f, `progress {"phase":"`); ok {
			p = p[:strings.IndexByte(p, '"')]
			if len(phases) == 0 || phases[len(phases)-1] != p {
				phases = append(phases, p)
			}
		}
	}
	if strings.Join(phases, ",") != "resolving,downloading,extracting,done" || !strings.HasPrefix(got[len(got)-1], `done {"agent":{"id":"codex"`) {
		t.Fatalf("frames %q", got)
	}

	got = frames(t, post("amp"))
	last := got[len(got)-1]
	if !strings.HasPrefix(last, "error ") || !strings.Contains(last, `"status":500`) || !strings.Contains(last, "integrity mismatch") {
		t.Fatalf("failed install ended with %q", last)
	}

	res = post("nope")
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Fatalf("unknown agent: status %d", res.StatusCode)
	}
}
