package client_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/agentd-dev/agentd/adapters/catalog"
	"github.com/agentd-dev/agentd/adapters/mock"
	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/api/client"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLong bounds every wait of a test.
const waitLong = 30 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	t.Cleanup(cancel)
	return ctx
}

// TestGeneratedUpToDate regenerates the client with the pinned generator,
// the committed configuration and the committed document, and compares it
// byte for byte with client.gen.go.
func TestGeneratedUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the pinned oapi-codegen; skipped under -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	toolsMod, err := filepath.Abs("../../tools/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "oapi-codegen")
	build := exec.CommandContext(ctx, "go", "build", "-modfile="+toolsMod, "-o", bin,
		"github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen")
	if out, err := build.CombinedOutput(); err != nil {
		msg := fmt.Sprintf("cannot build the oapi-codegen pinned in tools/go.mod (no module proxy?): %v\n%s", err, out)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// The generator writes where cfg.yaml says, relative to its directory:
	// run it on copies of the config and the overlay in a temp dir.
	work := filepath.Join(tmp, "gen")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cfg.yaml", "overlay.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	doc, err := filepath.Abs("../../docs/openapi-3.0.json")
	if err != nil {
		t.Fatal(err)
	}
	gen := exec.CommandContext(ctx, bin, "-config", "cfg.yaml", doc)
	gen.Dir = work
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(work, "client.gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("api/client/client.gen.go is stale: run `go generate ./api/client` and commit it\nfirst difference: %s", firstDiff(want, got))
	}
}

// firstDiff describes the first line where two files differ.
func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d\n  committed: %q\n  generated: %q", i+1, x, y)
		}
	}
	return "none"
}

