package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// scenario is one conversation driven through the API. Prompts carry the
// scripted model's SCN markers (internal/fakemodel).
type scenario struct {
	name    string
	prompts []string // one per turn
	// session adds fields to the create request (permissionMode, agentMode).
	session map[string]any
	// permission is the reply to every permission request ("" = once).
	permission string
	// interrupt interrupts the first turn at its first delta.
	interrupt bool
	// rejectQuestion rejects questions instead of answering with the
	// last option.
	rejectQuestion bool
	// resume terminates the session after the first turn and sends the
	// other prompts to a new session that resumes it.
	resume bool
}

var scenarios = []scenario{
	{name: "text", prompts: []string{"SCN:text Say hello."}},
	{name: "thinking", prompts: []string{"SCN:thinking Think, then answer."}},
	{name: "tool_allow", prompts: []string{"SCN:tool_bash Run a command."}},
	{name: "tool_reject", prompts: []string{"SCN:tool_bash Run a command."}, permission: "reject"},
	{name: "file_edit", prompts: []string{"SCN:file_edit Write the file."}},
	{name: "question", prompts: []string{"SCN:ask_question Ask me which colour."}},
	{name: "error500", prompts: []string{"SCN:error500 Fail."}},
	{name: "interrupt", prompts: []string{"SCN:slow Talk slowly.", "SCN:text Now say hello."}, interrupt: true},
	{name: "two_turns", prompts: []string{"SCN:text First.", "SCN:text Second."}},
	{name: "resume", prompts: []string{"SCN:text First.", "SCN:text Again, after the restart."}, resume: true},
}

// play runs sc: one session, or for a resume scenario two, the second
// resuming the first once it has ended.
func play(t *testing.T, d *daemon, agent string, sc scenario, dir string) []event {
	t.Helper()
	id := "e2e-" + sc.name
	if !sc.resume {
		return run(t, d, agent, id, sc, dir, sc.session)
	}
	first := sc
	first.prompts = sc.prompts[:1]
	evs := run(t, d, agent, id, first, dir, sc.session)
	second := sc
	second.prompts = sc.prompts[1:]
	create := map[string]any{"resume": id}
	for k, v := range sc.session {
		create[k] = v
	}
	return append(evs, run(t, d, agent, id+resumedSuffix, second, dir, create)...)
}

const resumedSuffix = "-resumed"

// runWait bounds one scenario: real agents on a loaded two-core machine.
const runWait = 150 * time.Second

// run plays sc against agent and returns every event of the session, up to
// and including its end (the session is terminated after the last turn).
func run(t *testing.T, d *daemon, agent, id string, sc scenario, dir string, extra map[string]any) []event {
	t.Helper()
	create := map[string]any{"agent": agent, "directory": dir}
	for k, v := range extra {
		create[k] = v
	}
	d.call(t, http.MethodPost, "/v1/sessions/"+id, create, http.StatusOK)
	events := d.follow(t, id)
	send := func(text string) {
		d.call(t, http.MethodPost, "/v1/sessions/"+id+"/messages", map[string]any{"message": text}, http.StatusNoContent)
	}
	send(sc.prompts[0])
	var got []event
	turns, interrupted, terminated := 0, false, false
	deadline := time.NewTimer(runWait)
	defer deadline.Stop()
	for {
		var ev event
		var ok bool
		select {
		case ev, ok = <-events:
		case <-deadline.C:
			t.Fatalf("%s: no end within %s; events so far:\n%s", sc.name, runWait, dump(got))
		}
		if !ok {
			t.Fatalf("%s: the event stream ended early:\n%s", sc.name, dump(got))
		}
		got = append(got, ev)
		switch ev.Type {
		case "permission.requested":
			var p struct {
				PermissionID string `json:"permission_id"`
			}
			ev.decode(t, &p)
			reply := sc.permission
			if reply == "" {
				reply = "once"
			}
			d.call(t, http.MethodPost, "/v1/sessions/"+id+"/permissions/"+p.PermissionID+"/reply", map[string]any{"reply": reply}, http.StatusNoContent)
		case "question.requested":
			answerQuestion(t, d, id, ev, sc.rejectQuestion)
		case "item.delta":
			if sc.interrupt && !interrupted {
				interrupted = true
				d.call(t, http.MethodPost, "/v1/sessions/"+id+"/interrupt", nil, http.StatusNoContent)
			}
		case "turn.ended":
			turns++
			if turns < len(sc.prompts) {
				send(sc.prompts[turns])
			} else if !terminated {
				terminated = true
				d.call(t, http.MethodPost, "/v1/sessions/"+id+"/terminate", nil, http.StatusNoContent)
			}
		case "session.ended":
			return got
		}
	}
}

func answerQuestion(t *testing.T, d *daemon, id string, ev event, reject bool) {
	t.Helper()
	var q struct {
		QuestionID string   `json:"question_id"`
		Options    []string `json:"options"`
	}
	ev.decode(t, &q)
	path := "/v1/sessions/" + id + "/questions/" + q.QuestionID
	if reject {
		d.call(t, http.MethodPost, path+"/reject", nil, http.StatusNoContent)
		return
	}
	answer := "Blue"
	if n := len(q.Options); n > 0 {
		answer = q.Options[n-1]
	}
	d.call(t, http.MethodPost, path+"/reply", map[string]any{"answers": [][]string{{answer}}}, http.StatusNoContent)
}

func dump(evs []event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "  %.400s\n", ev.String())
	}
	return b.String()
}

