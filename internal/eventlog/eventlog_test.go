package eventlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testCtx is the deadline every wait in these tests is bounded by.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openLog(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(testCtx(t), dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return l
}

func closeLog(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// mkRec builds a deterministic record; every third one carries a raw payload.
func mkRec(sessionID string, seq uint64) Record {
	r := Record{
		Seq:  seq,
		Type: "message",
		Body: fmt.Appendf(nil, `{"session":%q,"seq":%d,"type":"message","data":{"text":"event %d of %s"},"raw":null}`, sessionID, seq, seq, sessionID),
	}
	if seq%3 == 0 {
		r.Raw = fmt.Appendf(nil, `{"native":true,"n":%d}`, seq)
	}
	return r
}

func mkRecs(sessionID string, from, to uint64) []Record {
	var out []Record
	for s := from; s <= to; s++ {
		out = append(out, mkRec(sessionID, s))
	}
	return out
}

func mkSession(id string, at int64) Session {
	return Session{ID: id, Info: fmt.Appendf(nil, `{"id":%q,"state":"new"}`, id), CreatedAt: at, UpdatedAt: at}
}

func seqs(recs []Record) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func sameRecords(a, b []Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Seq != b[i].Seq || a[i].Type != b[i].Type || !bytes.Equal(a[i].Body, b[i].Body) ||
			!bytes.Equal(a[i].Raw, b[i].Raw) || (a[i].Raw == nil) != (b[i].Raw == nil) {
			return false
		}
	}
	return true
}

func mustRead(t testing.TB, l *Log, sessionID string, after uint64, limit int) []Record {
	t.Helper()
	recs, err := l.Read(testCtx(t), sessionID, after, limit)
	if err != nil {
		t.Fatalf("Read(%s, %d, %d): %v", sessionID, after, limit, err)
	}
	return recs
}

func sessionsByID(t testing.TB, l *Log) map[string]Session {
	t.Helper()
	ss, err := l.Sessions(testCtx(t))
	if err != nil {
		t.Fatalf("Sessions: %v", err)
	}
	out := make(map[string]Session, len(ss))
	for _, s := range ss {
		out[s.ID] = s
	}
	return out
}

func TestReadAllAfterLimit(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	if err := l.CreateSession(ctx, mkSession("s1", 100), mkRecs("s1", 1, 3)); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(ctx, "s1", nil, 101, mkRecs("s1", 4, 6)...); err != nil {
		t.Fatal(err)
	}
	for seq := uint64(7); seq <= 10; seq++ {
		if err := l.Append(ctx, "s1", nil, 101, mkRec("s1", seq)); err != nil {
			t.Fatal(err)
		}
	}
	want := mkRecs("s1", 1, 10)

	check := func(t *testing.T, l *Log) {
		cases := []struct {
			after uint64
			limit int
			want  []Record
		}{
			{0, 0, want},
			{0, -1, want},
			{0, 100, want},
			{4, 0, want[4:]},
			{4, 3, want[4:7]},
			{0, 1, want[:1]},
			{9, 0, want[9:]},
			{9, 5, want[9:]},
			{10, 0, nil},
			{1000, 0, nil},
		}
		for _, c := range cases {
			got := mustRead(t, l, "s1", c.after, c.limit)
			if !sameRecords(got, c.want) {
				t.Errorf("Read(after=%d, limit=%d) = seqs %v, want %v", c.after, c.limit, seqs(got), seqs(c.want))
			}
		}
		if got := mustRead(t, l, "unknown", 0, 0); len(got) != 0 {
			t.Errorf("Read(unknown) = %v, want nothing", seqs(got))
		}
	}
	t.Run("live", func(t *testing.T) { check(t, l) })
	closeLog(t, l)
	l = openLog(t, dir, Options{})
	defer closeLog(t, l)
	t.Run("reopened", func(t *testing.T) { check(t, l) })
}

func TestRecordJSON(t *testing.T) {
	body := []byte(`{"seq":3,"type":"message","raw":null}`)
	raw := []byte(`{"native":[1,2,3]}`)

	r := Record{Seq: 3, Type: "message", Body: body, Raw: raw}
	got := r.JSON(true)
	if want := `{"seq":3,"type":"message","raw":{"native":[1,2,3]}}`; string(got) != want {
		t.Fatalf("JSON(true) = %s, want %s", got, want)
	}
	if !json.Valid(got) {
		t.Fatalf("JSON(true) is not valid JSON: %s", got)
	}
	if string(body) != `{"seq":3,"type":"message","raw":null}` {
		t.Fatalf("JSON(true) modified Body: %s", body)
	}
	if got := r.JSON(false); !bytes.Equal(got, body) {
		t.Fatalf("JSON(false) = %s, want body", got)
	}

	noRaw := Record{Seq: 3, Type: "message", Body: body}
	for _, include := range []bool{true, false} {
		got := noRaw.JSON(include)
		if !bytes.Equal(got, body) {
			t.Fatalf("JSON(%v) without raw = %s, want body unchanged", include, got)
		}
		if &got[0] != &body[0] {
			t.Fatalf("JSON(%v) without raw copied Body; want Body itself", include)
		}
	}
	if got := (Record{Body: body, Raw: []byte{}}).JSON(true); !bytes.Equal(got, body) {
		t.Fatalf("JSON(true) with empty raw = %s, want body", got)
	}

	// A body that does not end in the raw:null placeholder is left alone
	// rather than having its last bytes cut off.
	odd := []byte(`{"seq":3,"raw":1}`)
	if got := (Record{Body: odd, Raw: raw}).JSON(true); !bytes.Equal(got, odd) {
		t.Fatalf("JSON(true) on body without placeholder = %s, want %s", got, odd)
	}

	// Round trip through the log: a nil Raw is stored as NULL and comes
	// back nil; a raw payload comes back as it was.
	ctx := testCtx(t)
	l := openLog(t, t.TempDir(), Options{})
	defer closeLog(t, l)
	recs := []Record{{Seq: 1, Type: "a", Body: body}, {Seq: 2, Type: "b", Body: body, Raw: raw}}
	if err := l.CreateSession(ctx, mkSession("s", 1), recs); err != nil {
		t.Fatal(err)
	}
	got2 := mustRead(t, l, "s", 0, 0)
	if !sameRecords(got2, recs) {
		t.Fatalf("round trip: got %+v, want %+v", got2, recs)
	}
	if got2[0].Raw != nil {
		t.Fatalf("nil raw came back as %q", got2[0].Raw)
	}
	if string(got2[1].JSON(true)) != `{"seq":3,"type":"message","raw":{"native":[1,2,3]}}` {
		t.Fatalf("stored record JSON(true) = %s", got2[1].JSON(true))
	}
}

func TestCreateSessionExists(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	first := mkSession("s", 10)
	if err := l.CreateSession(ctx, first, mkRecs("s", 1, 2)); err != nil {
		t.Fatal(err)
	}
	dup := mkSession("s", 20)
	dup.Info = []byte(`{"other":true}`)
	err := l.CreateSession(ctx, dup, []Record{{Seq: 3, Type: "x", Body: []byte(`{"raw":null}`)}})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate CreateSession: err = %v, want ErrExists", err)
	}
	check := func(l *Log) {
		if got := mustRead(t, l, "s", 0, 0); !sameRecords(got, mkRecs("s", 1, 2)) {
			t.Fatalf("after duplicate create: events %v, want 1..2", seqs(got))
		}
		s := sessionsByID(t, l)["s"]
		if string(s.Info) != string(first.Info) || s.CreatedAt != 10 || s.UpdatedAt != 10 || s.LastSeq != 2 {
			t.Fatalf("after duplicate create: session %+v, want the first one", s)
		}
	}
	check(l)
	closeLog(t, l)
	l = openLog(t, dir, Options{})
	defer closeLog(t, l)
	check(l)
	if err := l.CreateSession(ctx, dup, nil); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate CreateSession after reopen: err = %v, want ErrExists", err)
	}
}

