package cliagent

import (
	"strings"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
)

// Turns decides whether a session takes a prompt now, later or not at all:
// turns run one at a time, a prompt sent while one runs waits for it, and
// nothing is taken once Stop was called or the agent is gone.
//
// It does no locking: the session guards it with the mutex that guards
// what a prompt changes (its translator), so that deciding about a prompt
// and recording it are one step.
type Turns[P any] struct {
	// Stopped is what Usable returns once Stop was called.
	Stopped error

	stopping bool
	ended    error // why the session ended, once it ended on its own
	busy     bool  // a turn runs: its prompt was given and its end not yet seen
	queue    []P   // prompts waiting for the running turn
}

// Usable reports why nothing can be sent any more, if so.
func (t *Turns[P]) Usable() error {
	switch {
	case t.ended != nil:
		return t.ended
	case t.stopping:
		return t.Stopped
	}
	return nil
}

// Submit decides about a prompt: start says it runs now (the caller then
// starts the turn), else it waits for the running turn, or err says why
// the session takes none.
func (t *Turns[P]) Submit(p P) (start bool, err error) {
	if err := t.Usable(); err != nil {
		return false, err
	}
	if t.busy {
		t.queue = append(t.queue, p)
		return false, nil
	}
	t.busy = true
	return true, nil
}

// Busy reports whether a turn runs.
func (t *Turns[P]) Busy() bool { return t.busy }

// Idle records that no turn runs (it ended, or never started), leaving the
// waiting prompts where they are.
func (t *Turns[P]) Idle() { t.busy = false }

// Next is called once a turn has ended: it returns the next waiting
// prompt, which then runs, or false when none waits or the session takes
// none any more, and no turn runs.
func (t *Turns[P]) Next() (P, bool) {
	var p P
	if len(t.queue) == 0 || t.Usable() != nil {
		t.busy = false
		return p, false
	}
	p, t.queue = t.queue[0], t.queue[1:]
	t.busy = true
	return p, true
}

// Stop records that Stop was called: the waiting prompts are dropped, and
// the exit that follows is expected.
func (t *Turns[P]) Stop() {
	t.stopping = true
	t.queue = nil
}

// Stopping reports whether Stop was called.
func (t *Turns[P]) Stopping() bool { return t.stopping }

// End records that the agent is gone: nothing runs or waits any more, and
// Usable returns err from now on (Stopped when err is nil and Stop was
// called).
func (t *Turns[P]) End(err error) {
	t.ended, t.busy, t.queue = err, false, nil
}

// Exited records that the agent's process ended. Unless Stop asked for
// that, the session has ended with an AgentProcessExited problem saying
// msg. It reports whether Stop asked for it.
func (t *Turns[P]) Exited(msg string) (stopped bool) {
	if t.stopping {
		t.End(nil)
		return true
	}
	t.End(apierr.New(apierr.AgentProcessExited, "%s", msg))
	return false
}

// Prompt is the text of msg for the agent. A message without any is the
// client's mistake (InvalidRequest).
func Prompt(msg adapters.Message) (string, error) {
	text := msg.Prompt()
	if strings.TrimSpace(text) == "" {
		return "", apierr.New(apierr.InvalidRequest, "empty message")
	}
	return text, nil
}
