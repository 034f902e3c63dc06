package main

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMWithStuckClient stops the daemon while a client that never
// reads holds an SSE stream whose socket buffers are full. Shutdown may use
// up the grace waiting for it, but must still end every session as
// "terminated" by the daemon ("agentd shut down") and exit 0.
func TestSIGTERMWithStuckClient(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	ctx := deadline(t, 120*time.Second)
	dir := t.TempDir()
	const grace = 2 * time.Second
	d := startServer(t, serverConfig{dataDir: dir, args: []string{"--no-token", "-p", "0", "--shutdown-grace", grace.String()}})

	// ~13 MB of events: far more than loopback socket buffers hold.
	d.createMockSession(ctx, "big")
	big := "hello " + strings.Repeat("x", 900_000)
	for range 3 {
		d.sendMessage(ctx, "big", big)
	}
	host := strings.TrimPrefix(d.URL, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/sessions/big/events/sse HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", host)
	// A reading client says when all three turns are committed; by then the
	// stuck client's handler is blocked writing.
	watch := d.openSSE(ctx, "big", "")
	for turns := 0; turns < 3; {
		f, err := watch.next()
		if err != nil {
			t.Fatal(err)
		}
		if decodeEvent(t, []byte(f.Data)).Type == "turn.ended" {
			turns++
		}
	}
	// And a session with a turn running.
	d.createMockSession(ctx, "live")
	d.sendMessage(ctx, "live", "demo")
	readFrames(t, d.openSSE(ctx, "live", ""), 0, 4, map[uint64]string{})

	start := time.Now()
	d.signal(syscall.SIGTERM)
	code, err := d.waitExit(ctx)
	took := time.Since(start)
	t.Logf("exit %d %s after SIGTERM", code, took)
	if err != nil || code != 0 {
		t.Fatalf("after SIGTERM: exit %d, %v; want 0", code, err)
	}
	if took > grace+3*time.Second {
		t.Errorf("shutdown took %s, grace is %s", took, grace)
	}

	d2 := startServer(t, serverConfig{dataDir: dir})
	for _, id := range []string{"big", "live"} {
		raws, evs := d2.events(ctx, id)
		last := evs[len(evs)-1]
		if last.Type != "session.ended" || last.Data.Reason != "terminated" || last.Data.TerminatedBy != "daemon" ||
			last.Data.Detail == nil || *last.Data.Detail != "agentd shut down" {
			t.Errorf("%s: last event %.400s\nwant session.ended {reason:terminated, terminated_by:daemon, detail:\"agentd shut down\"}", id, raws[len(raws)-1])
		}
	}
}
