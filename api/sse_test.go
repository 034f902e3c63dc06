package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/api"
)

const ssePath = "/v1/sessions/s1/events/sse"

// checkSameEvents fails unless the streamed events are, byte for byte, the
// stored events from the first streamed sequence on.
func checkSameEvents(t *testing.T, ts *testServer, ctx context.Context, streamed []event) {
	t.Helper()
	if len(streamed) == 0 {
		t.Fatal("no events streamed")
	}
	from := streamed[0].Sequence
	stored := ts.events(t, ctx, "s1", "?offset="+strconv.FormatUint(from-1, 10))
	if len(stored) < len(streamed) {
		t.Fatalf("%d events streamed from %d, only %d stored", len(streamed), from, len(stored))
	}
	for i, e := range streamed {
		if !bytes.Equal(e.JSON, stored[i]) {
			t.Fatalf("streamed event %d differs from the stored one\n got  %s\n want %s", e.Sequence, e.JSON, stored[i])
		}
	}
}

// TestSSEFrames: each frame is "id: <seq>" then "data: <compact JSON>",
// with no event name, and the data is the stored event exactly.
func TestSSEFrames(t *testing.T) {
	ctx := testCtx(t)
	ts := newTestServer(t)
	ts.createMock(t, ctx, "s1")
	s := ts.openSSE(t, ctx, http.MethodGet, ssePath, "")
	if cc := s.res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control %q, want no-cache", cc)
	}
	ts.send(t, ctx, "s1", "help")
	var got []event
	for len(got) == 0 || got[len(got)-1].Type != "turn.ended" {
		f, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f.Fields, []string{"id", "data"}) {
			t.Fatalf("frame fields %q, want [id data]", f.Fields)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, []byte(f.Data)); err != nil || compact.String() != f.Data {
			t.Fatalf("data is not compact JSON (%v): %s", err, f.Data)
		}
		e := decodeEvent(t, []byte(f.Data))
		if f.ID != strconv.FormatUint(e.Sequence, 10) {
			t.Fatalf("frame id %q carries event %d", f.ID, e.Sequence)
		}
		got = append(got, e)
	}
	checkDense(t, sequences(got), 1)
	checkSameEvents(t, ts, ctx, got)
}