func TestAppendUnknownSession(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	changed := l.Changed("ghost")
	err := l.Append(ctx, "ghost", []byte(`{}`), 5, mkRecs("ghost", 1, 3)...)
	if err == nil {
		t.Fatal("Append to unknown session succeeded")
	}
	if errors.Is(err, ErrExists) || errors.Is(err, ErrClosed) {
		t.Fatalf("Append to unknown session: unexpected error kind %v", err)
	}
	select {
	case <-changed:
		t.Fatal("failed Append woke readers")
	default:
	}
	if got := mustRead(t, l, "ghost", 0, 0); len(got) != 0 {
		t.Fatalf("failed Append stored events %v", seqs(got))
	}
	closeLog(t, l)
	l = openLog(t, dir, Options{})
	defer closeLog(t, l)
	if got := mustRead(t, l, "ghost", 0, 0); len(got) != 0 {
		t.Fatalf("failed Append stored events %v", seqs(got))
	}
	if ss := sessionsByID(t, l); len(ss) != 0 {
		t.Fatalf("failed Append stored sessions %v", ss)
	}
}

// TestBatchIsolation hands the writer's commit one batch mixing good and bad
// writes: each bad one fails alone and every good one is committed.
func TestBatchIsolation(t *testing.T) {
	ctx := testCtx(t)
	l := openLog(t, t.TempDir(), Options{})
	defer closeLog(t, l)
	if err := l.CreateSession(ctx, mkSession("a", 1), mkRecs("a", 1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := l.CreateSession(ctx, mkSession("b", 1), nil); err != nil {
		t.Fatal(err)
	}
	mk := func(w write) *write { w.done = make(chan error, 1); return &w }
	newC := mkSession("c", 2)
	newC.LastSeq = 1
	dupA := mkSession("a", 2)
	batch := []*write{
		mk(write{sessionID: "a", updatedAt: 2, recs: mkRecs("a", 2, 3)}),   // ok
		mk(write{sessionID: "a", updatedAt: 2, recs: mkRecs("a", 1, 1)}),   // duplicate seq
		mk(write{sessionID: "b", updatedAt: 2, recs: mkRecs("b", 1, 2)}),   // ok
		mk(write{sessionID: "zz", updatedAt: 2, recs: mkRecs("zz", 1, 1)}), // unknown session
		mk(write{sessionID: "c", create: &newC, recs: mkRecs("c", 1, 1)}),  // ok
		mk(write{sessionID: "a", create: &dupA, recs: nil}),                // session exists
		mk(write{sessionID: "b", updatedAt: 3, recs: mkRecs("b", 2, 2)}),   // duplicate seq (same batch)
		mk(write{sessionID: "b", updatedAt: 3, info: []byte(`{"i":1}`)}),   // ok, info only
	}
	wantErr := []bool{false, true, false, true, false, true, true, false}
	changedB := l.Changed("b")
	l.commit(batch)
	for i, w := range batch {
		err := <-w.done
		if (err != nil) != wantErr[i] {
			t.Errorf("write %d (%s): err = %v, want error %v", i, w.sessionID, err, wantErr[i])
		}
		if i == 5 {
			w.done <- err // looked at again below
		}
	}
	if err := <-batch[5].done; !errors.Is(err, ErrExists) {
		t.Errorf("create of existing session in a batch: %v, want ErrExists", err)
	}
	for i, w := range batch {
		select {
		case err := <-w.done:
			t.Errorf("write %d answered twice: %v", i, err)
		default:
		}
	}
	select {
	case <-changedB:
	default:
		t.Fatal("committed write in a failed batch did not wake readers")
	}
	if got := mustRead(t, l, "a", 0, 0); !sameRecords(got, mkRecs("a", 1, 3)) {
		t.Errorf("a: %v, want 1..3", seqs(got))
	}
	if got := mustRead(t, l, "b", 0, 0); !sameRecords(got, mkRecs("b", 1, 2)) {
		t.Errorf("b: %v, want 1..2", seqs(got))
	}
	if got := mustRead(t, l, "c", 0, 0); !sameRecords(got, mkRecs("c", 1, 1)) {
		t.Errorf("c: %v, want 1", seqs(got))
	}
	ss := sessionsByID(t, l)
	if s := ss["b"]; s.LastSeq != 2 || s.UpdatedAt != 3 || string(s.Info) != `{"i":1}` {
		t.Errorf("b: %+v", s)
	}
	if s := ss["a"]; s.LastSeq != 3 || s.CreatedAt != 1 {
		t.Errorf("a: %+v", s)
	}
	if _, ok := ss["zz"]; ok || len(ss) != 3 {
		t.Errorf("sessions: %v", ss)
	}
}

// TestBadWriteAmongConcurrentWrites runs the same thing through the public
// API: one goroutine keeps appending an already used seq while others append
// to their own sessions; only the bad appends fail.
func TestBadWriteAmongConcurrentWrites(t *testing.T) {
	ctx := testCtx(t)
	l := openLog(t, t.TempDir(), Options{})
	defer closeLog(t, l)
	const sessions, perSession = 8, 60
	if err := l.CreateSession(ctx, mkSession("dup", 1), mkRecs("dup", 1, 1)); err != nil {
		t.Fatal(err)
	}
	for i := range sessions {
		id := fmt.Sprintf("s%d", i)
		if err := l.CreateSession(ctx, mkSession(id, 1), nil); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var dupFailures, dupSuccesses int
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := l.Append(ctx, "dup", nil, 2, mkRec("dup", 1)); err != nil {
				dupFailures++
			} else {
				dupSuccesses++
			}
			if err := l.Append(ctx, "nope", nil, 2, mkRec("nope", 1)); err == nil {
				dupSuccesses++
			}
		}
	})
	errs := make(chan error, sessions)
	var good sync.WaitGroup
	for i := range sessions {
		id := fmt.Sprintf("s%d", i)
		good.Go(func() {
			for seq := uint64(1); seq <= perSession; seq++ {
				if err := l.Append(ctx, id, nil, 2, mkRec(id, seq)); err != nil {
					errs <- fmt.Errorf("%s/%d: %w", id, seq, err)
					return
				}
			}
		})
	}
	good.Wait()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if dupSuccesses != 0 || dupFailures == 0 {
		t.Fatalf("bad appends: %d succeeded, %d failed", dupSuccesses, dupFailures)
	}
	for i := range sessions {
		id := fmt.Sprintf("s%d", i)
		if got := mustRead(t, l, id, 0, 0); !sameRecords(got, mkRecs(id, 1, perSession)) {
			t.Errorf("%s: %v", id, seqs(got))
		}
	}
	if got := mustRead(t, l, "dup", 0, 0); !sameRecords(got, mkRecs("dup", 1, 1)) {
		t.Errorf("dup: %v", seqs(got))
	}
}

