package sinkset

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/agentd-dev/agentd/internal/sink/sinktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestSplit(t *testing.T) {
	got := Split([]string{"postgres://a/b https://h/x", "  ", "http://c/"})
	if strings.Join(got, "|") != "postgres://a/b|https://h/x|http://c/" {
		t.Fatalf("Split = %q", got)
	}
}

func TestDaemonID(t *testing.T) {
	dir := t.TempDir()
	first, err := DaemonID(dir, "")
	if err != nil || !validDaemonID.MatchString(first) {
		t.Fatalf("made-up id %q, %v", first, err)
	}
	if again, err := DaemonID(dir, ""); err != nil || again != first {
		t.Fatalf("second start: %q, %v; want the kept %q", again, err, first)
	}
	if given, err := DaemonID(dir, "box-7"); err != nil || given != "box-7" {
		t.Fatalf("given id: %q, %v", given, err)
	}
	for _, bad := range []string{"a/b", "-x", strings.Repeat("x", 129), "spa ce"} {
		if _, err := DaemonID(dir, bad); err == nil {
			t.Errorf("DaemonID(%q) accepted", bad)
		}
	}
}

func TestStartRejects(t *testing.T) {
	l := sinktest.OpenLog(t)
	for _, specs := range [][]string{
		{"ftp://x/y"},
		{"https://h/x", "https://h/x"},
		{"postgres://u:pw@h/db?x=%zz"},
	} {
		set, err := Start(sinktest.Ctx(t), l, Config{Specs: specs, Dir: t.TempDir(), DaemonID: "d"})
		if err == nil {
			set.Stop(time.Second)
			t.Errorf("Start(%q) succeeded", specs)
			continue
		}
		if strings.Contains(err.Error(), "pw") {
			t.Errorf("Start(%q) error shows the password: %v", specs, err)
		}
	}
}

// TestStopShipsTheLastEvents: events committed just before shutdown are
// delivered by Stop, and the health names each sink without secrets.
func TestStopShipsTheLastEvents(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { got.Add(1) }))
	defer srv.Close()
	l := sinktest.OpenLog(t)
	dir := t.TempDir()
	url := strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1) + "/hook?token=abc"
	set, err := Start(sinktest.Ctx(t), l, Config{Specs: []string{url}, Dir: dir, Secret: "k", DaemonID: "d"})
	if err != nil {
		t.Fatal(err)
	}
	sinktest.Append(t, l, "s", 1, 5)
	st := set.Status(sinktest.Ctx(t))
	if len(st) != 1 || st[0].Kind != "webhook" || strings.Contains(st[0].Destination, "hunter2") ||
		strings.Contains(st[0].Destination, "abc") || !strings.HasPrefix(st[0].Name, "webhook-") {
		t.Fatalf("status %+v", st)
	}
	set.Stop(30 * time.Second)
	if got.Load() != 5 {
		t.Fatalf("delivered %d events by Stop; want 5", got.Load())
	}
	if _, err := os.Stat(filepath.Join(dir, st[0].Name+".cursor")); err != nil {
		t.Fatalf("no cursor file: %v", err)
	}
}