// TestSSEResume disconnects in the middle of a demo and reconnects: the
// second stream starts right after the last event read, so together they
// hold every event once, in order.
func TestSSEResume(t *testing.T) {
	for _, tc := range []struct {
		name   string
		query  string
		header func(last uint64) []string
	}{
		{"Last-Event-ID", "", func(last uint64) []string { return []string{"Last-Event-ID", strconv.FormatUint(last, 10)} }},
		{"offset", "?offset=%d", nil},
		{"Last-Event-ID wins over offset", "?offset=3", func(last uint64) []string {
			return []string{"Last-Event-ID", strconv.FormatUint(last, 10)}
		}},
		{"non-numeric Last-Event-ID falls back to offset", "?offset=%d", func(uint64) []string { return []string{"Last-Event-ID", "evt_x"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			ts := newTestServer(t)
			ts.createMock(t, ctx, "s1")
			first := ts.openSSE(t, ctx, http.MethodGet, ssePath, "")
			got := first.until(t, isType("session.started"))
			ts.send(t, ctx, "s1", "demo")
			got = append(got, first.until(t, func(e event) bool { return e.Sequence == 20 })...)
			first.Close()

			last := got[len(got)-1].Sequence
			query := tc.query
			if strings.Contains(query, "%d") {
				query = fmt.Sprintf(query, last)
			}
			var header []string
			if tc.header != nil {
				header = tc.header(last)
			}
			second := ts.openSSE(t, ctx, http.MethodGet, ssePath+query, "", header...)
			got = append(got, second.until(t, isType("turn.ended"))...)
			checkDense(t, sequences(got), 1)
			if n := len(got); n != 68 {
				t.Errorf("%d events, want the demo's 68", n)
			}
			checkSameEvents(t, ts, ctx, got)
		})
	}
}

// TestIncludeRaw: only the mock's agent.unparsed has a raw payload, and it
// is served only when asked for, under either spelling.
func TestIncludeRaw(t *testing.T) {
	ctx := testCtx(t)
	ts := newTestServer(t)
	ts.createMock(t, ctx, "s1")
	ts.send(t, ctx, "s1", "error")
	ts.waitFor(t, ctx, "s1", 1, isType("turn.ended"))
	ts.createMock(t, ctx, "s2")

	checkRaw := func(t *testing.T, events []event, withRaw bool) {
		t.Helper()
		unparsed := 0
		for _, e := range events {
			want := "null"
			if e.Type == "agent.unparsed" {
				unparsed++
				if withRaw {
					want = `{"raw":"mock"}`
				}
			}
			if string(e.Raw) != want {
				t.Errorf("event %d (%s): raw %s, want %s", e.Sequence, e.Type, e.Raw, want)
			}
		}
		if unparsed != 1 {
			t.Errorf("%d agent.unparsed events, want 1", unparsed)
		}
	}
	for _, tc := range []struct {
		query   string
		withRaw bool
	}{
		{"", false},
		{"?include_raw=true", true},
		{"?includeRaw=true", true},
		{"?include_raw=false", false},
		{"?includeRaw=false", false},
	} {
		t.Run("events"+tc.query, func(t *testing.T) {
			checkRaw(t, decodeAll(t, ts.events(t, ctx, "s1", tc.query)), tc.withRaw)
		})
		t.Run("sse"+tc.query, func(t *testing.T) {
			s := ts.openSSE(t, ctx, http.MethodGet, ssePath+tc.query, "")
			defer s.Close()
			checkRaw(t, s.until(t, isType("turn.ended")), tc.withRaw)
		})
		t.Run("messages/stream"+tc.query, func(t *testing.T) {
			s := ts.openSSE(t, ctx, http.MethodPost, "/v1/sessions/s2/messages/stream"+tc.query, `{"message":"unparsed"}`)
			defer s.Close()
			// The turn stream ends at the agent.unparsed.
			got := s.until(t, isType("agent.unparsed"))
			checkRaw(t, got, tc.withRaw)
			s.expectEnd(t)
			ts.waitFor(t, ctx, "s2", got[len(got)-1].Sequence, isType("turn.ended"))
		})
	}
}

// TestSSEKeepAlive: an idle stream gets comment frames, and events still
// follow them.
func TestSSEKeepAlive(t *testing.T) {
	ctx := testCtx(t)
	ts := newTestServer(t, func(d *api.Deps) { d.KeepAlive = 50 * time.Millisecond })
	ts.createMock(t, ctx, "s1")
	s := ts.openSSE(t, ctx, http.MethodGet, ssePath, "")
	s.until(t, isType("session.started"))
	for range 2 {
		f, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f.Fields, []string{""}) || f.Comment != "keep-alive" {
			t.Fatalf("idle stream sent %+v, want a keep-alive comment", f)
		}
	}
	ts.send(t, ctx, "s1", "help")
	got := s.until(t, isType("turn.ended"))
	checkDense(t, sequences(got), 2)
}

