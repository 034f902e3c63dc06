package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLong bounds every wait on the mock's goroutine.
const waitLong = 10 * time.Second

// TestScripts plays each script through a session and compares what it
// emitted with testdata/<case>.golden.json. Each case is followed by a
// sentinel message, whose turn marks the end of the case's events: turns are
// serialised, so nothing of the case can come after it.
func TestScripts(t *testing.T) {
	attached := []adapters.Attachment{{Path: "/tmp/a.txt", Mime: "text/plain"}, {Path: "b.png"}}
	cases := []struct {
		name string
		msg  adapters.Message
	}{
		{"help", adapters.Message{Text: "help"}},
		{"demo", adapters.Message{Text: "demo"}},
		{"markdown", adapters.Message{Text: "markdown"}},
		{"tool", adapters.Message{Text: "tool"}},
		{"status", adapters.Message{Text: "status"}},
		{"image", adapters.Message{Text: "image"}},
		{"unknown", adapters.Message{Text: "unknown"}},
		{"permission", adapters.Message{Text: "permission"}},
		{"question", adapters.Message{Text: "question"}},
		{"error", adapters.Message{Text: "error"}},
		{"unparsed", adapters.Message{Text: "unparsed"}},
		{"end", adapters.Message{Text: "end"}},
		{"echo", adapters.Message{Text: "echo   hello    world"}},
		{"echo_empty", adapters.Message{Text: "echo"}},
		{"command_case", adapters.Message{Text: " HeLp  me please "}},
		{"other", adapters.Message{Text: "  Hi there,   friend  "}},
		{"empty", adapters.Message{Text: ""}},
		{"whitespace", adapters.Message{Text: " \n\t "}},
		{"attachments", adapters.Message{Text: "look at these", Attachments: attached}},
		{"attachments_only", adapters.Message{Attachments: attached}},
		{"prompt_ok", adapters.Message{Text: "Reply with exactly the single word OK."}},
		{"prompt_first", adapters.Message{Text: "Reply with exactly the word FIRST."}},
		{"prompt_second", adapters.Message{Text: "Reply with exactly the word SECOND."}},
		{"prompt_reasoning", adapters.Message{Text: "Answer briefly and include your reasoning."}},
		{"prompt_status", adapters.Message{Text: "Provide a short status update."}},
		{"prompt_list_files", adapters.Message{Text: "List files in the current directory using available tools."}},
		{"prompt_bash_tool", adapters.Message{Text: "Use the bash tool to run `ls` in the current directory. Do not answer without using the tool."}},
		{"prompt_question", adapters.Message{Text: "Use the AskUserQuestion tool to ask exactly one yes/no question, then wait for a reply. Do not answer yourself."}},
		{"prompt_question_call", adapters.Message{Text: "Call the AskUserQuestion tool with exactly one yes/no question and wait for a reply. Do not answer yourself."}},
		{"prompt_case", adapters.Message{Text: "  reply with exactly the single word ok.  "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), waitLong)
			defer cancel()
			s, events := startSession(t, ctx, WithPause(0))
			send(t, ctx, s, tc.msg)
			send(t, ctx, s, adapters.Message{Text: "ping"})
			got := untilTurnEnded(t, ctx, events, "mock_2_reply")
			checkGolden(t, tc.name, beforeItem(got, "mock_2_user"))
		})
	}
}

// TestAliases checks that each alias selects the same script as its command.
func TestAliases(t *testing.T) {
	for alias, command := range map[string]string{
		"tools":       "tool",
		"Tooling":     "tool",
		"permissions": "permission",
		"QUESTIONS":   "question",
		"ended":       "end",
		"session.end": "end",
		"say a  b":    "echo a b",
		"say":         "echo",
		"demo now":    "demo",
	} {
		if got, want := script("mock_1", alias), script("mock_1", command); !reflect.DeepEqual(got, want) {
			t.Errorf("script(%q) differs from script(%q)", alias, command)
		}
	}
}

// TestFixtureLengths guards the fixtures against edits with the lengths the
// spec gives for them (§13.5).
func TestFixtureLengths(t *testing.T) {
	for _, c := range []struct {
		name string
		text string
		want int
	}{
		{"help", helpText, 520},
		{"echo usage", echoUsage, 33},
		{"markdown", strings.Join(markdownDeltas, ""), 450},
		{"markdown delta 5", markdownDeltas[4], 93},
		{"markdown delta 6", markdownDeltas[5], 64},
		{"markdown delta 7", markdownDeltas[6], 118},
		{"markdown delta 8", markdownDeltas[7], 109},
		{"bash prompt", exactPrompts[6].prompt, 93},
		{"question prompt", exactPrompts[7].prompt, 111},
		{"question prompt (call)", exactPrompts[8].prompt, 108},
	} {
		if got := utf8.RuneCountInString(c.text); got != c.want {
			t.Errorf("%s: %d characters, want %d", c.name, got, c.want)
		}
	}
}

