package api_test

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/internal/metrics"
)

// problem is the expected problem+json body. Daemon errors are compared
// exactly; framework errors (validation, routing, size) may add "errors".
type problem struct {
	Status    int
	Type      string // the error type after urn:sandbox-agent:error:
	Title     string
	Detail    string
	SessionID string
	Agent     string
	Details   map[string]any
	// framework marks huma's and the router's own rejections, which may
	// list what failed in "errors".
	framework bool
}

// checkProblem compares a response with the expected problem, member by
// member: no member may be missing, and none may be added.
func checkProblem(t *testing.T, res response, want problem) {
	t.Helper()
	if res.Status != want.Status {
		t.Errorf("status %d, want %d; body %s", res.Status, want.Status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("content type %q, want application/problem+json", ct)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatalf("decode problem: %v\n%s", err, res.Body)
	}
	exp := map[string]any{
		"type": "urn:sandbox-agent:error:" + want.Type, "title": want.Title,
		"status": float64(want.Status), "detail": want.Detail,
	}
	if want.SessionID != "" {
		exp["sessionId"] = want.SessionID
	}
	if want.Agent != "" {
		exp["agent"] = want.Agent
	}
	if want.Details != nil {
		exp["details"] = want.Details
	}
	if want.framework {
		if errs, ok := got["errors"].([]any); ok && len(errs) > 0 {
			exp["errors"] = got["errors"]
		}
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("problem\n got  %s\n want %s", res.Body, mustJSON(exp))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func sessionNotFound(id string) problem {
	return problem{Status: 404, Type: "session_not_found", Title: "Session Not Found",
		Detail: "session not found: " + id, SessionID: id}
}

func alreadyExists(id string) problem {
	return problem{Status: 409, Type: "session_already_exists", Title: "Session Already Exists",
		Detail: "session already exists: " + id, SessionID: id}
}

func unsupportedAgent(agent string) problem {
	return problem{Status: 400, Type: "unsupported_agent", Title: "Unsupported Agent",
		Detail: "unsupported agent: " + agent, Agent: agent}
}

func invalidRequest(msg string) problem {
	return problem{Status: 400, Type: "invalid_request", Title: "Invalid Request", Detail: "invalid request: " + msg}
}

func modeNotSupported(agent, mode string) problem {
	return problem{Status: 400, Type: "mode_not_supported", Title: "Mode Not Supported",
		Detail: "mode not supported: " + agent + " " + mode, Agent: agent, Details: map[string]any{"mode": mode}}
}

func frameworkError(status int, detail string) problem {
	return problem{Status: status, Type: "invalid_request", Title: http.StatusText(status), Detail: detail, framework: true}
}

// sessionRoutes are every route under /v1/sessions/{id}, with a valid body.
var sessionRoutes = []struct{ method, path, body string }{
	{http.MethodPost, "/messages", `{"message":"hi"}`},
	{http.MethodPost, "/messages/stream", `{"message":"hi"}`},
	{http.MethodPost, "/terminate", ""},
	{http.MethodGet, "/events", ""},
	{http.MethodGet, "/events/sse", ""},
	{http.MethodPost, "/permissions/p1/reply", `{"reply":"once"}`},
	{http.MethodPost, "/questions/q1/reply", `{"answers":[["Yes"]]}`},
	{http.MethodPost, "/questions/q1/reject", ""},
}

// TestErrors checks every single-request error path against one daemon
// holding a live session "live" and a terminated session "ended".
func TestErrors(t *testing.T) {
	ctx := testCtx(t)
	ts := newTestServer(t)
	ts.createMock(t, ctx, "live")
	ts.createMock(t, ctx, "ended")
	ts.expect(t, ctx, http.StatusNoContent, http.MethodPost, "/v1/sessions/ended/terminate", "")

	type errCase struct {
		name, method, path, body string
		want                     problem
	}
	var cases []errCase
	for _, r := range sessionRoutes {
		cases = append(cases, errCase{"unknown session " + r.method + " " + r.path, r.method, "/v1/sessions/nope" + r.path, r.body, sessionNotFound("nope")})
	}
	huge := `{"message":"` + strings.Repeat("a", 2<<20) + `"}`
	cases = append(cases, []errCase{
		{"duplicate create", "POST", "/v1/sessions/live", `{"agent":"mock"}`,
			alreadyExists("live")},
		{"unsupported agent on create", "POST", "/v1/sessions/x", `{"agent":"nope"}`, unsupportedAgent("nope")},
		{"unsupported agent wins over duplicate id", "POST", "/v1/sessions/live", `{"agent":"nope"}`, unsupportedAgent("nope")},
		{"duplicate id wins over a bad mode", "POST", "/v1/sessions/live", `{"agent":"mock","agentMode":"weird"}`,
			alreadyExists("live")},
		{"unsupported agent on modes", "GET", "/v1/agents/nope/modes", "", unsupportedAgent("nope")},
		{"unsupported agent on models", "GET", "/v1/agents/nope/models", "", unsupportedAgent("nope")},
		{"unsupported agent on install", "POST", "/v1/agents/nope/install", `{}`, unsupportedAgent("nope")},
		{"install of an agent agentd cannot install", "POST", "/v1/agents/claude/install", `{}`,
			problem{Status: 500, Type: "install_failed", Title: "Install Failed", Detail: "install failed: claude", Agent: "claude",
				Details: map[string]any{"stderr": "agentd cannot install claude"}}},
		{"bad agentMode", "POST", "/v1/sessions/x", `{"agent":"mock","agentMode":"weird"}`, modeNotSupported("mock", "weird")},
		{"bad permissionMode", "POST", "/v1/sessions/x", `{"agent":"mock","permissionMode":"x"}`, invalidRequest("invalid permission mode: x")},
		{"bad agentMode is checked before permissionMode", "POST", "/v1/sessions/x", `{"agent":"mock","agentMode":"weird","permissionMode":"x"}`,
			modeNotSupported("mock", "weird")},
		// amp is listed but not installed. agentd validates the modes first,
		// where the reference (spec §7.1 steps 3 and 8) would try to install
		// amp before looking at them.
		{"permission mode the agent lacks", "POST", "/v1/sessions/x", `{"agent":"amp","permissionMode":"plan"}`, modeNotSupported("amp", "plan")},
		{"agent mode the agent lacks", "POST", "/v1/sessions/x", `{"agent":"pi","agentMode":"plan"}`, modeNotSupported("pi", "plan")},
		{"listed agent that cannot run", "POST", "/v1/sessions/x", `{"agent":"claude"}`,
			problem{Status: 404, Type: "agent_not_installed", Title: "Agent Not Installed", Detail: "agent not installed: claude", Agent: "claude"}},
		{"listed agent that cannot run (amp)", "POST", "/v1/sessions/x", `{"agent":"amp"}`,
			problem{Status: 404, Type: "agent_not_installed", Title: "Agent Not Installed", Detail: "agent not installed: amp", Agent: "amp"}},
		{"missing agent", "POST", "/v1/sessions/x", `{}`, frameworkError(422, "validation failed")},
		{"unknown permission id", "POST", "/v1/sessions/live/permissions/X/reply", `{"reply":"once"}`, invalidRequest("unknown permission id: X")},
		{"unknown question id on reply", "POST", "/v1/sessions/live/questions/X/reply", `{"answers":[["Yes"]]}`, invalidRequest("unknown question id: X")},
		{"unknown question id on reject", "POST", "/v1/sessions/live/questions/X/reject", "", invalidRequest("unknown question id: X")},
		{"message to a terminated session", "POST", "/v1/sessions/ended/messages", `{"message":"hi"}`, invalidRequest("session terminated")},
		{"streamed message to a terminated session", "POST", "/v1/sessions/ended/messages/stream", `{"message":"hi"}`, invalidRequest("session terminated")},
		{"reply on a terminated session", "POST", "/v1/sessions/ended/permissions/X/reply", `{"reply":"once"}`, invalidRequest("unknown permission id: X")},
		{"malformed JSON", "POST", "/v1/sessions/live/messages", `{"message":`, frameworkError(400, "validation failed")},
		{"wrong enum in a reply", "POST", "/v1/sessions/live/permissions/X/reply", `{"reply":"maybe"}`, frameworkError(422, "validation failed")},
		{"wrong type in a message", "POST", "/v1/sessions/live/messages", `{"message":5}`, frameworkError(422, "validation failed")},
		{"missing body", "POST", "/v1/sessions/live/messages", "", frameworkError(400, "request body is required")},
		// Spec §4.2: a query string that fails to parse is a 400.
		{"unparseable query", "GET", "/v1/sessions/live/events?offset=abc", "", frameworkError(400, "validation failed")},
		{"oversize body", "POST", "/v1/sessions/live/messages", huge, frameworkError(413, "request body is too large limit=1048576 bytes")},
		{"unknown route", "GET", "/v1/nope", "", frameworkError(404, "no route for GET /v1/nope")},
		{"wrong method", "DELETE", "/v1/sessions", "", frameworkError(405, "method DELETE not allowed on /v1/sessions")},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkProblem(t, ts.request(t, ctx, tc.method, tc.path, tc.body), tc.want)
		})
	}
	t.Run("body that is not JSON", func(t *testing.T) {
		res := ts.request(t, ctx, http.MethodPost, "/v1/sessions/live/messages", `{"message":"hi"}`, "Content-Type", "text/plain")
		checkProblem(t, res, frameworkError(http.StatusUnsupportedMediaType, "validation failed"))
	})

	// None of the refused requests may have touched the sessions.
	for id, want := range map[string]int{"live": 1, "ended": 2} {
		if got := len(ts.events(t, ctx, id, "")); got != want {
			t.Errorf("session %s has %d events after refused requests, want %d", id, got, want)
		}
	}
	var list struct {
		Sessions []struct {
			SessionID string `json:"sessionId"`
		} `json:"sessions"`
	}
	_ = json.Unmarshal(ts.expect(t, ctx, http.StatusOK, http.MethodGet, "/v1/sessions", "").Body, &list)
	var ids []string
	for _, s := range list.Sessions {
		ids = append(ids, s.SessionID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"ended", "live"}) {
		t.Errorf("sessions after refused creates: %v, want [ended live]", ids)
	}
}

// TestConcurrentDuplicateCreate creates one id from many clients at once:
// exactly one wins, every other gets 409.
func TestConcurrentDuplicateCreate(t *testing.T) {
	ctx := testCtx(t)
	ts := newTestServer(t)
	const n = 32
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			statuses[i] = ts.request(t, ctx, http.MethodPost, "/v1/sessions/dup", `{"agent":"mock"}`).Status
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if want := map[int]int{http.StatusOK: 1, http.StatusConflict: n - 1}; !maps.Equal(count, want) {
		t.Errorf("statuses %v, want %v", count, want)
	}
	if got := len(ts.events(t, ctx, "dup", "")); got != 1 {
		t.Errorf("%d events, want the one session.started", got)
	}
}

// TestDoubleReply answers one permission twice: the second answer finds
// nothing pending, and only one resolution is recorded.
func TestDoubleReply(t *testing.T) {
	ctx := testCtx(t)
	ts := newTestServer(t)
	ts.createMock(t, ctx, "s1")
	ts.send(t, ctx, "s1", "permission")
	ts.waitFor(t, ctx, "s1", 1, isAbout("permission.requested", "mock_1_permission_denied"))
	const path = "/v1/sessions/s1/permissions/mock_1_permission/reply"
	ts.expect(t, ctx, http.StatusNoContent, http.MethodPost, path, `{"reply":"once"}`)
	checkProblem(t, ts.request(t, ctx, http.MethodPost, path, `{"reply":"reject"}`), invalidRequest("unknown permission id: mock_1_permission"))
	if n := countEvents(t, ts.events(t, ctx, "s1", ""), isAbout("permission.resolved", "mock_1_permission")); n != 1 {
		t.Errorf("%d permission.resolved for mock_1_permission, want 1", n)
	}
	// The other request is still pending and can be answered.
	ts.expect(t, ctx, http.StatusNoContent, http.MethodPost, "/v1/sessions/s1/permissions/mock_1_permission_denied/reply", `{"reply":"reject"}`)
}

// TestTerminateTwice: both calls succeed, one session.ended is recorded,
// and messages are refused afterwards.
func TestTerminateTwice(t *testing.T) {
	ctx := testCtx(t)
	ts := newTestServer(t)
	ts.createMock(t, ctx, "s1")
	for range 2 {
		ts.expect(t, ctx, http.StatusNoContent, http.MethodPost, "/v1/sessions/s1/terminate", "")
	}
	events := ts.events(t, ctx, "s1", "")
	if n := countEvents(t, events, isType("session.ended")); n != 1 || len(events) != 2 {
		t.Errorf("%d events with %d session.ended, want 2 with 1", len(events), n)
	}
	checkProblem(t, ts.request(t, ctx, http.MethodPost, "/v1/sessions/s1/messages", `{"message":"hi"}`), invalidRequest("session terminated"))
}

func countEvents(t *testing.T, events []json.RawMessage, match func(event) bool) int {
	t.Helper()
	n := 0
	for _, e := range decodeAll(t, events) {
		if match(e) {
			n++
		}
	}
	return n
}

// TestTokenAuth checks the accepted credential forms (spec §2) and the
// 401 problem for everything else; /v1/health stays public.
func TestTokenAuth(t *testing.T) {
	ctx := testCtx(t)
	const token = "s3cret-token"
	ts := newTestServer(t, func(d *api.Deps) { d.Auth = api.AuthConfig{Token: token} })
	b64 := func(enc *base64.Encoding, s string) string { return enc.EncodeToString([]byte(s)) }
	denied := problem{Status: 401, Type: "token_invalid", Title: "Token Invalid", Detail: "token invalid",
		Details: map[string]any{"message": "missing or invalid token"}}
	for _, tc := range []struct {
		name, path, auth string
		ok               bool
	}{
		{"no header", "/v1/agents", "", false},
		{"wrong bearer", "/v1/agents", "Bearer nope", false},
		{"bearer without value", "/v1/agents", "Bearer", false},
		{"token as a bare header", "/v1/agents", token, false},
		{"unknown scheme", "/v1/agents", "Digest " + token, false},
		{"basic with wrong password", "/v1/agents", "Basic " + b64(base64.StdEncoding, "user:nope"), false},
		{"basic not base64", "/v1/agents", "Basic !!!", false},
		{"bearer", "/v1/agents", "Bearer " + token, true},
		{"bearer, lower case, padded", "/v1/agents", "  bearer   " + token + "  ", true},
		{"token scheme", "/v1/agents", "Token " + token, true},
		{"basic user:token", "/v1/agents", "Basic " + b64(base64.StdEncoding, "user:"+token), true},
		{"basic bare token", "/v1/agents", "Basic " + b64(base64.StdEncoding, token), true},
		{"basic without padding", "/v1/agents", "Basic " + b64(base64.RawStdEncoding, "u:"+token), true},
		{"basic URL-safe", "/v1/agents", "BASIC " + b64(base64.URLEncoding, "ü?>:"+token), true},
		{"session routes need it too", "/v1/sessions", "", false},
		{"events of an unknown session: auth comes first", "/v1/sessions/nope/events", "", false},
		{"health is public", "/v1/health", "", true},
		{"health is public even with a wrong token", "/v1/health", "Bearer nope", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var header []string
			if tc.auth != "" {
				header = []string{"Authorization", tc.auth}
			}
			res := ts.request(t, ctx, http.MethodGet, tc.path, "", header...)
			if tc.ok {
				if res.Status != http.StatusOK {
					t.Errorf("status %d, want 200; body %s", res.Status, res.Body)
				}
				return
			}
			checkProblem(t, res, denied)
		})
	}
}

// TestReplyAfterTerminate: a request still pending when its session ended
// is refused as terminated, and stays pending rather than being consumed
// (peer-defects D.23), so every retry gets the same answer.
func TestReplyAfterTerminate(t *testing.T) {
	ctx := testCtx(t)
	ts := newTestServer(t)
	ts.createMock(t, ctx, "s1")
	ts.send(t, ctx, "s1", "demo")
	ts.waitFor(t, ctx, "s1", 1, isType("turn.ended"))
	ts.expect(t, ctx, http.StatusNoContent, http.MethodPost, "/v1/sessions/s1/terminate", "")
	for _, r := range []struct{ path, body string }{
		{"/permissions/mock_1_permission/reply", `{"reply":"once"}`},
		{"/questions/mock_1_question/reply", `{"answers":[["Red"]]}`},
		{"/questions/mock_1_question/reject", ""},
	} {
		for range 2 {
			checkProblem(t, ts.request(t, ctx, http.MethodPost, "/v1/sessions/s1"+r.path, r.body), invalidRequest("session terminated"))
		}
	}
	events := ts.events(t, ctx, "s1", "")
	if last := decodeEvent(t, events[len(events)-1]); last.Type != "session.ended" {
		t.Errorf("last event is %s, want session.ended", last.Type)
	}
}

// TestNothingAfterSessionEnded terminates a session while its demo plays:
// once terminate has answered, session.ended is the last event for good.
func TestNothingAfterSessionEnded(t *testing.T) {
	ctx := testCtx(t)
	ts := newTestServer(t)
	ts.createMock(t, ctx, "s1")
	ts.send(t, ctx, "s1", "demo")
	ts.expect(t, ctx, http.StatusNoContent, http.MethodPost, "/v1/sessions/s1/terminate", "")
	ended := ts.waitFor(t, ctx, "s1", 0, isType("session.ended"))
	// A message refused, a new session played to its end: the mock of s1
	// had every chance to write more by then.
	checkProblem(t, ts.request(t, ctx, http.MethodPost, "/v1/sessions/s1/messages", `{"message":"demo"}`), invalidRequest("session terminated"))
	ts.createMock(t, ctx, "s2")
	ts.send(t, ctx, "s2", "demo")
	ts.waitFor(t, ctx, "s2", 1, isType("turn.ended"))
	events := ts.events(t, ctx, "s1", "")
	if uint64(len(events)) != ended.Sequence {
		t.Errorf("session.ended is event %d of %d", ended.Sequence, len(events))
	}
	checkDense(t, sequences(decodeAll(t, events)), 1)
}

func decodeAll(t *testing.T, raws []json.RawMessage) []event {
	t.Helper()
	out := make([]event, len(raws))
	for i, raw := range raws {
		out[i] = decodeEvent(t, raw)
	}
	return out
}

// TestMetricsEndpoint: /metrics is served only when metrics are on, behind
// the token, and labels requests by route pattern, not by path.
func TestMetricsEndpoint(t *testing.T) {
	ctx := testCtx(t)
	const token = "tok"
	ts := newTestServer(t, func(d *api.Deps) { d.Auth = api.AuthConfig{Token: token}; d.Metrics = metrics.New() })
	auth := []string{"Authorization", "Bearer " + token}
	ts.request(t, ctx, http.MethodGet, "/v1/sessions/one/events", "", auth...)
	ts.request(t, ctx, http.MethodGet, "/v1/sessions/two/events", "", auth...)
	if res := ts.request(t, ctx, http.MethodGet, "/metrics", ""); res.Status != http.StatusUnauthorized {
		t.Fatalf("without the token: %d", res.Status)
	}
	res := ts.request(t, ctx, http.MethodGet, "/metrics", "", auth...)
	body := string(res.Body)
	if res.Status != 200 || !strings.Contains(body, `route="GET /v1/sessions/{session_id}/events",status="404"} 2`) ||
		strings.Contains(body, "/v1/sessions/one") {
		t.Fatalf("metrics %d:\n%s", res.Status, body)
	}
	plain := newTestServer(t)
	if res := plain.request(t, ctx, http.MethodGet, "/metrics", ""); res.Status != http.StatusNotFound {
		t.Fatalf("metrics off: %d", res.Status)
	}
}
