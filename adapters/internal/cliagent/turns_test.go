package cliagent

import (
	"errors"
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
)

var errTestStopped = errors.New("x session stopped")

func TestTurnsQueue(t *testing.T) {
	tu := Turns[string]{Stopped: errTestStopped}
	for _, p := range []struct {
		prompt string
		start  bool
	}{{"a", true}, {"b", false}, {"c", false}} {
		if start, err := tu.Submit(p.prompt); start != p.start || err != nil {
			t.Fatalf("Submit(%s) = %v, %v; want %v", p.prompt, start, err, p.start)
		}
	}
	for _, want := range []string{"b", "c"} {
		if got, ok := tu.Next(); !ok || got != want || !tu.Busy() {
			t.Fatalf("Next = %q, %v (busy %v); want %q", got, ok, tu.Busy(), want)
		}
	}
	if _, ok := tu.Next(); ok || tu.Busy() {
		t.Fatalf("Next on an empty queue: ok %v busy %v", ok, tu.Busy())
	}
	if start, _ := tu.Submit("d"); !start {
		t.Fatal("an idle session did not start the prompt")
	}
	tu.Idle()
	if tu.Busy() {
		t.Fatal("busy after Idle")
	}
}

func TestTurnsStopAndEnd(t *testing.T) {
	ended := errors.New("agent gone")
	for _, tc := range []struct {
		name        string
		run         func(*Turns[string]) bool // returns what Exited reported, if called
		wantStopped bool
		want        error
		wantKind    apierr.Kind
	}{
		{name: "stop", run: func(tu *Turns[string]) bool { tu.Stop(); return true }, wantStopped: true, want: errTestStopped},
		{name: "end", run: func(tu *Turns[string]) bool { tu.End(ended); return false }, want: ended},
		{name: "end after stop", run: func(tu *Turns[string]) bool { tu.Stop(); tu.End(ended); return true }, wantStopped: true, want: ended},
		{name: "exit asked for", run: func(tu *Turns[string]) bool { tu.Stop(); return tu.Exited("gone") }, wantStopped: true, want: errTestStopped},
		{name: "exit not asked for", run: func(tu *Turns[string]) bool { return tu.Exited("gone") }, wantKind: apierr.AgentProcessExited},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tu := Turns[string]{Stopped: errTestStopped}
			tu.Submit("a")
			tu.Submit("b")
			stopped := tc.run(&tu)
			if stopped != tc.wantStopped || tu.Stopping() != tc.wantStopped {
				t.Errorf("stopped %v, Stopping %v; want %v", stopped, tu.Stopping(), tc.wantStopped)
			}
			err := tu.Usable()
			var p *apierr.Error
			switch {
			case tc.wantKind != "":
				if !errors.As(err, &p) || p.Kind != tc.wantKind || p.Detail != "agent process exited: gone" {
					t.Errorf("Usable = %v; want a %s problem", err, tc.wantKind)
				}
			case err != tc.want:
				t.Errorf("Usable = %v; want %v", err, tc.want)
			}
			if start, serr := tu.Submit("c"); start || serr != err {
				t.Errorf("Submit after the end = %v, %v", start, serr)
			}
			if _, ok := tu.Next(); ok {
				t.Error("a waiting prompt ran after the end")
			}
		})
	}
}

func TestPrompt(t *testing.T) {
	if got, err := Prompt(adapters.Message{Text: "hi"}); got != "hi" || err != nil {
		t.Errorf("Prompt = %q, %v", got, err)
	}
	_, err := Prompt(adapters.Message{Text: " \n"})
	var p *apierr.Error
	if !errors.As(err, &p) || p.Kind != apierr.InvalidRequest || p.Detail != "invalid request: empty message" {
		t.Errorf("blank Prompt: %v", err)
	}
}