func TestStartEmitsNativeSessionStarted(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	defer cancel()
	events := make(chan adapters.Event)
	s, err := New().Start(ctx, adapters.StartRequest{SessionID: "s1"}, recorder(events))
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, s)
	if got := s.NativeSessionID(); got != "mock-s1" {
		t.Errorf("NativeSessionID() = %q, want mock-s1", got)
	}
	got := receive(t, ctx, events)
	want := adapters.Event{
		Type:            schema.EventSessionStarted,
		Data:            schema.SessionStartedData{Metadata: schema.RawJSON(`{"mock":true}`)},
		NativeSessionID: "mock-s1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("first event = %+v, want %+v", got, want)
	}
}

// TestTurnsDoNotInterleave sends a second message while the demo is still
// playing, with a real pause, and checks the second turn waits for the first.
func TestTurnsDoNotInterleave(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	defer cancel()
	s, events := startSession(t, ctx, WithPause(time.Millisecond))
	send(t, ctx, s, adapters.Message{Text: "demo"})
	send(t, ctx, s, adapters.Message{Text: "ping"})
	got := untilTurnEnded(t, ctx, events, "mock_2_reply")
	first := len(beforeItem(got, "mock_2_user"))
	if first == 0 || first == len(got) || got[first-1].Type != schema.EventTurnEnded {
		t.Fatalf("turn 1 did not end right before turn 2 began")
	}
	for i, ev := range got {
		want := "mock_1_"
		if i >= first {
			want = "mock_2_"
		}
		if id := nativeID(ev); id != "" && !strings.HasPrefix(id, want) {
			t.Errorf("event %d (%s %s) is out of its turn", i, ev.Type, id)
		}
	}
}

// TestStopDuringScript stops a session in the middle of a demo whose pause
// would otherwise last an hour; Stop must cut the pause short.
func TestStopDuringScript(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	defer cancel()
	s, events := startSession(t, ctx, WithPause(time.Hour))
	send(t, ctx, s, adapters.Message{Text: "demo"})
	if ev := receive(t, ctx, events); nativeID(ev) != "mock_1_user" {
		t.Fatalf("first turn event = %s %s, want the user item", ev.Type, nativeID(ev))
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case ev := <-events:
		t.Errorf("event after Stop: %s %s", ev.Type, nativeID(ev))
	default:
	}
	if err := s.Send(ctx, adapters.Message{Text: "help"}); err == nil {
		t.Error("Send after Stop succeeded")
	}
	if err := s.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestInterruptCutsTheTurn: an interrupt drops the rest of the playing
// turn and closes it with an interrupted turn.ended; the next turn plays.
func TestInterruptCutsTheTurn(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	defer cancel()
	s, events := startSession(t, ctx, WithPause(time.Hour))
	send(t, ctx, s, adapters.Message{Text: "demo"})
	if ev := receive(t, ctx, events); nativeID(ev) != "mock_1_user" {
		t.Fatalf("first turn event = %s %s, want the user item", ev.Type, nativeID(ev))
	}
	if err := s.(adapters.Interrupter).Interrupt(ctx); err != nil {
		t.Fatal(err)
	}
	ev := receive(t, ctx, events)
	data, ok := ev.Data.(schema.TurnEventData)
	if ev.Type != schema.EventTurnEnded || !ev.Synthetic || !ok || string(data.Metadata) != `{"status":"interrupted"}` {
		t.Fatalf("after interrupt: %s %+v", ev.Type, ev.Data)
	}
	send(t, ctx, s, adapters.Message{Text: ""}) // nothing to play, but no stale interrupt either
	if err := s.(adapters.Interrupter).Interrupt(ctx); err != nil {
		t.Fatal("interrupt with no turn playing:", err)
	}
	stop(t, s)
}

// TestEmitErrorEndsPlayback checks that the mock stops producing once the
// emitter reports the session ended.
func TestEmitErrorEndsPlayback(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	defer cancel()
	var emitted []schema.EventType
	ended := adapters.EmitterFunc(func(_ context.Context, events ...adapters.Event) error {
		for _, ev := range events {
			emitted = append(emitted, ev.Type)
			if ev.Type == schema.EventItemStarted {
				return errors.New("session ended")
			}
		}
		return nil
	})
	s, err := New(WithPause(0)).Start(ctx, adapters.StartRequest{SessionID: "s1"}, ended)
	if err != nil {
		t.Fatal(err)
	}
	defer stop(t, s)
	send(t, ctx, s, adapters.Message{Text: "demo"})
	select {
	case <-s.(*session).done:
	case <-ctx.Done():
		t.Fatal("playback went on after the emitter failed")
	}
	want := []schema.EventType{schema.EventSessionStarted, schema.EventItemStarted}
	if !reflect.DeepEqual(emitted, want) {
		t.Errorf("emitted %v, want %v", emitted, want)
	}
	if err := s.Send(ctx, adapters.Message{Text: "help"}); err == nil {
		t.Error("Send after the session ended succeeded")
	}
}

func TestRepliesAreAccepted(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	defer cancel()
	s, _ := startSession(t, ctx, WithPause(0))
	if err := s.ReplyPermission(ctx, adapters.PermissionRequest{ID: "mock_1_permission"}, adapters.ReplyOnce); err != nil {
		t.Errorf("ReplyPermission: %v", err)
	}
	if err := s.ReplyQuestion(ctx, adapters.QuestionRequest{ID: "mock_1_question"}, [][]string{{"Red"}}); err != nil {
		t.Errorf("ReplyQuestion: %v", err)
	}
	if err := s.RejectQuestion(ctx, adapters.QuestionRequest{ID: "mock_1_question_reject"}); err != nil {
		t.Errorf("RejectQuestion: %v", err)
	}
}

func TestInfo(t *testing.T) {
	a := New()
	if a.ID() != "mock" {
		t.Errorf("ID() = %q", a.ID())
	}
	info := a.Info(t.Context())
	if !info.Installed || !info.Runnable || !info.CredentialsAvailable || info.Version != "builtin" || info.Path != "" {
		t.Errorf("Info() = %+v", info)
	}
	// Per spec §6.1 the mock has every capability but these two.
	caps := reflect.ValueOf(info.Capabilities)
	for i := range caps.NumField() {
		name := caps.Type().Field(i).Name
		want := name != "Variants" && name != "SharedProcess"
		if got := caps.Field(i).Bool(); got != want {
			t.Errorf("capability %s = %v, want %v", name, got, want)
		}
	}
}

// startSession starts a session for "s1" recording into the returned channel,
// consumes its native session.started and stops it when the test ends.
func startSession(t *testing.T, ctx context.Context, opts ...Option) (adapters.Session, <-chan adapters.Event) {
	t.Helper()
	events := make(chan adapters.Event)
	s, err := New(opts...).Start(ctx, adapters.StartRequest{SessionID: "s1"}, recorder(events))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(t, s) })
	if ev := receive(t, ctx, events); ev.Type != schema.EventSessionStarted {
		t.Fatalf("first event = %s, want session.started", ev.Type)
	}
	return s, events
}

