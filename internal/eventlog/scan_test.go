package eventlog

import (
	"errors"
	"fmt"
	"testing"
)

// TestReadAfterCommitOrder interleaves appends to several sessions and
// checks that ReadAfter pages through all of them in commit order, with
// positions that survive a reopen.
func TestReadAfterCommitOrder(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	if head, err := l.Head(ctx); err != nil || head != 0 {
		t.Fatalf("Head of an empty log = %d, %v; want 0", head, err)
	}
	var want []string
	for _, id := range []string{"a", "b", "c"} {
		if err := l.CreateSession(ctx, mkSession(id, 1), mkRecs(id, 1, 1)); err != nil {
			t.Fatal(err)
		}
		want = append(want, id+"/1")
	}
	for seq := uint64(2); seq <= 5; seq++ {
		for _, id := range []string{"c", "a", "b"} {
			if err := l.Append(ctx, id, nil, 2, mkRec(id, seq)); err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("%s/%d", id, seq))
		}
	}
	closeLog(t, l)
	l = openLog(t, dir, Options{})
	defer closeLog(t, l)

	var got []string
	var after int64
	for {
		page, err := l.ReadAfter(ctx, after, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if e.Pos <= after {
				t.Fatalf("position %d not after %d", e.Pos, after)
			}
			if !sameRecords([]Record{e.Record}, []Record{mkRec(e.SessionID, e.Seq)}) {
				t.Fatalf("entry %d: record differs from what was appended", e.Pos)
			}
			after = e.Pos
			got = append(got, fmt.Sprintf("%s/%d", e.SessionID, e.Seq))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("commit order:\n got %v\nwant %v", got, want)
	}
	head, err := l.Head(ctx)
	if err != nil || head != after {
		t.Fatalf("Head = %d, %v; want %d", head, err, after)
	}
	all, err := l.ReadAfter(ctx, 0, 0)
	if err != nil || len(all) != len(want) {
		t.Fatalf("ReadAfter(0, no limit) = %d entries, %v; want %d", len(all), err, len(want))
	}
}

func TestCommittedWakesOnAnySession(t *testing.T) {
	ctx := testCtx(t)
	l := openLog(t, t.TempDir(), Options{})
	if err := l.CreateSession(ctx, mkSession("a", 1), nil); err != nil {
		t.Fatal(err)
	}
	woken := l.Committed()
	select {
	case <-woken:
		t.Fatal("woken before any commit")
	default:
	}
	// Events, not a session row, are what wakes it.
	if err := l.Append(ctx, "a", []byte(`{"state":"x"}`), 2); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
		t.Fatal("woken by an append without events")
	default:
	}
	if err := l.Append(ctx, "a", nil, 3, mkRec("a", 1)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-ctx.Done():
		t.Fatal("not woken by a commit")
	}
	next := l.Committed()
	closeLog(t, l)
	select {
	case <-next:
	case <-ctx.Done():
		t.Fatal("not woken by Close")
	}
	select {
	case <-l.Committed():
	default:
		t.Fatal("Committed after Close must be closed")
	}
}

func TestSessionLookup(t *testing.T) {
	ctx := testCtx(t)
	l := openLog(t, t.TempDir(), Options{})
	defer closeLog(t, l)
	want := mkSession("s", 7)
	if err := l.CreateSession(ctx, want, mkRecs("s", 1, 3)); err != nil {
		t.Fatal(err)
	}
	got, err := l.Session(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Info) != string(want.Info) || got.CreatedAt != 7 || got.LastSeq != 3 {
		t.Fatalf("Session = %+v", got)
	}
	if _, err := l.Session(ctx, "nope"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Session(nope) error = %v; want ErrNoSession", err)
	}
}
