package amp

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/internal/adaptertest"
	"github.com/agentd-dev/agentd/schema"
)

// ampBinary finds the real amp ($AGENTD_AMP_BIN, PATH or agentd's npm
// cache), or skips.
func ampBinary(t *testing.T) string {
	return adaptertest.Binary(t, "amp", "npm install --prefix ~/.cache/agentd/npm @ampcode/cli-linux-x64@0.0.1790142911-g7618fb, or set AGENTD_AMP_BIN", DefaultResolver)
}

// closedURL is a loopback URL nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr + "/"
}

// TestRealAmpOffline runs the real amp with the adapter's exact command
// lines, for a new thread and a continued one. Its service cannot be
// reached offline, so each process fails; what this proves is that amp
// accepts every flag the adapter passes (an unknown one fails with
// "unknown option" before any connection), that it reads the key from the
// environment (without one it would wait for a login code, not try to
// connect), and that its failure ends the session with its stderr.
func TestRealAmpOffline(t *testing.T) {
	bin := ampBinary(t)
	for _, thread := range []string{"", "T-12345678-0000-0000-0000-000000000000"} {
		t.Run("thread="+thread, func(t *testing.T) {
			t.Parallel() // each mostly waits for amp to give up on the network
			a := New(WithResolver(func(context.Context) (string, error) { return bin, nil }),
				WithEnv("HOME="+t.TempDir(), "AMP_API_KEY=offline-test", "AMP_URL="+closedURL(t)))
			info := a.Info(t.Context())
			if !info.Installed || info.Path != bin || strings.Contains(info.Version, "(") || !info.CredentialsAvailable {
				t.Errorf("info %+v", info)
			}
			if info.Version == "" {
				// --version has 10 s; a heavily loaded machine may not start
				// the 100 MB binary in time.
				t.Logf("amp --version gave nothing in time; version not checked")
			}
			c := newCollector()
			req := adapters.StartRequest{SessionID: "s", Directory: t.TempDir(), PermissionMode: "bypass"}
			var s adapters.Session
			var err error
			if thread == "" {
				s, err = a.Start(t.Context(), req, c)
			} else {
				s, err = a.Resume(t.Context(), req, thread, c)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Stop(context.Background()) })
			send(t, s, "hello")
			evs := c.WaitFor(t, t.Context(), "session.ended", 1, adaptertest.IsType(schema.EventSessionEnded))
			end := evs[len(evs)-1].Data.(schema.SessionEndedData)
			if end.Stderr == nil || end.Stderr.Head == nil {
				t.Fatalf("session.ended without stderr: %+v", end)
			}
			stderr := *end.Stderr.Head
			if strings.Contains(stderr, "unknown option") || !strings.Contains(strings.ToLower(stderr), "amp server") {
				t.Errorf("amp did not fail on the connection: %q", stderr)
			}
			if *end.ExitCode == 0 || end.Reason != schema.EndError {
				t.Errorf("session.ended %+v", end)
			}
		})
	}
}
