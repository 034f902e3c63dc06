package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mockStep is one thing a client does to a session, then, optionally, the
// event it waits for before going on.
type mockStep struct {
	method, path, body string
	waitFor            func(event) bool
}

func sendStep(message string, waitFor func(event) bool) mockStep {
	body, _ := json.Marshal(map[string]string{"message": message})
	return mockStep{http.MethodPost, "/messages", string(body), waitFor}
}

func replyPermissionStep(id, reply string) mockStep {
	return mockStep{http.MethodPost, "/permissions/" + id + "/reply", `{"reply":"` + reply + `"}`, nil}
}

func replyQuestionStep(id, answers string) mockStep {
	return mockStep{http.MethodPost, "/questions/" + id + "/reply", `{"answers":` + answers + `}`, nil}
}

func rejectQuestionStep(id string) mockStep {
	return mockStep{http.MethodPost, "/questions/" + id + "/reject", "", nil}
}

var terminateStep = mockStep{http.MethodPost, "/terminate", "", nil}

// The compatibility tests' prompts (spec §13.3).
const (
	promptOK        = "Reply with exactly the single word OK."
	promptFirst     = "Reply with exactly the word FIRST."
	promptSecond    = "Reply with exactly the word SECOND."
	promptReasoning = "Answer briefly and include your reasoning."
	promptStatus    = "Provide a short status update."
	promptListFiles = "List files in the current directory using available tools."
	promptBashTool  = "Use the bash tool to run `ls` in the current directory. Do not answer without using the tool."
	promptQuestion  = "Use the AskUserQuestion tool to ask exactly one yes/no question, then wait for a reply. Do not answer yourself."
	promptQCall     = "Call the AskUserQuestion tool with exactly one yes/no question and wait for a reply. Do not answer yourself."
)

// mockCases are spec §13.5's sequences M1…M24, each driven over HTTP as a
// client would, on session "s1".
var mockCases = []struct {
	name  string
	steps []mockStep
}{
	{"M01_ok", []mockStep{sendStep(promptOK, isType("turn.ended"))}},
	{"M02_first_second", []mockStep{
		sendStep(promptFirst, isType("turn.ended")),
		sendStep(promptSecond, isType("turn.ended")),
	}},
	{"M03_permission_once", []mockStep{
		sendStep(promptListFiles, isAbout("permission.requested", "mock_1_permission")),
		replyPermissionStep("mock_1_permission", "once"),
	}},
	{"M04_permission_always", []mockStep{
		sendStep(promptListFiles, isAbout("permission.requested", "mock_1_permission")),
		replyPermissionStep("mock_1_permission", "always"),
		sendStep(promptListFiles, isAbout("permission.resolved", "mock_2_permission")),
	}},
	{"M05_bash_tool", []mockStep{sendStep(promptBashTool, isType("turn.ended"))}},
	{"M06_question_reply", []mockStep{
		sendStep(promptQuestion, isAbout("question.requested", "mock_1_question")),
		replyQuestionStep("mock_1_question", `[["Yes"]]`),
	}},
	{"M07_question_reject", []mockStep{
		sendStep(promptQCall, isAbout("question.requested", "mock_1_question")),
		rejectQuestionStep("mock_1_question"),
	}},
	{"M08_reasoning", []mockStep{sendStep(promptReasoning, isType("turn.ended"))}},
	{"M09_status_prompt", []mockStep{sendStep(promptStatus, isType("turn.ended"))}},
	{"M10_help", []mockStep{sendStep("help", isType("turn.ended"))}},
	{"M11_markdown", []mockStep{sendStep("markdown", isType("turn.ended"))}},
	{"M12_tool", []mockStep{sendStep("tool", isType("turn.ended"))}},
	{"M13_image", []mockStep{sendStep("image", isType("turn.ended"))}},
	{"M14_unknown", []mockStep{sendStep("unknown", isType("turn.ended"))}},
	{"M15_permissions", []mockStep{
		sendStep("permission", isAbout("permission.requested", "mock_1_permission_denied")),
		replyPermissionStep("mock_1_permission", "once"),
		replyPermissionStep("mock_1_permission_denied", "reject"),
	}},
	{"M16_questions", []mockStep{
		sendStep("question", isAbout("question.requested", "mock_1_question_reject")),
		replyQuestionStep("mock_1_question", `[["Red"]]`),
		rejectQuestionStep("mock_1_question_reject"),
	}},
	{"M17_error", []mockStep{sendStep("error", isType("turn.ended"))}},
	{"M18_unparsed", []mockStep{sendStep("unparsed", isType("turn.ended"))}},
	{"M19_end_terminate", []mockStep{
		sendStep("end", isType("session.ended")),
		terminateStep,
	}},
	{"M20_echo", []mockStep{sendStep("echo   hello    world", isType("turn.ended"))}},
	{"M21_echo_empty", []mockStep{sendStep("echo", isType("turn.ended"))}},
	{"M22_other", []mockStep{sendStep("  Hi there,   friend  ", isType("turn.ended"))}},
	{"M23_empty", []mockStep{sendStep("", isType("turn.started"))}},
	{"M24_demo", []mockStep{sendStep("demo", isType("turn.ended"))}},
}

// TestMockSequences compares each case's stored events with
// testdata/mock/<case>.golden.json; -update rewrites the files.
func TestMockSequences(t *testing.T) {
	for _, tc := range mockCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			ts := newTestServer(t)
			ts.createMock(t, ctx, "s1")
			var cursor uint64 = 1
			for _, st := range tc.steps {
				ts.expect(t, ctx, http.StatusNoContent, st.method, "/v1/sessions/s1"+st.path, st.body)
				if st.waitFor != nil {
					cursor = ts.waitFor(t, ctx, "s1", cursor, st.waitFor).Sequence
				}
			}
			checkMockGolden(t, tc.name, ts.events(t, ctx, "s1", ""))
		})
	}
}

// envelopeHead is how every stored event starts; the time is the only
// value that differs from run to run.
var envelopeHead = regexp.MustCompile(`^\{"event_id":"evt_\d+","sequence":\d+,"time":"([^"]*)"`)

const timePlaceholder = "<time>"

// stableEvent replaces the event's time with a placeholder, after checking
// that it is an RFC 3339 UTC time with a Z suffix.
func stableEvent(t *testing.T, ev json.RawMessage) []byte {
	t.Helper()
	m := envelopeHead.FindSubmatchIndex(ev)
	if m == nil {
		t.Fatalf("event does not start with event_id, sequence, time: %s", ev)
	}
	stamp := string(ev[m[2]:m[3]])
	if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil || !strings.HasSuffix(stamp, "Z") {
		t.Errorf("time %q is not RFC 3339 UTC with a Z suffix", stamp)
	}
	out := append([]byte{}, ev[:m[2]]...)
	out = append(out, timePlaceholder...)
	return append(out, ev[m[3]:]...)
}

func checkMockGolden(t *testing.T, name string, events []json.RawMessage) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("[")
	for i, ev := range events {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n")
		b.Write(stableEvent(t, ev))
	}
	b.WriteString("\n]\n")
	path := filepath.Join("testdata", "mock", name+".golden.json")
	if updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./api -run TestMockSequences -update, then check the file against spec §13.5)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("events differ from %s (run go test ./api -run TestMockSequences -update and review the diff against spec §13.5)\n%s",
			path, lineDiff(string(want), b.String()))
	}
}

// lineDiff shows the first lines where want and got part.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 5; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			out.WriteString("line " + strconv.Itoa(i+1) + ":\n- " + wl + "\n+ " + gl + "\n")
			shown++
		}
	}
	return out.String()
}
