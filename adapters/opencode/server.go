package opencode

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentd-dev/agentd/internal/agentproc"
)

// maxEvent is the largest SSE event read whole; a longer one is reported
// as agent.unparsed and skipped.
const maxEvent = 64 << 20

// instance is one running `opencode serve` and the sessions on it.
type instance struct {
	proc     *agentproc.Process
	base     string // http://127.0.0.1:<port>
	password string
	client   *http.Client
	started  time.Time

	mu       sync.Mutex
	sessions map[string]*session // by OpenCode session id
	closing  bool                // Close asked for the exit: nobody is told
	dead     bool

	streamDone chan struct{} // closed when the event reader returns
	cancel     context.CancelFunc
}

// serverStartTimeout bounds how long `opencode serve` may take to listen;
// on a loaded two-core machine it was seen taking 55 s.
const serverStartTimeout = 2 * time.Minute

// startInstance runs `opencode serve` on a free loopback port, waits until
// it listens, and opens its global event stream before anyone creates a
// session on it, so that no session's first events can be missed.
func (a *Agent) startInstance(ctx context.Context, path string) (*instance, error) {
	if err := a.writeConfig(); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("opencode: free port: %w", err)
	}
	password := randomHex(16)
	proc, err := agentproc.Start(ctx, agentproc.Spec{
		Path: path, Args: []string{"serve", "--hostname", "127.0.0.1", "--port", strconv.Itoa(port)},
		Dir: a.stateDir, Env: a.environ(password),
	}, agentproc.Options{Grace: a.grace})
	if err != nil {
		return nil, fmt.Errorf("opencode: %w", err)
	}
	in := &instance{
		proc: proc, base: "http://127.0.0.1:" + strconv.Itoa(port), password: password,
		client: &http.Client{}, started: time.Now(), sessions: map[string]*session{},
		streamDone: make(chan struct{}),
	}
	fail := func(err error) (*instance, error) {
		proc.Stop(context.Background())
		_ = proc.Stdout.Close()
		rep := proc.Stderr().Report()
		return nil, fmt.Errorf("opencode serve: %w (stderr: %s)", err, strings.TrimSpace(rep.Head+rep.Tail))
	}
	if err := waitListening(ctx, proc); err != nil {
		return fail(err)
	}
	body, err := in.openEvents(ctx)
	if err != nil {
		return fail(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go in.readEvents(sctx, body)
	go a.watch(in)
	slog.Info("opencode server started", "pid", proc.Pid(), "base", in.base, "startup", time.Since(in.started).Round(time.Millisecond))
	return in, nil
}

// waitListening reads stdout until the server says it listens, then keeps
// draining it (so the server never blocks on a full pipe) until it exits.
func waitListening(ctx context.Context, proc *agentproc.Process) error {
	ready := make(chan error, 1)
	go func() {
		defer proc.Stdout.Close()
		lr := agentproc.NewLineReader(proc.Stdout, 4096)
		said := false
		for {
			line, _, err := lr.Next()
			if err != nil {
				if !said {
					ready <- errors.New("exited before listening")
				}
				return
			}
			if !said && bytes.Contains(line, []byte("listening on")) {
				said = true
				ready <- nil
			}
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, serverStartTimeout)
	defer cancel()
	select {
	case err := <-ready:
		return err
	case <-ctx.Done():
		return fmt.Errorf("not listening: %w", ctx.Err())
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on the platforms agentd runs on
	return hex.EncodeToString(b)
}

// openEvents connects to /global/event, which carries the events of every
// directory the server works in.
func (in *instance) openEvents(ctx context.Context) (io.ReadCloser, error) {
	ctx, cancel := context.WithTimeout(ctx, serverStartTimeout)
	defer cancel()
	req, err := http.NewRequest(http.MethodGet, in.base+"/global/event", nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("opencode", in.password)
	req.Header.Set("Accept", "text/event-stream")
	// The stream outlives ctx; only its opening is bounded by it.
	type result struct {
		resp *http.Response
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := in.client.Do(req)
		got <- result{resp, err}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			return nil, fmt.Errorf("event stream: %w", r.err)
		}
		if r.resp.StatusCode != http.StatusOK {
			r.resp.Body.Close()
			return nil, fmt.Errorf("event stream: HTTP %d", r.resp.StatusCode)
		}
		return r.resp.Body, nil
	case <-ctx.Done():
		go func() {
			if r := <-got; r.resp != nil {
				r.resp.Body.Close()
			}
		}()
		return nil, fmt.Errorf("event stream: %w", ctx.Err())
	}
}

// readEvents routes every event to the session it names. When the stream
// ends while the server still runs, the server is stopped: a session that
// cannot hear its events must not look alive, and the exit ends them all
// with a reason.
func (in *instance) readEvents(ctx context.Context, body io.ReadCloser) {
	defer close(in.streamDone)
	go func() {
		<-ctx.Done()
		body.Close()
	}()
	r := newSSEReader(body, maxEvent)
	for {
		data, truncated, err := r.Next()
		if err != nil {
			break
		}
		if truncated {
			slog.Warn("opencode: event too long, skipped", "limit", maxEvent)
			continue
		}
		ev, own, err := parse(data)
		if err != nil {
			continue // not for any one session; nothing can be attributed
		}
		id := ev.sessionOf()
		if id == "" {
			continue
		}
		in.mu.Lock()
		s := in.sessions[id]
		in.mu.Unlock()
		if s != nil {
			s.deliver(ev, own)
		}
	}
	in.mu.Lock()
	lost := ctx.Err() == nil && !in.closing
	in.dead = true
	in.mu.Unlock()
	if lost {
		slog.Warn("opencode: event stream ended; stopping the server")
		go in.proc.Stop(context.Background())
	}
}

// watch waits for the server to exit. Unless Close asked for it, every
// session on it ends with the reason, and the next use starts a new server.
func (a *Agent) watch(in *instance) {
	<-in.proc.Done()
	in.cancel()
	<-in.streamDone
	a.mu.Lock()
	if a.inst == in {
		a.inst = nil
	}
	a.mu.Unlock()
	in.mu.Lock()
	in.dead = true
	closing := in.closing
	sessions := make([]*session, 0, len(in.sessions))
	for _, s := range in.sessions {
		sessions = append(sessions, s)
	}
	clear(in.sessions)
	in.mu.Unlock()
	exit := in.proc.Exit()
	if !closing {
		slog.Warn("opencode server exited", "pid", in.proc.Pid(), "exit", exit.String(), "sessions", len(sessions))
	}
	for _, s := range sessions {
		s.serverExited(exit, in.proc.Stderr().Report(), closing)
	}
}

func (in *instance) add(s *session) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.dead {
		return errServerGone
	}
	in.sessions[s.id] = s
	return nil
}

func (in *instance) remove(s *session) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.sessions[s.id] == s {
		delete(in.sessions, s.id)
	}
}

var errServerGone = errors.New("opencode server is gone")

// call makes one API request in directory dir and decodes a JSON answer
// into out (if not nil).
func (in *instance) call(ctx context.Context, method, path, dir string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := in.base + path
	if dir != "" {
		u += "?directory=" + url.QueryEscape(dir)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.SetBasicAuth("opencode", in.password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return fmt.Errorf("opencode %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("opencode %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("opencode %s %s: HTTP %d: %s", method, path, resp.StatusCode, truncateText(string(b), 512))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("opencode %s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// writeConfig writes the global OpenCode config into the config home the
// adapter owns: the provider it was given, and permissions that ask.
func (a *Agent) writeConfig() error {
	dir := filepath.Join(a.stateDir, "config", "opencode")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("opencode: config dir: %w", err)
	}
	b, err := json.MarshalIndent(a.config(), "", "  ")
	if err != nil {
		return fmt.Errorf("opencode: config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "opencode.json"), b, 0o600); err != nil {
		return fmt.Errorf("opencode: config: %w", err)
	}
	return nil
}

// askRules are the permissions every session starts with: anything that
// changes files, runs commands, fetches or leaves the project asks.
var askRules = map[string]string{"bash": "ask", "edit": "ask", "webfetch": "ask", "external_directory": "ask", "doom_loop": "ask"}

type providerConfig struct {
	NPM     string                    `json:"npm"`
	Name    string                    `json:"name"`
	Options map[string]string         `json:"options"`
	Models  map[string]map[string]any `json:"models"`
}

func (a *Agent) config() map[string]any {
	cfg := map[string]any{
		"$schema": "https://opencode.ai/config.json", "autoupdate": false, "share": "disabled",
		"permission": askRules,
	}
	providers := map[string]any{}
	for id, url := range a.baseURLs {
		providers[id] = map[string]any{"options": map[string]string{"baseURL": url}}
	}
	if p := a.provider; p != nil {
		models := map[string]map[string]any{}
		for _, m := range p.Models {
			models[m] = map[string]any{"name": m, "tool_call": true, "reasoning": true}
		}
		opts := map[string]string{"baseURL": p.BaseURL}
		if p.APIKey != "" {
			opts["apiKey"] = p.APIKey
		}
		providers[p.ID] = providerConfig{NPM: "@ai-sdk/openai-compatible", Name: p.ID, Options: opts, Models: models}
		if len(p.Models) > 0 {
			cfg["model"] = p.ID + "/" + p.Models[0]
			cfg["small_model"] = p.ID + "/" + p.Models[0]
		}
	}
	if len(providers) > 0 {
		cfg["provider"] = providers
	}
	return cfg
}