func TestDurabilityReopen(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	l := openLog(t, dir, Options{TailRecords: 16})
	want := map[string]Session{}
	events := map[string][]Record{}
	for i := range 5 {
		id := fmt.Sprintf("sess-%d", i)
		s := mkSession(id, int64(1000+i))
		n := uint64(i * 3) // sess-0 starts empty
		if err := l.CreateSession(ctx, s, mkRecs(id, 1, n)); err != nil {
			t.Fatal(err)
		}
		s.LastSeq = n
		want[id] = s
		events[id] = mkRecs(id, 1, n)
	}
	// Appends that update info, that keep it (nil info) and that only
	// touch info.
	for round := range 30 {
		for i := range 5 {
			id := fmt.Sprintf("sess-%d", i)
			s := want[id]
			var info []byte
			if round%4 == 0 {
				info = fmt.Appendf(nil, `{"id":%q,"round":%d}`, id, round)
				s.Info = info
			}
			s.UpdatedAt = int64(2000 + round*10 + i)
			var recs []Record
			if round%5 != 4 {
				recs = mkRecs(id, s.LastSeq+1, s.LastSeq+uint64(1+round%3))
				s.LastSeq += uint64(1 + round%3)
			}
			if err := l.Append(ctx, id, info, s.UpdatedAt, recs...); err != nil {
				t.Fatal(err)
			}
			want[id] = s
			events[id] = append(events[id], recs...)
		}
	}
	check := func(t *testing.T, l *Log) {
		got := sessionsByID(t, l)
		if len(got) != len(want) {
			t.Fatalf("%d sessions, want %d", len(got), len(want))
		}
		for id, w := range want {
			g := got[id]
			if g.ID != w.ID || !bytes.Equal(g.Info, w.Info) || g.CreatedAt != w.CreatedAt || g.UpdatedAt != w.UpdatedAt || g.LastSeq != w.LastSeq {
				t.Errorf("session %s = %+v (info %s), want %+v (info %s)", id, g, g.Info, w, w.Info)
			}
			if recs := mustRead(t, l, id, 0, 0); !sameRecords(recs, events[id]) {
				t.Errorf("session %s events %v, want %v", id, seqs(recs), seqs(events[id]))
			}
		}
	}
	t.Run("before close", func(t *testing.T) { check(t, l) })
	closeLog(t, l)
	l = openLog(t, dir, Options{TailRecords: 16})
	t.Run("after reopen", func(t *testing.T) { check(t, l) })
	// Appending after a reopen continues the same sessions.
	s := want["sess-1"]
	if err := l.Append(ctx, "sess-1", nil, 9999, mkRec("sess-1", s.LastSeq+1)); err != nil {
		t.Fatal(err)
	}
	events["sess-1"] = append(events["sess-1"], mkRec("sess-1", s.LastSeq+1))
	s.LastSeq++
	s.UpdatedAt = 9999
	want["sess-1"] = s
	t.Run("after reopen and append", func(t *testing.T) { check(t, l) })
	closeLog(t, l)
	l = openLog(t, dir, Options{})
	defer closeLog(t, l)
	t.Run("second reopen", func(t *testing.T) { check(t, l) })
}

