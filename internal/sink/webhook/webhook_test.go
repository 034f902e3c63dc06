package webhook

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/agentd-dev/agentd/internal/sink"
	"github.com/agentd-dev/agentd/internal/sink/sinktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var secret = []byte("whsec-test")

// receiver is a webhook endpoint that checks every signature, answers each
// delivery as told by refuse, and remembers what it accepted.
type receiver struct {
	t      *testing.T
	refuse func(key string, attempt int) int // a status to answer with, 0 to accept

	mu       sync.Mutex
	attempts map[string]int
	accepted []string       // keys, in the order first accepted
	accepts  map[string]int // how many times each key was accepted
}

func newReceiver(t *testing.T, refuse func(key string, attempt int) int) (*receiver, *httptest.Server) {
	r := &receiver{t: t, refuse: refuse, attempts: map[string]int{}, accepts: map[string]int{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	ts := req.Header.Get(HeaderTimestamp)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "." + string(body)))
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); !hmac.Equal([]byte(req.Header.Get(HeaderSignature)), []byte(want)) {
		r.t.Errorf("bad signature %q for %s", req.Header.Get(HeaderSignature), body)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var env struct {
		EventID   string `json:"event_id"`
		SessionID string `json:"session_id"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.EventID != req.Header.Get(HeaderEventID) ||
		env.SessionID != req.Header.Get(HeaderSessionID) || req.Header.Get(HeaderDaemonID) != "d1" {
		r.t.Errorf("headers %v do not match body %s", req.Header, body)
	}
	key := req.Header.Get(HeaderIdempotencyKey)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[key]++
	if code := r.refuse(key, r.attempts[key]); code != 0 {
		w.WriteHeader(code)
		return
	}
	if r.accepts[key] == 0 {
		r.accepted = append(r.accepted, key)
	}
	r.accepts[key]++
	w.WriteHeader(http.StatusNoContent)
}

func newSink(t *testing.T, url string, maxAttempts int) (*Sink, string) {
	t.Helper()
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	s, err := New(Options{URL: url, DaemonID: "d1", Secret: secret, DeadLetterPath: dl, MaxAttempts: maxAttempts,
		MinBackoff: time.Millisecond, MaxBackoff: 8 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s, dl
}

func keys(sessions map[string]uint64, order []string) []string {
	var out []string
	for _, id := range order {
		for seq := uint64(1); seq <= sessions[id]; seq++ {
			out = append(out, fmt.Sprintf("d1/%s/%d", id, seq))
		}
	}
	return out
}

// TestRetriesThenDeliversOnce: the receiver fails the first three attempts
// of every fifth event with a 500; each event is still accepted exactly
// once, in commit order, every delivery signed.
func TestRetriesThenDeliversOnce(t *testing.T) {
	recv, srv := newReceiver(t, func(key string, attempt int) int {
		if strings.HasSuffix(key, "5") && attempt <= 3 {
			return http.StatusInternalServerError
		}
		return 0
	})
	l := sinktest.OpenLog(t)
	sinktest.Append(t, l, "a", 1, 12)
	sinktest.Append(t, l, "b", 1, 6)
	dst, dl := newSink(t, srv.URL, 8)
	s := sinktest.Start(t, l, dst, sink.Options{Cursor: sink.FileCursor{Path: filepath.Join(t.TempDir(), "c")}, BatchSize: 4})
	sinktest.WaitAll(t, l, s)
	want := keys(map[string]uint64{"a": 12, "b": 6}, []string{"a", "b"})
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if fmt.Sprint(recv.accepted) != fmt.Sprint(want) {
		t.Fatalf("accepted %v\nwant %v", recv.accepted, want)
	}
	for key, n := range recv.accepts {
		if n != 1 {
			t.Errorf("%s accepted %d times", key, n)
		}
	}
	if recv.attempts["d1/a/5"] != 4 || recv.attempts["d1/b/5"] != 4 {
		t.Errorf("attempts of the refused events: %d, %d; want 4", recv.attempts["d1/a/5"], recv.attempts["d1/b/5"])
	}
	if _, err := os.Stat(dl); !os.IsNotExist(err) || dst.DeadLetters() != 0 {
		t.Fatalf("dead letters without reason: %v, %d", err, dst.DeadLetters())
	}
}

// TestDeadLetterAfterN: an event the receiver always refuses is tried N
// times, set aside with why, and the events after it still arrive.
func TestDeadLetterAfterN(t *testing.T) {
	const n = 4
	recv, srv := newReceiver(t, func(key string, _ int) int {
		switch key {
		case "d1/a/3":
			return http.StatusServiceUnavailable
		case "d1/a/5":
			return http.StatusUnprocessableEntity // permanent: no retries
		}
		return 0
	})
	l := sinktest.OpenLog(t)
	sinktest.Append(t, l, "a", 1, 8)
	dst, dl := newSink(t, srv.URL, n)
	s := sinktest.Start(t, l, dst, sink.Options{Cursor: sink.FileCursor{Path: filepath.Join(t.TempDir(), "c")}})
	sinktest.WaitAll(t, l, s)
	recv.mu.Lock()
	if recv.attempts["d1/a/3"] != n || recv.attempts["d1/a/5"] != 1 || len(recv.accepted) != 6 || recv.accepted[5] != "d1/a/8" {
		t.Fatalf("attempts %v, accepted %v", recv.attempts, recv.accepted)
	}
	recv.mu.Unlock()
	if st := s.Status(sinktest.Ctx(t)); st.DeadLetters != 2 || st.Backlog != 0 || st.Kind != "webhook" {
		t.Fatalf("status %+v; want 2 dead letters and no backlog", st)
	}
	letters := readDeadLetters(t, dl)
	if len(letters) != 2 || letters[0].Key != "d1/a/3" || letters[0].Attempts != n || !strings.Contains(letters[0].Error, "503") ||
		letters[1].Key != "d1/a/5" || letters[1].Attempts != 1 || !strings.Contains(string(letters[0].Event), `"event_id":"evt_3"`) {
		t.Fatalf("dead letters %+v", letters)
	}
	// A restarted daemon still counts them.
	again, err := New(Options{URL: srv.URL, DaemonID: "d1", DeadLetterPath: dl})
	if err != nil || again.DeadLetters() != 2 {
		t.Fatalf("dead letters after restart: %d, %v", again.DeadLetters(), err)
	}
}

func readDeadLetters(t *testing.T, path string) []DeadLetter {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []DeadLetter
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var d DeadLetter
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// TestAttemptsSurviveAGivenUpBatch: when the shipper's deadline cuts a
// batch short, the failing event keeps its attempt count, so it is still
// dead-lettered after N attempts and cannot block the stream forever.
func TestAttemptsSurviveAGivenUpBatch(t *testing.T) {
	_, srv := newReceiver(t, func(key string, _ int) int {
		if key == "d1/a/2" {
			return http.StatusBadGateway
		}
		return 0
	})
	l := sinktest.OpenLog(t)
	sinktest.Append(t, l, "a", 1, 3)
	dst, _ := newSink(t, srv.URL, 3)
	entries, err := l.ReadAfter(sinktest.Ctx(t), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := sink.Batch{Events: entries}
	// Each call is cancelled at its first retry wait.
	for range 2 {
		ctx, cancel := context.WithCancel(sinktest.Ctx(t))
		dst.opts.Logger = slogCancelOnWarn(cancel)
		if err := dst.Ship(ctx, b); err == nil {
			t.Fatal("Ship succeeded with a refused event inside the cut batch")
		}
		cancel()
	}
	if err := dst.Ship(sinktest.Ctx(t), b); err != nil || dst.DeadLetters() != 1 {
		t.Fatalf("third Ship: %v, %d dead letters; want the event dead-lettered at its third attempt", err, dst.DeadLetters())
	}
}

func TestNewRejectsAndRedacts(t *testing.T) {
	for _, u := range []string{"ftp://x/", "https://", "::"} {
		if _, err := New(Options{URL: u, DaemonID: "d", DeadLetterPath: "x"}); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
	if got := Redact("https://user:pw@hooks.example/path?token=abc#frag"); got != "https://hooks.example/path" {
		t.Errorf("Redact = %q", got)
	}
	if got := Sign([]byte("k"), "1", []byte("{}")); !strings.HasPrefix(got, "sha256=") || len(got) != 7+64 {
		t.Errorf("Sign = %q", got)
	}
}
