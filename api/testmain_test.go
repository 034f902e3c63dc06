package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/agentd-dev/agentd/adapters/catalog"
	"github.com/agentd-dev/agentd/adapters/mock"
	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/session"
)

func TestMain(m *testing.M) {
	// Defined here rather than at package level so that another test file
	// of the package may define the same flag without a clash.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
	goleak.VerifyTestMain(m)
}

// updating reports whether the test run was asked to rewrite golden files.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// waitLong bounds every wait of a test: requests, streams and replies.
// TestStuckSubscriber moves 10 MB of events and takes about 15 s under
// -race on 2 cores even alone; a full parallel run needs the margin.
const waitLong = 90 * time.Second

// testCtx is a deadline-bound child of the test's context.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	t.Cleanup(cancel)
	return ctx
}

// testServer is a whole daemon over a fresh data directory: event log,
// session engine with the mock (no pause between scripted events) and the
// HTTP API, served by httptest.
type testServer struct {
	URL    string
	Client *http.Client
}

// newTestServer starts a daemon; opts adjust its api.Deps (auth, keep-alive).
// Cleanup stops it in the daemon's order: open streams, HTTP server,
// sessions, log.
func newTestServer(t *testing.T, opts ...func(*api.Deps)) *testServer {
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
	deps := api.Deps{Sessions: manager, Log: log, Logger: logger, Done: done}
	for _, o := range opts {
		o(&deps)
	}
	handler, _ := api.New(deps)
	srv := httptest.NewServer(handler)
	t.Cleanup(func() {
		close(done) // ends open event streams, which would hold srv.Close
		srv.Close()
		shutCtx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		manager.Shutdown(shutCtx)
		if err := log.Close(); err != nil {
			t.Errorf("close event log: %v", err)
		}
	})
	return &testServer{URL: srv.URL, Client: srv.Client()}
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// request sends one request with a string body (none when empty) and an
// optional list of header name/value pairs, and returns the response with
// its body read to the end.
func (ts *testServer) request(t testing.TB, ctx context.Context, method, path, body string, header ...string) response {
	t.Helper()
	res := ts.open(t, ctx, method, path, body, header...)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{res.StatusCode, res.Header, b}
}

// open sends a request and returns the response with its body unread.
func (ts *testServer) open(t testing.TB, ctx context.Context, method, path, body string, header ...string) *http.Response {
	t.Helper()
	req, err := newRequest(ctx, ts.URL+path, method, body, header...)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ts.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return res
}

// newRequest builds a request with a JSON body (none when empty) and
// header name/value pairs.
func newRequest(ctx context.Context, url, method, body string, header ...string) (*http.Request, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req, nil
}

// expect sends a request and fails the test unless it gets the status.
func (ts *testServer) expect(t testing.TB, ctx context.Context, want int, method, path, body string) response {
	t.Helper()
	res := ts.request(t, ctx, method, path, body)
	if res.Status != want {
		t.Fatalf("%s %s %s: status %d, want %d; body %s", method, path, body, res.Status, want, res.Body)
	}
	return res
}

// createMock creates a mock session with default modes.
func (ts *testServer) createMock(t testing.TB, ctx context.Context, id string) {
	t.Helper()
	res := ts.expect(t, ctx, http.StatusOK, http.MethodPost, "/v1/sessions/"+id, `{"agent":"mock"}`)
	want := fmt.Sprintf(`{"healthy":true,"nativeSessionId":"mock-%s"}`, id)
	if got := string(bytes.TrimSpace(res.Body)); got != want {
		t.Fatalf("create %s: body %s, want %s", id, got, want)
	}
}

// send posts a message and expects 204.
func (ts *testServer) send(t testing.TB, ctx context.Context, id, message string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"message": message})
	ts.expect(t, ctx, http.StatusNoContent, http.MethodPost, "/v1/sessions/"+id+"/messages", string(body))
}

// events returns the session's stored events as served, one raw JSON
// value each, in order.
func (ts *testServer) events(t testing.TB, ctx context.Context, id, query string) []json.RawMessage {
	t.Helper()
	res := ts.expect(t, ctx, http.StatusOK, http.MethodGet, "/v1/sessions/"+id+"/events"+query, "")
	var page struct {
		Events  []json.RawMessage `json:"events"`
		HasMore bool              `json:"hasMore"`
	}
	if err := json.Unmarshal(res.Body, &page); err != nil {
		t.Fatalf("decode events page: %v\n%s", err, res.Body)
	}
	if page.HasMore {
		t.Fatalf("events page of %s has more", id)
	}
	return page.Events
}

