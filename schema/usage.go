package schema

import "github.com/danielgtaylor/huma/v2"

// UsageSource says whose count a Usage is: the agent's own report, or the
// model proxy's reading of the provider's replies (authoritative: the agent
// cannot misreport it).
type UsageSource string

const (
	UsageFromAgent UsageSource = "agent"
	UsageFromProxy UsageSource = "proxy"
)

// UsageSources lists the sources in schema order.
var UsageSources = []UsageSource{UsageFromAgent, UsageFromProxy}

func (UsageSource) Schema(r huma.Registry) *huma.Schema {
	return EnumSchema(r, "UsageSource", UsageSources)
}

// Usage is token usage normalised across agents and providers. Input, cache
// read, cache write and output are disjoint, so they add up to the total:
// InputTokens are the uncached input (OpenAI's input minus its cached part,
// Anthropic's input as is). ReasoningTokens are the part of OutputTokens
// spent reasoning, counted there already.
type Usage struct {
	InputTokens      int64 `json:"input_tokens" doc:"Uncached input tokens"`
	OutputTokens     int64 `json:"output_tokens" doc:"Output tokens, reasoning included"`
	CacheReadTokens  int64 `json:"cache_read_tokens" doc:"Input tokens read from the provider's prompt cache"`
	CacheWriteTokens int64 `json:"cache_write_tokens" doc:"Input tokens written to the provider's prompt cache"`
	ReasoningTokens  int64 `json:"reasoning_tokens" doc:"The part of output_tokens spent reasoning"`
	TotalTokens      int64 `json:"total_tokens" doc:"input + cache read + cache write + output"`
	// CostUSD is only ever what the agent itself reported: agentd keeps no
	// price table, so proxy-sourced usage has none.
	CostUSD *float64    `json:"cost_usd,omitempty" doc:"The cost in US dollars the agent reported (Claude Code, OpenCode); absent when it reports none"`
	Source  UsageSource `json:"source"`
}

// Totalled returns u with TotalTokens set from its parts.
func (u Usage) Totalled() Usage {
	u.TotalTokens = u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens + u.OutputTokens
	return u
}

// Plus adds v to u. The cost is summed when either has one; the source
// stays u's unless u has none.
func (u Usage) Plus(v Usage) Usage {
	out := Usage{
		InputTokens:      u.InputTokens + v.InputTokens,
		OutputTokens:     u.OutputTokens + v.OutputTokens,
		CacheReadTokens:  u.CacheReadTokens + v.CacheReadTokens,
		CacheWriteTokens: u.CacheWriteTokens + v.CacheWriteTokens,
		ReasoningTokens:  u.ReasoningTokens + v.ReasoningTokens,
		TotalTokens:      u.TotalTokens + v.TotalTokens,
		Source:           u.Source,
	}
	if u.CostUSD != nil || v.CostUSD != nil {
		var c float64
		for _, p := range []*float64{u.CostUSD, v.CostUSD} {
			if p != nil {
				c += *p
			}
		}
		out.CostUSD = &c
	}
	if out.Source == "" {
		out.Source = v.Source
	}
	return out
}