// newDaemon serves a whole in-process agentd (event log in a temp dir,
// session engine with the mock agent playing scripts at once) and returns
// a generated client for it. token, when set, is required by the daemon
// and sent by the client.
func newDaemon(t *testing.T, token string) *client.ClientWithResponses {
	t.Helper()
	ctx := context.Background()
	log, err := eventlog.Open(ctx, t.TempDir(), eventlog.Options{})
	if err != nil {
		t.Fatalf("open event log: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	manager, err := session.New(ctx, log, catalog.Agents(mock.New(mock.WithPause(0))), session.WithLogger(logger))
	if err != nil {
		_ = log.Close()
		t.Fatalf("start session manager: %v", err)
	}
	done := make(chan struct{})
	handler, _ := api.New(api.Deps{Sessions: manager, Log: log, Logger: logger, Done: done, Auth: api.AuthConfig{Token: token}})
	srv := httptest.NewServer(handler)
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(func() {
		hc.CloseIdleConnections()
		close(done)
		srv.Close()
		shutCtx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		manager.Shutdown(shutCtx)
		if err := log.Close(); err != nil {
			t.Errorf("close event log: %v", err)
		}
	})
	opts := []client.ClientOption{client.WithHTTPClient(hc)}
	if token != "" {
		opts = append(opts, client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
	}
	c, err := client.NewClientWithResponses(srv.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// status fails the test unless a call succeeded with the given status.
func status(t *testing.T, res interface{ StatusCode() int }, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if got := res.StatusCode(); got != want {
		body := ""
		if b, ok := res.(interface{ GetBody() []byte }); ok {
			body = string(b.GetBody())
		}
		t.Fatalf("status %d, want %d; body %s", got, want, body)
	}
}

func ptr[T any](v T) *T { return &v }

func TestMetaAndAgents(t *testing.T) {
	ctx := testCtx(t)
	c := newDaemon(t, "")

	health, err := c.GetHealthWithResponse(ctx)
	status(t, health, err, http.StatusOK)
	if health.JSON200 == nil || health.JSON200.Status != "ok" || health.JSON200.Version == nil {
		t.Fatalf("health: %s", health.Body)
	}

	agents, err := c.ListAgentsWithResponse(ctx)
	status(t, agents, err, http.StatusOK)
	var ids []string
	for _, a := range agents.JSON200.Agents {
		ids = append(ids, a.Id)
		if a.Id == "mock" && (!a.Installed || !a.Capabilities.Permissions) {
			t.Errorf("mock agent: %+v", a)
		}
	}
	if got := strings.Join(ids, ","); got != "claude,codex,opencode,amp,pi,cursor,mock" {
		t.Errorf("agents %s", got)
	}

	modes, err := c.GetAgentModesWithResponse(ctx, "mock")
	status(t, modes, err, http.StatusOK)
	if len(modes.JSON200.Modes) != 2 || modes.JSON200.Modes[0].Id != "build" {
		t.Errorf("mock modes: %s", modes.Body)
	}
	models, err := c.GetAgentModelsWithResponse(ctx, "mock")
	status(t, models, err, http.StatusOK)
	if models.JSON200.DefaultModel == nil || *models.JSON200.DefaultModel != "mock" || len(models.JSON200.Models) != 1 {
		t.Errorf("mock models: %s", models.Body)
	}
	bad, err := c.GetAgentModesWithResponse(ctx, "nosuch")
	status(t, bad, err, http.StatusBadRequest)
	if p := bad.ApplicationproblemJSON400; p == nil || p.Type != "urn:sandbox-agent:error:unsupported_agent" {
		t.Errorf("modes of an unknown agent: %s", bad.Body)
	}

	inst, err := c.InstallAgentWithResponse(ctx, "mock", client.AgentInstallRequest{})
	status(t, inst, err, http.StatusNoContent)
	failed, err := c.InstallAgentWithResponse(ctx, "claude", client.AgentInstallRequest{Reinstall: ptr(true)})
	status(t, failed, err, http.StatusInternalServerError)
	if p := failed.ApplicationproblemJSON500; p == nil || p.Agent == nil || *p.Agent != "claude" {
		t.Errorf("install claude: %s", failed.Body)
	}
}

func TestSessionLifecycle(t *testing.T) {
	ctx := testCtx(t)
	c := newDaemon(t, "")

	created, err := c.CreateSessionWithResponse(ctx, "s1", client.CreateSessionRequest{
		Agent: "mock", AgentMode: ptr("plan"), PermissionMode: ptr("bypass"), Title: ptr("client test"), Directory: ptr("/w"),
	})
	status(t, created, err, http.StatusOK)
	if r := created.JSON200; r == nil || !r.Healthy || r.NativeSessionId == nil || *r.NativeSessionId != "mock-s1" {
		t.Fatalf("create: %s", created.Body)
	}
	again, err := c.CreateSessionWithResponse(ctx, "s1", client.CreateSessionRequest{Agent: "mock"})
	status(t, again, err, http.StatusConflict)
	if p := again.ApplicationproblemJSON409; p == nil || p.SessionId == nil || *p.SessionId != "s1" {
		t.Errorf("create twice: %s", again.Body)
	}

	list, err := c.ListSessionsWithResponse(ctx)
	status(t, list, err, http.StatusOK)
	if len(list.JSON200.Sessions) != 1 {
		t.Fatalf("sessions: %s", list.Body)
	}
	s := list.JSON200.Sessions[0]
	if s.SessionId != "s1" || s.AgentMode != "plan" || s.PermissionMode != "bypass" || *s.Title != "client test" || *s.Directory != "/w" || s.Ended {
		t.Errorf("session info: %s", list.Body)
	}

	// A turn through the stream endpoint, read with the plain client.
	res, err := c.PostMessageStream(ctx, "s1", &client.PostMessageStreamParams{}, client.MessageRequest{Message: "echo hi"})
	if err != nil {
		t.Fatal(err)
	}
	turn := readEvents(t, res)
	if last := turn[len(turn)-1]; last.Type != client.UniversalEventTypeTurnEnded {
		t.Errorf("stream ended at %s, want turn.ended", last.Type)
	}
	var text string
	for _, ev := range turn {
		if ev.Type == client.UniversalEventTypeItemCompleted {
			item, err := ev.Data.AsItemEventData()
			if err != nil {
				t.Fatal(err)
			}
			if item.Item.Role != nil && *item.Item.Role == client.ItemRoleAssistant {
				part, err := item.Item.Content[0].AsContentPart0()
				if err != nil {
					t.Fatal(err)
				}
				text = part.Text
			}
		}
	}
	if text != "hi" {
		t.Errorf("assistant said %q, want hi", text)
	}

	// Paging through the log.
	page, err := c.GetEventsWithResponse(ctx, "s1", &client.GetEventsParams{Offset: ptr(int64(1)), Limit: ptr(int64(2))})
	status(t, page, err, http.StatusOK)
	if evs := page.JSON200.Events; len(evs) != 2 || evs[0].Sequence != 2 || !page.JSON200.HasMore {
		t.Errorf("page after 1, limit 2: %s", page.Body)
	}
	all, err := c.GetEventsWithResponse(ctx, "s1", &client.GetEventsParams{IncludeRaw: ptr(true)})
	status(t, all, err, http.StatusOK)
	if all.JSON200.HasMore || len(all.JSON200.Events) != len(turn)+1 {
		t.Errorf("all events: %d, want %d", len(all.JSON200.Events), len(turn)+1)
	}

	// Permissions and questions of the mock.
	sent, err := c.PostMessageWithResponse(ctx, "s1", client.MessageRequest{Message: "permission"})
	status(t, sent, err, http.StatusNoContent)
	sub, err := c.GetEventsSse(ctx, "s1", &client.GetEventsSseParams{LastEventID: ptr(fmt.Sprint(len(turn) + 1))})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Body.Close()
	perms := readUntil(t, sub, 2, client.UniversalEventTypePermissionRequested)
	for i, reply := range []client.PermissionReply{client.PermissionReplyOnce, client.PermissionReplyReject} {
		pd, err := perms[i].Data.AsPermissionEventData()
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.ReplyPermissionWithResponse(ctx, "s1", pd.PermissionId, client.PermissionReplyRequest{Reply: reply})
		status(t, r, err, http.StatusNoContent)
	}
	unknown, err := c.ReplyPermissionWithResponse(ctx, "s1", "nope", client.PermissionReplyRequest{Reply: client.PermissionReplyAlways})
	status(t, unknown, err, http.StatusBadRequest)

	sent, err = c.PostMessageWithResponse(ctx, "s1", client.MessageRequest{Message: "question"})
	status(t, sent, err, http.StatusNoContent)
	var questions []string
	for _, ev := range readUntil(t, sub, 2, client.UniversalEventTypeQuestionRequested) {
		q, err := ev.Data.AsQuestionEventData()
		if err != nil {
			t.Fatal(err)
		}
		questions = append(questions, q.QuestionId)
	}
	if len(questions) != 2 {
		t.Fatalf("questions %v, want 2", questions)
	}
	answered, err := c.ReplyQuestionWithResponse(ctx, "s1", questions[0], client.QuestionReplyRequest{Answers: [][]string{{"Yes"}}})
	status(t, answered, err, http.StatusNoContent)
	rejected, err := c.RejectQuestionWithResponse(ctx, "s1", questions[1])
	status(t, rejected, err, http.StatusNoContent)

	term, err := c.TerminateSessionWithResponse(ctx, "s1")
	status(t, term, err, http.StatusNoContent)
	after, err := c.PostMessageWithResponse(ctx, "s1", client.MessageRequest{Message: "hello"})
	status(t, after, err, http.StatusBadRequest)

	// The stream of an ended session ends after its last event; asking
	// again from there gets 204.
	last := readUntil(t, sub, 1, client.UniversalEventTypeSessionEnded)[0]
	ended, err := c.GetEventsSse(ctx, "s1", &client.GetEventsSseParams{Offset: ptr(last.Sequence)})
	if err != nil {
		t.Fatal(err)
	}
	ended.Body.Close()
	if ended.StatusCode != http.StatusNoContent {
		t.Errorf("stream after the end: %d, want 204", ended.StatusCode)
	}

	missing, err := c.GetEventsWithResponse(ctx, "nope", &client.GetEventsParams{})
	status(t, missing, err, http.StatusNotFound)
	if p := missing.ApplicationproblemJSON404; p == nil || p.Title != "Session Not Found" || p.Detail == nil {
		t.Errorf("unknown session: %s", missing.Body)
	}
}

func TestToken(t *testing.T) {
	ctx := testCtx(t)
	c := newDaemon(t, "s3cret")
	list, err := c.ListSessionsWithResponse(ctx)
	status(t, list, err, http.StatusOK)

	anon, err := client.NewClientWithResponses(c.ClientInterface.(*client.Client).Server,
		client.WithHTTPClient(c.ClientInterface.(*client.Client).Client.(*http.Client)))
	if err != nil {
		t.Fatal(err)
	}
	denied, err := anon.ListSessionsWithResponse(ctx)
	status(t, denied, err, http.StatusUnauthorized)
	health, err := anon.GetHealthWithResponse(ctx)
	status(t, health, err, http.StatusOK)
}

// readEvents reads an SSE response to its end.
func readEvents(t *testing.T, res *http.Response) []client.UniversalEvent {
	t.Helper()
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("stream: status %d", res.StatusCode)
	}
	var out []client.UniversalEvent
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
			out = append(out, decode(t, data))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("stream had no events")
	}
	return out
}

// readUntil reads an open SSE response until n events of type typ came,
// and returns those.
func readUntil(t *testing.T, res *http.Response, n int, typ client.UniversalEventType) []client.UniversalEvent {
	t.Helper()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("stream: status %d", res.StatusCode)
	}
	var out []client.UniversalEvent
	r := bufio.NewReader(res.Body)
	for len(out) < n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before %d %s events: %v", n, typ, err)
		}
		if data, ok := strings.CutPrefix(strings.TrimSpace(line), "data:"); ok {
			if ev := decode(t, data); ev.Type == typ {
				out = append(out, ev)
			}
		}
	}
	return out
}

func decode(t *testing.T, data string) client.UniversalEvent {
	t.Helper()
	var ev client.UniversalEvent
	if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &ev); err != nil {
		t.Fatalf("decode event: %v\n%s", err, data)
	}
	return ev
}