// TestTailMatchesDatabase reads every offset with several limits from a log
// serving recent events from its small tail cache and from a freshly
// reopened log that has no tail; the answers must be identical.
func TestTailMatchesDatabase(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	const tail, total = 8, 100
	l := openLog(t, dir, Options{TailRecords: tail})
	if err := l.CreateSession(ctx, mkSession("s", 1), mkRecs("s", 1, 2)); err != nil {
		t.Fatal(err)
	}
	// Mostly single appends, with some multi-record ones, including one
	// larger than the tail itself.
	for seq := uint64(3); seq <= total; {
		n := uint64(1)
		switch {
		case seq == 40:
			n = 13
		case seq%7 == 0:
			n = 3
		}
		n = min(n, total-seq+1)
		if err := l.Append(ctx, "s", nil, 2, mkRecs("s", seq, seq+n-1)...); err != nil {
			t.Fatal(err)
		}
		seq += n
	}
	limits := []int{0, 1, 2, 5, 8, 9, 50, 1000}
	type key struct {
		after uint64
		limit int
	}
	live := map[key][]Record{}
	servedFromTail := 0
	for after := uint64(0); after <= total; after++ {
		for _, limit := range limits {
			if _, ok := l.readTail("s", after, limit); ok {
				servedFromTail++
			}
			live[key{after, limit}] = mustRead(t, l, "s", after, limit)
		}
	}
	if servedFromTail == 0 || servedFromTail == len(live) {
		t.Fatalf("%d of %d reads served from the tail; want both paths exercised", servedFromTail, len(live))
	}
	all := mkRecs("s", 1, total)
	closeLog(t, l)

	l = openLog(t, dir, Options{TailRecords: tail})
	defer closeLog(t, l)
	for after := uint64(0); after <= total; after++ {
		for _, limit := range limits {
			if _, ok := l.readTail("s", after, limit); ok {
				t.Fatalf("reopened log served (%d, %d) from a tail", after, limit)
			}
			db := mustRead(t, l, "s", after, limit)
			got := live[key{after, limit}]
			if !sameRecords(got, db) {
				t.Fatalf("after=%d limit=%d: live %v, database %v", after, limit, seqs(got), seqs(db))
			}
			want := all[after:]
			if limit > 0 && limit < len(want) {
				want = want[:limit]
			}
			if !sameRecords(db, want) {
				t.Fatalf("after=%d limit=%d: %v, want %v", after, limit, seqs(db), seqs(want))
			}
		}
	}
}

