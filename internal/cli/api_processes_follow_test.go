package cli

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestAPIOutputFollowResumes cuts the output stream after the first frame and
// in the middle of the second: the follower reconnects with the last id
// it printed, prints every byte once, and stops at the exit frame.
func TestAPIOutputFollowResumes(t *testing.T) {
	frame := func(id, event, data string) string {
		return fmt.Sprintf("id: %s\nevent: %s\ndata: %s\n\n", id, event, data)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, path string
		args       []string
		first      string // the frame before the cut
		second     string // the frame after it
		exit       string
		resumeID   string
		wantErr    string
	}{
		{
			name: "process", path: "/v1/processes/proc_1/output/sse", args: []string{"processes", "follow", "proc_1", "--raw"},
			first:  frame("1", "output", `{"seq":1,"stream":"stdout","offset":0,"data":"`+b64("AB\x00")+`"}`),
			second: frame("2", "output", `{"seq":2,"stream":"stderr","offset":0,"data":"`+b64("oops")+`"}`),
			exit:   frame("exit", "exit", `{"id":"proc_1","status":"exited","exitCode":0}`),
			// The second chunk goes to stderr, before the exit line.
			resumeID: "1", wantErr: "oops[proc_1 exited: 0]\n",
		},
		{
			name: "terminal", path: "/v1/terminals/term_1/output/sse", args: []string{"terminals", "follow", "term_1", "--raw"},
			first:    frame("3", "output", `{"offset":0,"data":"`+b64("AB\x00")+`"}`),
			second:   frame("7", "output", `{"offset":3,"data":"`+b64("oops")+`"}`),
			exit:     frame("exit", "exit", `{"id":"term_1","status":"exited","exitCode":2}`),
			resumeID: "3", wantErr: "[term_1 exited: 2]\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string // Last-Event-ID of each request
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != tc.path || r.Header.Get("Accept") != "text/event-stream" {
					http.Error(w, "unexpected request", http.StatusTeapot)
					return
				}
				mu.Lock()
				seen = append(seen, r.Header.Get("Last-Event-ID"))
				n := len(seen)
				mu.Unlock()
				w.Header().Set("Content-Type", "text/event-stream")
				switch n {
				case 1: // the first frame, then half of the second, then the cut
					fmt.Fprint(w, tc.first, tc.second[:len(tc.second)/2])
				case 2:
					fmt.Fprint(w, tc.second, tc.exit)
				default: // after the exit, as the daemon does
					w.WriteHeader(http.StatusNoContent)
				}
			}))
			defer srv.Close()
			r := runAPI(t, srv.URL, false, tc.args...)
			wantOut := "AB\x00"
			if tc.name == "terminal" {
				wantOut += "oops" // terminals have one stream
			}
			if r.code != 0 || r.out != wantOut || r.errOut != tc.wantErr {
				t.Errorf("exit %d, stdout %q, stderr %q; want stdout %q, stderr %q", r.code, r.out, r.errOut, wantOut, tc.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 2 || seen[0] != "" || seen[1] != tc.resumeID {
				t.Errorf("Last-Event-ID of the requests: %q, want [\"\" %q]", seen, tc.resumeID)
			}
		})
	}
}

// TestAPIOutputFollowGivesUp: a stream that keeps ending without output fails
// as a network error after the retries.
func TestAPIOutputFollowGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": keep-alive\n\n")
	}))
	defer srv.Close()
	r := runAPI(t, srv.URL, false, "processes", "follow", "proc_1")
	if r.code != exitNetwork || !strings.Contains(r.errOut, "keeps ending without new output") {
		t.Errorf("exit %d, stderr %q", r.code, r.errOut)
	}
}

// TestAPISandboxHumanOutput runs the fs, processes and terminals commands
// in-process, as on a terminal, against a real daemon.
func TestAPISandboxHumanOutput(t *testing.T) {
	root := t.TempDir()
	d := startAgentdServer(t, "--no-token", "--fs-root", root)
	if err := os.Symlink("a.txt", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		r := runAPI(t, d.URL, true, args...)
		if r.code != 0 {
			t.Fatalf("%q: exit %d: %s", args, r.code, r.errOut)
		}
		return r.out
	}
	p := decodeJSON[e2eProcess](t, d.api(t, "processes", "start", "--", "sh", "-c", "printf out; printf err >&2; exit 5"))
	d.api(t, "processes", "follow", p.ID) // wait for the exit
	term := decodeJSON[e2eProcess](t, d.api(t, "terminals", "create", "--cols", "90", "--rows", "33", "--", "sleep", "60"))
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"fs", "write", "a.txt", "api_fs.go"}, []string{"wrote ", " bytes to " + filepath.Join(root, "a.txt")}},
		{[]string{"fs", "mkdir", "dir"}, []string{"created " + filepath.Join(root, "dir") + "\n"}},
		{[]string{"fs", "entries"}, []string{"NAME", "MODIFIED", "a.txt  file", "dir    directory", "link@  file"}},
		{[]string{"fs", "stat", "a.txt"}, []string{"path:      " + filepath.Join(root, "a.txt"), "type:      file"}},
		{[]string{"fs", "move", "a.txt", "dir/b.txt"}, []string{"moved " + filepath.Join(root, "a.txt") + " → " + filepath.Join(root, "dir/b.txt")}},
		{[]string{"fs", "delete", "dir", "-r"}, []string{"deleted " + filepath.Join(root, "dir") + "\n"}},
		{[]string{"processes", "list"}, []string{"ID", "STATUS", "COMMAND", p.ID + "  exited  ", "  5  ", "sh -c printf out"}},
		{[]string{"processes", "get", p.ID}, []string{p.ID + "  exited"}},
		{[]string{"terminals", "get", term.ID}, []string{"SIZE", term.ID + "  running", "90x33", "sleep 60"}},
		{[]string{"terminals", "resize", term.ID, "--cols", "91", "--rows", "34"}, []string{"91x34"}},
		{[]string{"terminals", "input", term.ID, "x"}, []string{"wrote 1 bytes\n"}},
		{[]string{"terminals", "close", term.ID}, []string{term.ID + "  exited"}},
	} {
		out := run(tc.args...)
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q printed\n%s\nwithout %q", tc.args, out, w)
			}
		}
	}
	// On a terminal, output and follow write the bytes; archive refuses.
	for _, args := range [][]string{{"processes", "output", p.ID}, {"processes", "follow", p.ID}} {
		r := runAPI(t, d.URL, true, args...)
		if r.code != 0 || r.out != "out" || !strings.HasPrefix(r.errOut, "err") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, r.code, r.out, r.errOut)
		}
	}
	if r := runAPI(t, d.URL, true, "fs", "archive", "."); r.code != exitUsage || r.out != "" {
		t.Errorf("archive to a terminal: exit %d, %d bytes", r.code, len(r.out))
	}
}