// TestSSEEndsWithSession: the stream ends after the session.ended that
// ends the session, replays of an ended session end there too, and a
// reconnect after the last event is told 204.
func TestSSEEndsWithSession(t *testing.T) {
	ctx := testCtx(t)
	ts := newTestServer(t)
	ts.createMock(t, ctx, "s1")
	live := ts.openSSE(t, ctx, http.MethodGet, ssePath, "")
	live.until(t, isType("session.started"))
	// The mock's own session.ended does not end the session (spec §13.3):
	// the stream goes on.
	ts.send(t, ctx, "s1", "end")
	live.until(t, isType("session.ended"))
	ts.send(t, ctx, "s1", "help")
	live.until(t, isType("turn.ended"))
	ts.expect(t, ctx, http.StatusNoContent, http.MethodPost, "/v1/sessions/s1/terminate", "")
	ended := live.until(t, isType("session.ended"))
	live.expectEnd(t)
	last := ended[len(ended)-1].Sequence
	if stored := len(ts.events(t, ctx, "s1", "")); uint64(stored) != last {
		t.Fatalf("stream ended at %d, log holds %d events", last, stored)
	}

	for _, from := range []uint64{0, 4, last - 1} {
		t.Run(fmt.Sprintf("replay from %d", from), func(t *testing.T) {
			s := ts.openSSE(t, ctx, http.MethodGet, ssePath, "", "Last-Event-ID", strconv.FormatUint(from, 10))
			got := s.until(t, func(e event) bool { return e.Sequence == last })
			checkDense(t, sequences(got), from+1)
			s.expectEnd(t)
		})
	}
	for _, tc := range []struct{ query, lastID string }{
		{"", strconv.FormatUint(last, 10)},
		{fmt.Sprintf("?offset=%d", last), ""},
		{"", "999"},
	} {
		t.Run("reconnect "+tc.query+tc.lastID, func(t *testing.T) {
			var header []string
			if tc.lastID != "" {
				header = []string{"Last-Event-ID", tc.lastID}
			}
			res := ts.request(t, ctx, http.MethodGet, ssePath+tc.query, "", header...)
			if res.Status != http.StatusNoContent || len(res.Body) != 0 {
				t.Errorf("status %d body %q, want 204 and no body", res.Status, res.Body)
			}
		})
	}
}

// TestMessageStream: POST /messages/stream sends only what follows the
// message and ends where the turn pauses.
func TestMessageStream(t *testing.T) {
	for _, tc := range []struct {
		message string
		last    func(event) bool
	}{
		{"tool", isType("turn.ended")},
		{"permission", isAbout("permission.requested", "mock_2_permission")},
		{promptQuestion, isAbout("question.requested", "mock_2_question")},
		{"error", isType("error")},
		{"end", isType("session.ended")},
	} {
		t.Run(tc.message, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			ts := newTestServer(t)
			ts.createMock(t, ctx, "s1")
			ts.send(t, ctx, "s1", "help")
			before := ts.waitFor(t, ctx, "s1", 1, isType("turn.ended")).Sequence
			body, _ := json.Marshal(map[string]string{"message": tc.message})
			s := ts.openSSE(t, ctx, http.MethodPost, "/v1/sessions/s1/messages/stream", string(body))
			got := s.until(t, untilTurnPauses)
			if !tc.last(got[len(got)-1]) {
				t.Errorf("stream ended at %s %s", got[len(got)-1].Type, got[len(got)-1].subject())
			}
			if got[0].Type != "turn.started" {
				t.Errorf("first event %s, want turn.started", got[0].Type)
			}
			checkDense(t, sequences(got), before+1)
			checkSameEvents(t, ts, ctx, got)
			s.expectEnd(t)
		})
	}
}

// untilTurnPauses lists the event types that end a turn stream (spec §7.4).
func untilTurnPauses(e event) bool {
	switch e.Type {
	case "turn.ended", "session.ended", "error", "agent.unparsed", "permission.requested", "question.requested":
		return true
	}
	return false
}