func TestChangedWakesReader(t *testing.T) {
	ctx := testCtx(t)
	l := openLog(t, t.TempDir(), Options{})
	defer closeLog(t, l)
	if err := l.CreateSession(ctx, mkSession("s", 1), nil); err != nil {
		t.Fatal(err)
	}

	ready := make(chan struct{})
	result := make(chan []Record, 1)
	errc := make(chan error, 1)
	go func() {
		changed := l.Changed("s")
		recs, err := l.Read(ctx, "s", 0, 0)
		if err != nil || len(recs) != 0 {
			errc <- fmt.Errorf("first read: %v %v", seqs(recs), err)
			return
		}
		close(ready)
		select {
		case <-changed:
		case <-ctx.Done():
			errc <- fmt.Errorf("not woken: %w", ctx.Err())
			return
		}
		recs, err = l.Read(ctx, "s", 0, 0)
		if err != nil {
			errc <- err
			return
		}
		result <- recs
	}()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if err := l.Append(ctx, "s", nil, 2, mkRec("s", 1)); err != nil {
		t.Fatal(err)
	}
	select {
	case recs := <-result:
		if !sameRecords(recs, mkRecs("s", 1, 1)) {
			t.Fatalf("woken reader read %v", seqs(recs))
		}
	case err := <-errc:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}

	// The notification is sent before Append returns, and a channel is
	// good for one change only.
	changed := l.Changed("s")
	other := l.Changed("other")
	if err := l.Append(ctx, "s", nil, 3, mkRec("s", 2)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed channel still open after Append returned")
	}
	select {
	case <-other:
		t.Fatal("Append to s woke a reader of another session")
	default:
	}
	select {
	case <-l.Changed("s"):
		t.Fatal("fresh Changed channel already closed")
	default:
	}
}

