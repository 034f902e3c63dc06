package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/session"
)

// daemon is agentd's engine and HTTP API in process, on a loopback port.
type daemon struct {
	url  string
	http *http.Client
}

func startDaemon(t testing.TB, agents ...adapters.Agent) *daemon {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	log, err := eventlog.Open(ctx, t.TempDir(), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.New(ctx, log, agents)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	h, _ := api.New(api.Deps{Sessions: m, Log: log, Done: done})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		close(done) // ends open streams
		srv.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		m.Shutdown(sctx)
		log.Close()
	})
	return &daemon{url: srv.URL, http: srv.Client()}
}

// call sends a JSON request and fails the test unless the status is want.
func (d *daemon) call(t testing.TB, method, path string, body any, want int) []byte {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, d.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := d.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	return b
}

// event is a universal event as the API sends it.
type event struct {
	Sequence  uint64          `json:"sequence"`
	SessionID string          `json:"session_id"`
	Type      string          `json:"type"`
	Synthetic bool            `json:"synthetic"`
	Data      json.RawMessage `json:"data"`
}

// follow reads the session's SSE stream from the start into a channel,
// until the stream or the test ends.
func (d *daemon) follow(t testing.TB, id string) <-chan event {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, d.url+"/v1/sessions/"+id+"/events/sse?offset=0", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("events/sse: status %d", res.StatusCode)
	}
	out := make(chan event, 64)
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var ev event
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Errorf("bad event %q: %v", data, err)
				return
			}
			select {
			case out <- ev:
			case <-t.Context().Done():
				return
			}
		}
	}()
	return out
}

func (ev event) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(ev.Data, v); err != nil {
		t.Fatalf("%s data %s: %v", ev.Type, ev.Data, err)
	}
}

func (ev event) String() string { return fmt.Sprintf("#%d %s %s", ev.Sequence, ev.Type, ev.Data) }