// TestManySubscribers: 1000 subscribers of one session each receive every
// event of a demo, in order, once.
func TestManySubscribers(t *testing.T) {
	const n = 1000
	// A thousand streams under the race detector on a small machine take
	// a while: this test gets more than waitLong.
	ctx, cancel := context.WithTimeout(t.Context(), 4*waitLong)
	defer cancel()
	ts := newTestServer(t)
	transport := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n}
	t.Cleanup(transport.CloseIdleConnections)
	subs := *ts
	subs.Client = &http.Client{Transport: transport}
	ts.createMock(t, ctx, "s1")

	results := make([][]event, n)
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	ready.Add(n)
	for i := range n {
		done.Go(func() {
			readyOnce := sync.OnceFunc(ready.Done)
			defer readyOnce()
			s, err := subs.subscribe(ctx, http.MethodGet, ssePath, "")
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			first, err := s.nextEvent()
			if err != nil {
				errs[i] = err
				return
			}
			readyOnce()
			rest, err := s.readUntil(isType("turn.ended"))
			results[i], errs[i] = append([]event{first}, rest...), err
		})
	}
	ready.Wait()
	ts.send(t, ctx, "s1", "demo")
	done.Wait()

	stored := ts.events(t, ctx, "s1", "")
	failed := 0
	for i, got := range results {
		if errs[i] == nil && len(got) != len(stored) {
			errs[i] = fmt.Errorf("%d events, want %d", len(got), len(stored))
		}
		for j := 0; errs[i] == nil && j < len(got); j++ {
			if !bytes.Equal(got[j].JSON, stored[j]) {
				errs[i] = fmt.Errorf("event %d is %s, want %s", j+1, got[j].JSON, stored[j])
			}
		}
		if errs[i] != nil {
			if failed++; failed <= 5 {
				t.Errorf("subscriber %d: %v", i, errs[i])
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d subscribers failed", failed, n)
	}
}

// TestStuckSubscriber: a subscriber that never reads holds no one up. The
// turns are large enough to fill its connection's buffers, so the server
// blocks writing to it while another subscriber reads everything. A
// subscriber that was stuck and reads later still gets every event, and
// one that is cancelled while stuck is let go.
func TestStuckSubscriber(t *testing.T) {
	ctx := testCtx(t)
	ts := newTestServer(t)
	ts.createMock(t, ctx, "s1")
	stuckCtx, cancelStuck := context.WithCancel(ctx)
	defer cancelStuck()
	stuck := ts.openSSE(t, stuckCtx, http.MethodGet, ssePath, "")
	late := ts.openSSE(t, ctx, http.MethodGet, ssePath, "")
	reader := ts.openSSE(t, ctx, http.MethodGet, ssePath, "")

	// Each turn stores the text five times (user item twice, echo three
	// times): about 10 MB in all, more than a loopback connection buffers
	// (Linux grows a send buffer to 4 MiB by default, and a receive buffer
	// only as the reader reads).
	const turns = 2
	big := strings.Repeat("x", 1000_000)
	for range turns {
		ts.send(t, ctx, "s1", big)
	}
	endOfTurn := func() func(event) bool {
		seen := 0
		return func(e event) bool {
			if e.Type == "turn.ended" {
				seen++
			}
			return seen == turns
		}
	}
	got := reader.until(t, endOfTurn())
	checkDense(t, sequences(got), 1)

	cancelStuck()
	stuck.Close()

	got = late.until(t, endOfTurn())
	checkDense(t, sequences(got), 1)
}

// TestEventsPaging: GET /events serves sequence > offset, at most limit of
// them, and hasMore says whether more matched (spec §7.6).
func TestEventsPaging(t *testing.T) {
	ctx := testCtx(t)
	ts := newTestServer(t)
	ts.createMock(t, ctx, "s1")
	ts.send(t, ctx, "s1", "help")
	ts.waitFor(t, ctx, "s1", 1, isType("turn.ended")) // 8 events in all
	for _, tc := range []struct {
		query   string
		from    uint64
		n       int
		hasMore bool
	}{
		{"", 1, 8, false},
		{"?offset=0", 1, 8, false},
		{"?offset=3", 4, 5, false},
		{"?offset=8", 0, 0, false},
		{"?offset=100", 0, 0, false},
		{"?limit=3", 1, 3, true},
		{"?offset=5&limit=3", 6, 3, false},
		{"?offset=5&limit=2", 6, 2, true},
		{"?limit=0", 0, 0, true},
		{"?offset=8&limit=0", 0, 0, false},
		{"?limit=100", 1, 8, false},
	} {
		t.Run(tc.query, func(t *testing.T) {
			res := ts.expect(t, ctx, http.StatusOK, http.MethodGet, "/v1/sessions/s1/events"+tc.query, "")
			var page struct {
				Events  []json.RawMessage `json:"events"`
				HasMore *bool             `json:"hasMore"`
			}
			if err := json.Unmarshal(res.Body, &page); err != nil || page.Events == nil || page.HasMore == nil {
				t.Fatalf("page %s (%v): want events [] and hasMore present", res.Body, err)
			}
			if len(page.Events) != tc.n || *page.HasMore != tc.hasMore {
				t.Fatalf("%d events, hasMore %v; want %d, %v", len(page.Events), *page.HasMore, tc.n, tc.hasMore)
			}
			checkDense(t, sequences(decodeAll(t, page.Events)), tc.from)
		})
	}
}