// TestFollow tails a session the way a client connection does while it is
// being written: Changed, Read after cursor, wait.
func TestFollow(t *testing.T) {
	ctx := testCtx(t)
	l := openLog(t, t.TempDir(), Options{TailRecords: 4})
	defer closeLog(t, l)
	if err := l.CreateSession(ctx, mkSession("s", 1), nil); err != nil {
		t.Fatal(err)
	}
	const total = 300
	got := make(chan []Record, 1)
	go func() {
		var out []Record
		var cursor uint64
		for cursor < total {
			changed := l.Changed("s")
			recs, err := l.Read(ctx, "s", cursor, 7)
			if err != nil {
				break
			}
			if len(recs) == 0 {
				select {
				case <-changed:
				case <-ctx.Done():
					got <- out
					return
				}
				continue
			}
			out = append(out, recs...)
			cursor = recs[len(recs)-1].Seq
		}
		got <- out
	}()
	for seq := uint64(1); seq <= total; seq++ {
		if err := l.Append(ctx, "s", nil, 2, mkRec("s", seq)); err != nil {
			t.Fatal(err)
		}
	}
	if recs := <-got; !sameRecords(recs, mkRecs("s", 1, total)) {
		t.Fatalf("follower read %d events, want %d in order", len(recs), total)
	}
}

