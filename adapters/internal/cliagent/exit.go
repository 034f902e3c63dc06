package cliagent

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/agentproc"
	"github.com/agentd-dev/agentd/schema"
)

// ExitMessage says how a process that was not asked to stop ended: who
// ("claude", "opencode server") and its exit code, or the signal that
// killed it when signal is not "".
func ExitMessage(who string, code int, signal string) string {
	if signal != "" {
		return who + " was killed by signal (" + signal + ")"
	}
	return who + " exited unexpectedly with exit code " + strconv.Itoa(code)
}

// ExitReport is the unexpected end of an agent's process, as the session
// reports it: an error event, then session.ended with the process's stderr.
type ExitReport struct {
	Message string
	Exit    agentproc.Exit
	Stderr  agentproc.Report
	// Code is the error event's code: "process_exit" when the agent's own
	// process ended, "server_exit" when a server it shares did.
	Code string
	// By says who ended the session.
	By schema.TerminatedBy
	// NativeSessionID marks both events, when the adapter marks its events.
	NativeSessionID string
}

// Events are the error and session.ended events of the report.
func (r ExitReport) Events() []adapters.Event {
	details, _ := json.Marshal(map[string]any{"exitCode": r.Exit.Code, "signal": r.Exit.Signal})
	rep := r.Stderr
	stderr := &schema.StderrOutput{Head: &rep.Head, Truncated: rep.Truncated, TotalLines: &rep.TotalLines}
	if rep.Truncated {
		stderr.Tail = &rep.Tail
	}
	msg, code := r.Message, r.Exit.Code
	return []adapters.Event{
		{Type: schema.EventError, Synthetic: true, NativeSessionID: r.NativeSessionID,
			Data: schema.ErrorData{Message: msg, Code: schema.Ptr(r.Code), Details: details}},
		{Type: schema.EventSessionEnded, Synthetic: true, NativeSessionID: r.NativeSessionID, Data: schema.SessionEndedData{
			Reason: schema.EndError, TerminatedBy: r.By, Message: &msg, ExitCode: &code, Stderr: stderr}},
	}
}

// UnblockReader closes p's stdout shortly after its process group is gone,
// in case something that escaped the group still holds it open; read is
// closed once stdout was read to the end, which ends it early.
func UnblockReader(p *agentproc.Process, read <-chan struct{}) {
	select {
	case <-p.Done():
	case <-read:
		return
	}
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-read:
	case <-t.C:
		_ = p.Stdout.Close()
	}
}
