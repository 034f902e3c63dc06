package schema

import (
	"encoding/json"
	"testing"
)

func TestUsageArithmetic(t *testing.T) {
	cost := func(f float64) *float64 { return &f }
	for _, tc := range []struct {
		name string
		got  Usage
		want string
	}{
		{"total adds the disjoint parts, not reasoning",
			Usage{InputTokens: 90, CacheReadTokens: 30, CacheWriteTokens: 5, OutputTokens: 25, ReasoningTokens: 7, Source: UsageFromProxy}.Totalled(),
			`{"input_tokens":90,"output_tokens":25,"cache_read_tokens":30,"cache_write_tokens":5,"reasoning_tokens":7,"total_tokens":150,"source":"proxy"}`},
		{"sum without costs has none",
			Usage{InputTokens: 1, TotalTokens: 1, Source: UsageFromAgent}.Plus(Usage{OutputTokens: 2, TotalTokens: 2}),
			`{"input_tokens":1,"output_tokens":2,"cache_read_tokens":0,"cache_write_tokens":0,"reasoning_tokens":0,"total_tokens":3,"source":"agent"}`},
		{"a cost on one side is kept; the source comes from the other when the first has none",
			Usage{}.Plus(Usage{TotalTokens: 4, CostUSD: cost(0.25), Source: UsageFromAgent}).Plus(Usage{TotalTokens: 1, CostUSD: cost(0.5)}),
			`{"input_tokens":0,"output_tokens":0,"cache_read_tokens":0,"cache_write_tokens":0,"reasoning_tokens":0,"total_tokens":5,"cost_usd":0.75,"source":"agent"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.got)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got  %s\nwant %s", b, tc.want)
			}
		})
	}
}
