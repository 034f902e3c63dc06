package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// feature is one row of the coverage table and how a run proves it.
type feature struct {
	name   string
	proves func(t *testing.T, evs []event) bool
}

var features = []feature{
	{"assistant text", anyItem(func(kind, role string, p part) bool {
		return kind == "message" && role == "assistant" && p.Type == "text" && p.Text != ""
	})},
	{"streaming deltas", func(_ *testing.T, evs []event) bool {
		for _, ev := range evs {
			if ev.Type == "item.delta" && !ev.Synthetic { // the engine makes one up for agents that send none
				return true
			}
		}
		return false
	}},
	{"thinking / reasoning", anyItem(func(_, _ string, p part) bool { return p.Type == "reasoning" && p.Text != "" })},
	{"tool call", anyItem(func(kind, _ string, p part) bool { return kind == "tool_call" && p.Type == "tool_call" })},
	{"tool result", anyItem(func(kind, _ string, p part) bool { return kind == "tool_result" })},
	{"command output", anyItem(func(_, _ string, p part) bool {
		return (p.Type == "tool_result" || p.Type == "text") && strings.Contains(p.Output+p.Text, "hi-from-tool")
	})},
	{"permission granted", resolved("permission.resolved", "accept", "accept_for_session")},
	{"permission rejected", resolved("permission.resolved", "reject")},
	{"file change", anyItem(func(_, _ string, p part) bool { return p.Type == "file_ref" })},
	{"question answered", resolved("question.resolved", "answered")},
	{"model error", anyType("error")},
	{"interrupt", func(t *testing.T, evs []event) bool { return turnStatus(t, evs, "interrupted") > 0 }},
	{"second turn", func(t *testing.T, evs []event) bool {
		for _, one := range bySession(evs) {
			if turnStatus(t, one, "completed")+turnStatus(t, one, "interrupted") >= 2 {
				return true
			}
		}
		return false
	}},
	{"resume in a new process", func(t *testing.T, evs []event) bool {
		var resumed []event
		for id, one := range bySession(evs) {
			if strings.HasSuffix(id, resumedSuffix) {
				resumed = one
			}
		}
		// The scripted model numbers its replies by the user messages it is
		// sent: "2" means the history of the first session came along.
		return anyItem(func(kind, role string, p part) bool {
			return role == "assistant" && strings.Contains(p.Text, "reply number 2")
		})(t, resumed)
	}},
	{"token usage", func(t *testing.T, evs []event) bool {
		for _, ev := range evs {
			if ev.Type == "turn.ended" {
				var td turnData
				ev.decode(t, &td)
				if u := td.Metadata.Usage; u != nil && u.InputTokens+u.OutputTokens > 0 {
					return true
				}
			}
		}
		return false
	}},
}

func bySession(evs []event) map[string][]event {
	out := map[string][]event{}
	for _, ev := range evs {
		out[ev.SessionID] = append(out[ev.SessionID], ev)
	}
	return out
}

func anyType(typ string) func(*testing.T, []event) bool {
	return func(_ *testing.T, evs []event) bool {
		for _, ev := range evs {
			if ev.Type == typ {
				return true
			}
		}
		return false
	}
}

func anyItem(match func(kind, role string, p part) bool) func(*testing.T, []event) bool {
	return func(t *testing.T, evs []event) bool {
		for _, ev := range evs {
			if ev.Type != "item.completed" {
				continue
			}
			var it itemData
			ev.decode(t, &it)
			for _, p := range it.Item.Content {
				if match(it.Item.Kind, it.Item.Role, p) {
					return true
				}
			}
		}
		return false
	}
}

func resolved(typ string, statuses ...string) func(*testing.T, []event) bool {
	return func(t *testing.T, evs []event) bool {
		for _, ev := range evs {
			if ev.Type == typ {
				var s struct{ Status string }
				ev.decode(t, &s)
				for _, want := range statuses {
					if s.Status == want {
						return true
					}
				}
			}
		}
		return false
	}
}

func turnStatus(t *testing.T, evs []event, status string) int {
	n := 0
	for _, ev := range evs {
		if ev.Type == "turn.ended" {
			var td turnData
			ev.decode(t, &td)
			if td.Metadata.Status == status {
				n++
			}
		}
	}
	return n
}

// evidence is how an agent's runs were made.
type evidence string

const (
	realBinary evidence = "real binary"
	recording  evidence = "recording"
)

// proofs collects, per agent and feature, the scenarios that proved it.
type proofs struct {
	mu     sync.Mutex
	by     map[string]map[string][]string // agent → feature → scenarios
	how    map[string]evidence
	ran    map[string]bool
	runs   int      // scenario runs recorded
	missed []string // agents that could not run
}

func newProofs() *proofs {
	return &proofs{by: map[string]map[string][]string{}, how: map[string]evidence{}, ran: map[string]bool{}}
}

func (p *proofs) record(t *testing.T, agent string, how evidence, sc string, evs []event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.how[agent], p.ran[agent] = how, true
	p.runs++
	if p.by[agent] == nil {
		p.by[agent] = map[string][]string{}
	}
	for _, f := range features {
		if f.proves(t, evs) {
			p.by[agent][f.name] = append(p.by[agent][f.name], sc)
		}
	}
}

func (p *proofs) skipped(agent string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.missed = append(p.missed, agent)
}

// table renders docs/agent-coverage.md.
func (p *proofs) table(agents []string) string {
	var b strings.Builder
	b.WriteString("# Agent coverage\n\n")
	b.WriteString("Generated by `go test ./internal/e2e -update` — do not edit. Each cell says which harness scenarios\n")
	b.WriteString("proved the feature for the agent, driving it through agentd's HTTP API: the **real binary** against\n")
	b.WriteString("the scripted model (internal/fakemodel), or a **recording** played by a stand-in binary where the\n")
	b.WriteString("agent cannot run offline. A dash means no run proved it; nothing is marked that no run proved. CI fails\n")
	b.WriteString("when this file differs from what the run proves.\n\n")
	b.WriteString("| feature |")
	for _, a := range agents {
		fmt.Fprintf(&b, " %s (%s) |", a, p.how[a])
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(agents)))
	b.WriteByte('\n')
	for _, f := range features {
		fmt.Fprintf(&b, "| %s |", f.name)
		for _, a := range agents {
			if scs := p.by[a][f.name]; len(scs) > 0 {
				fmt.Fprintf(&b, " ✓ %s |", strings.Join(scs, ", "))
			} else {
				b.WriteString(" — |")
			}
		}
		b.WriteByte('\n')
	}
	b.WriteString("\nScenarios (prompts carry the scripted model's `SCN:` markers; see `internal/e2e/scenario_test.go`):\n")
	for _, sc := range scenarios {
		fmt.Fprintf(&b, "- `%s`: %s\n", sc.name, describe(sc))
	}
	return b.String()
}

func describe(sc scenario) string {
	s := strings.Join(quoted(sc.prompts), ", then ")
	switch {
	case sc.interrupt:
		s += "; the first turn is interrupted at its first delta"
	case sc.resume:
		s += "; the second goes to a new session resuming the first, after it ended"
	case sc.permission != "":
		s += "; permissions answered " + sc.permission
	}
	return s
}

func quoted(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "`" + s + "`"
	}
	return out
}