func TestCloseWakesWaitersAndRejectsWrites(t *testing.T) {
	ctx := testCtx(t)
	l := openLog(t, t.TempDir(), Options{})
	if err := l.CreateSession(ctx, mkSession("s", 1), nil); err != nil {
		t.Fatal(err)
	}
	waiters := []<-chan struct{}{l.Changed("s"), l.Changed("never-written")}
	woken := make(chan struct{})
	go func() {
		for _, c := range waiters {
			<-c
		}
		close(woken)
	}()
	closeLog(t, l)
	select {
	case <-woken:
	case <-ctx.Done():
		t.Fatal("Close did not wake waiters")
	}
	select {
	case <-l.Changed("s"):
	default:
		t.Fatal("Changed after Close is not closed")
	}
	if err := l.Append(ctx, "s", nil, 2, mkRec("s", 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
	if err := l.CreateSession(ctx, mkSession("t", 1), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("CreateSession after Close: %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestCloseDuringAppends closes the log while appends are in flight: every
// Append returns (nil or ErrClosed, never hangs) and every one that returned
// nil is durable.
func TestCloseDuringAppends(t *testing.T) {
	for iter := range 20 {
		ctx := testCtx(t)
		dir := t.TempDir()
		l := openLog(t, dir, Options{MaxBatch: 4})
		const sessions = 8
		for i := range sessions {
			if err := l.CreateSession(ctx, mkSession(fmt.Sprint(i), 1), nil); err != nil {
				t.Fatal(err)
			}
		}
		acked := make([]uint64, sessions)
		var wg sync.WaitGroup
		started := make(chan struct{}, sessions)
		for i := range sessions {
			id := fmt.Sprint(i)
			wg.Go(func() {
				for seq := uint64(1); ; seq++ {
					err := l.Append(ctx, id, nil, 2, mkRec(id, seq))
					if seq == 1 {
						started <- struct{}{}
					}
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("%s/%d: %v", id, seq, err)
						return
					}
					acked[i] = seq
				}
			})
		}
		for range sessions {
			select {
			case <-started:
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
		}
		closeLog(t, l)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("iteration %d: appends hang after Close", iter)
		}
		l = openLog(t, dir, Options{})
		for i := range sessions {
			id := fmt.Sprint(i)
			recs := mustRead(t, l, id, 0, 0)
			if uint64(len(recs)) < acked[i] {
				t.Errorf("%s: %d stored, %d acknowledged", id, len(recs), acked[i])
			}
			for j, r := range recs {
				if r.Seq != uint64(j+1) {
					t.Fatalf("%s: seqs %v", id, seqs(recs))
				}
			}
		}
		closeLog(t, l)
	}
}

func TestConcurrentAppends(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	l := openLog(t, dir, Options{TailRecords: 32})
	const sessions, goroutines, perGoroutine = 10, 20, 200
	const perSession = goroutines * perGoroutine / sessions
	type sess struct {
		id   string
		mu   sync.Mutex
		last uint64
	}
	ss := make([]*sess, sessions)
	for i := range ss {
		ss[i] = &sess{id: fmt.Sprintf("s%02d", i)}
		if err := l.CreateSession(ctx, mkSession(ss[i].id, 1), nil); err != nil {
			t.Fatal(err)
		}
	}
	// One follower per session checks the live stream while it is written.
	var followers sync.WaitGroup
	followErr := make(chan error, sessions)
	for _, s := range ss {
		followers.Go(func() {
			var cursor uint64
			for cursor < perSession {
				changed := l.Changed(s.id)
				recs, err := l.Read(ctx, s.id, cursor, 0)
				if err != nil {
					followErr <- err
					return
				}
				for _, r := range recs {
					if r.Seq != cursor+1 {
						followErr <- fmt.Errorf("%s: follower got %d after %d", s.id, r.Seq, cursor)
						return
					}
					cursor = r.Seq
				}
				if len(recs) == 0 {
					select {
					case <-changed:
					case <-ctx.Done():
						followErr <- fmt.Errorf("%s: follower stuck at %d", s.id, cursor)
						return
					}
				}
			}
		})
	}
	var wg sync.WaitGroup
	errc := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for k := range perGoroutine {
				s := ss[(g+k)%sessions]
				s.mu.Lock()
				seq := s.last + 1
				err := l.Append(ctx, s.id, fmt.Appendf(nil, `{"g":%d}`, g), int64(seq), mkRec(s.id, seq))
				if err == nil {
					s.last = seq
				}
				s.mu.Unlock()
				if err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	followers.Wait()
	close(errc)
	close(followErr)
	for err := range errc {
		t.Error(err)
	}
	for err := range followErr {
		t.Error(err)
	}
	check := func(l *Log) {
		info := sessionsByID(t, l)
		for _, s := range ss {
			recs := mustRead(t, l, s.id, 0, 0)
			if !sameRecords(recs, mkRecs(s.id, 1, perSession)) {
				t.Errorf("%s: %d events, want gap-free 1..%d", s.id, len(recs), perSession)
			}
			if got := info[s.id]; got.LastSeq != perSession || got.UpdatedAt != perSession {
				t.Errorf("%s: session %+v", s.id, got)
			}
		}
	}
	check(l)
	closeLog(t, l)
	l = openLog(t, dir, Options{})
	defer closeLog(t, l)
	check(l)
}

// The crash test: a child process appends to a few sessions as fast as it
// can and prints each committed "session seq"; the parent SIGKILLs it and
// checks the database it left behind.

const helperEnv = "EVENTLOG_TEST_HELPER_DIR"

func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashConsistency")
	}
	ctx := context.Background()
	l, err := Open(ctx, dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for i := range crashSessions {
		id := fmt.Sprintf("c%d", i)
		if err := l.CreateSession(ctx, mkSession(id, 1), nil); err != nil {
			fmt.Fprintln(os.Stderr, "create:", err)
			os.Exit(2)
		}
		wg.Go(func() {
			var last uint64
			for k := 0; ; k++ {
				// Every other append carries two events.
				recs := mkRecs(id, last+1, last+1+uint64(k%2))
				last = recs[len(recs)-1].Seq
				seq := last
				if err := l.Append(ctx, id, fmt.Appendf(nil, `{"seq":%d}`, seq), int64(seq), recs...); err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(2)
				}
				out.Lock()
				_, err := fmt.Printf("%s %d\n", id, seq)
				out.Unlock()
				if err != nil { // parent has gone
					os.Exit(3)
				}
			}
		})
	}
	wg.Wait()
}

const crashSessions = 4

func TestCrashConsistency(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	ctx := testCtx(t)
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reported := map[string][]uint64{}
	commits := 0
	killed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		id, n, ok := strings.Cut(sc.Text(), " ")
		seq, err := strconv.ParseUint(n, 10, 64)
		if !ok || err != nil {
			t.Fatalf("helper printed %q", sc.Text())
		}
		reported[id] = append(reported[id], seq)
		commits++
		if commits == 500 && !killed {
			// Lines still in the pipe were committed too; keep reading them.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("helper exited after %d commits: %v\n%s", commits, err, stderr.String())
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper did not die of SIGKILL: %v\n%s", err, stderr.String())
	}
	if ctx.Err() != nil {
		t.Fatalf("deadline: %v", ctx.Err())
	}
	t.Logf("helper killed after %d reported commits", commits)

	l := openLog(t, dir, Options{})
	defer closeLog(t, l)
	info := sessionsByID(t, l)
	if len(info) != crashSessions {
		t.Fatalf("%d sessions after crash, want %d", len(info), crashSessions)
	}
	for i := range crashSessions {
		id := fmt.Sprintf("c%d", i)
		recs := mustRead(t, l, id, 0, 0)
		for j, r := range recs {
			if want := mkRec(id, uint64(j+1)); !sameRecords([]Record{r}, []Record{want}) {
				t.Fatalf("%s: record %d is seq %d (gap or corruption)", id, j, r.Seq)
			}
		}
		var max uint64
		if len(recs) > 0 {
			max = recs[len(recs)-1].Seq
		}
		for _, seq := range reported[id] {
			if seq > max {
				t.Errorf("%s: seq %d was reported committed but only 1..%d are stored", id, seq, max)
			}
		}
		// The session row was updated in the same transaction as the events.
		s := info[id]
		if s.LastSeq != max {
			t.Errorf("%s: last_seq %d, stored events end at %d", id, s.LastSeq, max)
		}
		if max > 0 && (s.UpdatedAt != int64(max) || string(s.Info) != fmt.Sprintf(`{"seq":%d}`, max)) {
			t.Errorf("%s: updated_at %d, info %s; last append ended at %d", id, s.UpdatedAt, s.Info, max)
		}
		if rep := reported[id]; len(rep) > 0 && !slices.IsSorted(rep) {
			t.Errorf("%s: reported out of order: %v", id, rep)
		}
		t.Logf("%s: %d reported, %d stored", id, len(reported[id]), max)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	db, err := openDB(filepath.Join(dir, "agentd.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if l, err := Open(ctx, dir, Options{}); err == nil {
		l.Close()
		t.Fatal("Open accepted a newer schema")
	}
}

// TestReadPlan guards the read query against a schema change that would
// make it scan or sort.
func TestReadPlan(t *testing.T) {
	ctx := testCtx(t)
	l := openLog(t, t.TempDir(), Options{})
	defer closeLog(t, l)
	rows, err := l.rdb.QueryContext(ctx, `EXPLAIN QUERY PLAN `+readEventsSQL, "s", 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if len(plan) != 1 || !strings.HasPrefix(plan[0], "SEARCH events USING ") || !strings.Contains(plan[0], "session_id=? AND seq>?") {
		t.Fatalf("read plan: %q", plan)
	}
}

// TestColdTailsEvicted bounds memory by busy sessions: with room for two
// tails, a third session's appends evict the coldest, whose reads then come
// from the database and stay correct.
func TestColdTailsEvicted(t *testing.T) {
	ctx := testCtx(t)
	l, err := Open(ctx, t.TempDir(), Options{TailSessions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, id := range []string{"a", "b", "c"} {
		if err := l.CreateSession(ctx, Session{ID: id, Info: []byte("{}")}, []Record{{Seq: 1, Type: "t", Body: []byte(`{"raw":null}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	l.mu.Lock()
	cached := 0
	for id, s := range l.live {
		if s.cached {
			cached++
		} else if id != "a" {
			t.Errorf("session %s lost its tail, want a (the coldest) to", id)
		}
	}
	l.mu.Unlock()
	if cached != 2 {
		t.Fatalf("%d tails cached, want 2", cached)
	}
	recs, err := l.Read(ctx, "a", 0, 0)
	if err != nil || len(recs) != 1 || recs[0].Seq != 1 {
		t.Fatalf("read of evicted session = %v, %v", recs, err)
	}
}