// event is the part of a UniversalEvent the tests look at.
type event struct {
	Sequence uint64          `json:"sequence"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
	Raw      json.RawMessage `json:"raw"`
	// JSON is the whole event as served.
	JSON []byte `json:"-"`
}

func decodeEvent(t testing.TB, b []byte) event {
	t.Helper()
	var e event
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("decode event: %v\n%s", err, b)
	}
	e.JSON = b
	return e
}

// subject is the native id an event is about: an item's native id, or a
// permission's or question's id.
func (e event) subject() string {
	var d struct {
		Item struct {
			NativeItemID string `json:"native_item_id"`
		} `json:"item"`
		NativeItemID string `json:"native_item_id"`
		PermissionID string `json:"permission_id"`
		QuestionID   string `json:"question_id"`
	}
	_ = json.Unmarshal(e.Data, &d)
	for _, s := range []string{d.Item.NativeItemID, d.NativeItemID, d.PermissionID, d.QuestionID} {
		if s != "" {
			return s
		}
	}
	return ""
}

// isType matches events of one type.
func isType(typ string) func(event) bool {
	return func(e event) bool { return e.Type == typ }
}

// isAbout matches events of one type about one native id.
func isAbout(typ, subject string) func(event) bool {
	return func(e event) bool { return e.Type == typ && e.subject() == subject }
}

// frame is one SSE frame: its fields in order, and the values that matter.
type frame struct {
	Fields  []string // field names in order, "" for a comment line
	ID      string
	Data    string
	Comment string
}

// sseStream reads SSE frames from a response body.
type sseStream struct {
	res *http.Response
	r   *bufio.Reader
}

// openSSE opens an event stream and fails unless it answers 200 with
// text/event-stream. The stream is closed when the test ends, if not before.
func (ts *testServer) openSSE(t testing.TB, ctx context.Context, method, path, body string, header ...string) *sseStream {
	t.Helper()
	s, err := ts.subscribe(ctx, method, path, body, header...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// subscribe is openSSE for any goroutine: it returns errors, and the
// caller closes the stream.
func (ts *testServer) subscribe(ctx context.Context, method, path, body string, header ...string) (*sseStream, error) {
	req, err := newRequest(ctx, ts.URL+path, method, body, header...)
	if err != nil {
		return nil, err
	}
	res, err := ts.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return nil, fmt.Errorf("%s %s: status %d, want 200; body %s", method, path, res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		res.Body.Close()
		return nil, fmt.Errorf("%s %s: content type %q", method, path, ct)
	}
	return &sseStream{res: res, r: bufio.NewReader(res.Body)}, nil
}

// Close drops the connection.
func (s *sseStream) Close() { _ = s.res.Body.Close() }

// next reads the next frame; io.EOF means the server ended the stream.
func (s *sseStream) next() (frame, error) {
	var f frame
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && line == "" && len(f.Fields) == 0 {
				return f, io.EOF
			}
			if errors.Is(err, io.EOF) {
				return f, io.ErrUnexpectedEOF
			}
			return f, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if len(f.Fields) == 0 {
				continue
			}
			return f, nil
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		f.Fields = append(f.Fields, name)
		switch name {
		case "":
			f.Comment = value
		case "id":
			f.ID = value
		case "data":
			if f.Data != "" {
				f.Data += "\n"
			}
			f.Data += value
		}
	}
}

// nextEvent reads frames up to the next one carrying an event, skipping
// comments, and checks that its id is its sequence. It returns an error
// rather than failing the test so that subscribers may run in goroutines.
func (s *sseStream) nextEvent() (event, error) {
	for {
		f, err := s.next()
		if err != nil {
			return event{}, fmt.Errorf("read SSE frame: %w", err)
		}
		if f.Data == "" {
			continue
		}
		var e event
		if err := json.Unmarshal([]byte(f.Data), &e); err != nil {
			return e, fmt.Errorf("decode event: %w\n%s", err, f.Data)
		}
		e.JSON = []byte(f.Data)
		if f.ID != strconv.FormatUint(e.Sequence, 10) {
			return e, fmt.Errorf("frame id %q carries event %d", f.ID, e.Sequence)
		}
		return e, nil
	}
}

// readUntil reads events up to and including the first that matches.
func (s *sseStream) readUntil(match func(event) bool) ([]event, error) {
	var got []event
	for {
		e, err := s.nextEvent()
		if err != nil {
			return got, err
		}
		got = append(got, e)
		if match(e) {
			return got, nil
		}
	}
}

// until is readUntil for the test's goroutine.
func (s *sseStream) until(t testing.TB, match func(event) bool) []event {
	t.Helper()
	got, err := s.readUntil(match)
	if err != nil {
		t.Fatalf("after %d events: %v", len(got), err)
	}
	return got
}

// expectEnd reads the stream to its end and fails on any further event.
func (s *sseStream) expectEnd(t testing.TB) {
	t.Helper()
	for {
		f, err := s.next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("stream did not end cleanly: %v", err)
		}
		if f.Data != "" {
			t.Fatalf("event after the stream's last one: %s", f.Data)
		}
	}
}

// waitFor subscribes to the session after the given sequence and returns
// the first event that matches.
func (ts *testServer) waitFor(t testing.TB, ctx context.Context, id string, after uint64, match func(event) bool) event {
	t.Helper()
	s := ts.openSSE(t, ctx, http.MethodGet, fmt.Sprintf("/v1/sessions/%s/events/sse?offset=%d", id, after), "")
	defer s.Close()
	got := s.until(t, match)
	return got[len(got)-1]
}

// sequences lists the events' sequence numbers.
func sequences(events []event) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.Sequence
	}
	return out
}

// checkDense fails unless the sequences are exactly from, from+1, ….
func checkDense(t testing.TB, got []uint64, from uint64) {
	t.Helper()
	for i, seq := range got {
		if want := from + uint64(i); seq != want {
			t.Fatalf("sequence %d at position %d, want %d (all: %v)", seq, i, want, got)
		}
	}
}