// recorder hands each event to the test as it is emitted, so the test reads
// them in order and the mock waits for it.
func recorder(events chan<- adapters.Event) adapters.Emitter {
	return adapters.EmitterFunc(func(ctx context.Context, evs ...adapters.Event) error {
		for _, ev := range evs {
			select {
			case events <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
}

func stop(t *testing.T, s adapters.Session) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func send(t *testing.T, ctx context.Context, s adapters.Session, msg adapters.Message) {
	t.Helper()
	if err := s.Send(ctx, msg); err != nil {
		t.Fatalf("Send(%q): %v", msg.Text, err)
	}
}

func receive(t *testing.T, ctx context.Context, events <-chan adapters.Event) adapters.Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-ctx.Done():
		t.Fatal("timed out waiting for an event")
		return adapters.Event{}
	}
}

// untilTurnEnded collects events up to the turn.ended that follows the
// completion of the item with the given native id.
func untilTurnEnded(t *testing.T, ctx context.Context, events <-chan adapters.Event, lastItem string) []adapters.Event {
	t.Helper()
	var got []adapters.Event
	for {
		ev := receive(t, ctx, events)
		got = append(got, ev)
		if ev.Type == schema.EventItemCompleted && nativeID(ev) == lastItem {
			break
		}
	}
	ev := receive(t, ctx, events)
	if ev.Type != schema.EventTurnEnded {
		t.Fatalf("after %s: %s, want turn.ended", lastItem, ev.Type)
	}
	return append(got, ev)
}

// beforeItem returns the events before the first one about the given item.
func beforeItem(events []adapters.Event, native string) []adapters.Event {
	for i, ev := range events {
		if nativeID(ev) == native {
			return events[:i]
		}
	}
	return events
}

// nativeID is the native id an event is about: item, permission or question.
func nativeID(ev adapters.Event) string {
	switch d := ev.Data.(type) {
	case schema.ItemEventData:
		return *d.Item.NativeItemID
	case schema.ItemDeltaData:
		return *d.NativeItemID
	case schema.PermissionEventData:
		return d.PermissionID
	case schema.QuestionEventData:
		return d.QuestionID
	}
	return ""
}

// goldenEvent is an emitted event as written to a golden file.
type goldenEvent struct {
	Type            schema.EventType `json:"type"`
	Synthetic       bool             `json:"synthetic"`
	NativeSessionID string           `json:"native_session_id"`
	Data            schema.Payload   `json:"data"`
	Raw             json.RawMessage  `json:"raw,omitempty"`
}

// checkGolden compares events with testdata/<name>.golden.json, one event per
// line, or rewrites the file under -update.
func checkGolden(t *testing.T, name string, events []adapters.Event) {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteString("[")
	for i, ev := range events {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n")
		if err := enc.Encode(goldenEvent{ev.Type, ev.Synthetic, ev.NativeSessionID, ev.Data, ev.Raw}); err != nil {
			t.Fatal(err)
		}
		b.Truncate(b.Len() - 1) // Encode ends each value with a newline
	}
	b.WriteString("\n]\n")
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./adapters/mock -run TestScripts -update)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("events differ from %s (run go test ./adapters/mock -run TestScripts -update and review the diff)\ngot:\n%s", path, b.Bytes())
	}
}