// Item payloads, as far as the shapes and features read them.
type (
	itemData struct {
		Item struct {
			Kind    string `json:"kind"`
			Role    string `json:"role"`
			Status  string `json:"status"`
			Content []part `json:"content"`
		} `json:"item"`
	}
	part struct {
		Type   string `json:"type"`
		Text   string `json:"text"`
		Name   string `json:"name"`
		Output string `json:"output"`
		Path   string `json:"path"`
		Action string `json:"action"`
		Label  string `json:"label"`
	}
	turnData struct {
		Metadata struct {
			Status string `json:"status"`
			Usage  *struct {
				InputTokens  int `json:"inputTokens"`
				OutputTokens int `json:"outputTokens"`
			} `json:"usage"`
		} `json:"metadata"`
	}
)

// volatile are the parts of texts that differ between runs: loopback
// ports, temporary directories, ids of the form a fake or an agent mints.
var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
	{regexp.MustCompile(`/tmp/[^\s"'\\]*`), "/tmp/…"},
	{regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), "UUID"},
	{regexp.MustCompile(`\d+(\.\d+)?\s?(ms|s)\b`), "N$2"},
	{regexp.MustCompile(`\d+\.\d+`), "N.N"}, // durations and costs
	{regexp.MustCompile(`\b[0-9a-f]{6,}\b`), "HEX"},
}

func clean(s string, n int) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.with)
	}
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

// shapes renders a run as reviewable golden lines: what happened in which
// order, without the ids, times and chunking that differ between runs.
func shapes(t *testing.T, evs []event) string {
	var lines []string
	inDeltas := false
	cut := interruptedAt(t, evs)
	for i, ev := range evs {
		if ev.Type == "item.delta" {
			if !inDeltas {
				lines = append(lines, "item.delta …")
			}
			inDeltas = true
			continue
		}
		inDeltas = false
		line := shape(t, ev)
		if i < cut && ev.Type == "item.completed" {
			// How much an interrupted turn said depends on timing.
			f := strings.Fields(line)
			line = f[0] + " " + f[1] + " (cut)"
		}
		if ev.Synthetic {
			line = "~" + line
		}
		lines = append(lines, line)
	}
	return strings.Join(hoistResolutions(lines), "\n") + "\n"
}

// hoistResolutions places each resolution right after its request: it is
// recorded when our reply arrives, which races with what the agent prints
// meanwhile, so its position among the agent's own events is not part of
// the stream's shape.
func hoistResolutions(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, line := range lines {
		typ, rest, _ := strings.Cut(strings.TrimPrefix(line, "~"), " ")
		kind, ok := strings.CutSuffix(typ, ".resolved")
		if !ok {
			out = append(out, line)
			continue
		}
		// The request's line is the same but for its final status word.
		request := kind + ".requested " + rest[:strings.LastIndexByte(rest, ' ')+1]
		at := len(out)
		for i := len(out) - 1; i >= 0; i-- {
			if strings.HasPrefix(strings.TrimPrefix(out[i], "~"), request) {
				at = i + 1
				break
			}
		}
		out = slices.Insert(out, at, line)
	}
	return out
}

// interruptedAt is the index of the first turn.ended with status
// interrupted, or -1.
func interruptedAt(t *testing.T, evs []event) int {
	for i, ev := range evs {
		if ev.Type == "turn.ended" {
			var td turnData
			ev.decode(t, &td)
			if td.Metadata.Status == "interrupted" {
				return i
			}
		}
	}
	return -1
}

func shape(t *testing.T, ev event) string {
	switch ev.Type {
	case "item.started", "item.completed":
		var it itemData
		ev.decode(t, &it)
		s := ev.Type + " " + it.Item.Kind + "/" + it.Item.Role
		if ev.Type == "item.completed" {
			for _, p := range it.Item.Content {
				s += " " + partShape(p)
			}
		}
		return s
	case "turn.ended":
		var td turnData
		ev.decode(t, &td)
		return "turn.ended " + td.Metadata.Status
	case "permission.requested", "permission.resolved":
		var p struct{ Action, Status string }
		ev.decode(t, &p)
		return ev.Type + " " + p.Action + " " + p.Status
	case "question.requested", "question.resolved":
		var q struct {
			Prompt  string   `json:"prompt"`
			Options []string `json:"options"`
			Status  string   `json:"status"`
		}
		ev.decode(t, &q)
		return fmt.Sprintf("%s %q %q %s", ev.Type, clean(q.Prompt, 60), q.Options, q.Status)
	case "error":
		var e struct {
			Code *string `json:"code"`
		}
		ev.decode(t, &e)
		if e.Code == nil {
			return "error"
		}
		return "error " + *e.Code
	case "session.ended":
		var e struct {
			Reason       string `json:"reason"`
			TerminatedBy string `json:"terminated_by"`
		}
		ev.decode(t, &e)
		return "session.ended " + e.Reason + " by " + e.TerminatedBy
	case "agent.unparsed":
		var u struct{ Location string }
		ev.decode(t, &u)
		return "agent.unparsed " + u.Location
	}
	return ev.Type
}

func partShape(p part) string {
	switch p.Type {
	case "text", "reasoning":
		return p.Type + ":" + quoteClean(p.Text, 64)
	case "tool_call":
		return "tool_call:" + p.Name
	case "tool_result":
		return "tool_result:" + quoteClean(p.Output, 40)
	case "file_ref":
		return "file_ref:" + p.Action + ":" + p.Path[strings.LastIndexByte(p.Path, '/')+1:]
	case "status":
		return "status:" + p.Label
	}
	return p.Type
}

func quoteClean(s string, n int) string {
	b, _ := json.Marshal(clean(s, n))
	return string(b)
}
