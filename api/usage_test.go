package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// Over HTTP: a session created with a budget reports its usage, a turn
// that reaches the budget is followed by the error saying why, and the next
// message gets a 409 budget_exceeded problem.
func TestSessionUsageAndBudget(t *testing.T) {
	ctx := testCtx(t)
	ts := newTestServer(t)
	ts.expect(t, ctx, http.StatusOK, http.MethodPost, "/v1/sessions/u1", `{"agent":"mock","budget":{"maxTokens":10}}`)
	ts.expect(t, ctx, http.StatusUnprocessableEntity, http.MethodPost, "/v1/sessions/u2", `{"agent":"mock","budget":{"maxTokens":-5}}`)

	res := ts.expect(t, ctx, http.StatusOK, http.MethodGet, "/v1/sessions/u1/usage", "")
	if got, want := string(res.Body), `{"sessionId":"u1","source":"agent","total":{"input_tokens":0,"output_tokens":0,"cache_read_tokens":0,"cache_write_tokens":0,"reasoning_tokens":0,"total_tokens":0,"source":"agent"},"turns":[],"budget":{"maxTokens":10,"daemonUsedTokens":0}}`; !jsonEqual(t, []byte(got), []byte(want)) {
		t.Errorf("fresh usage:\n got %s\nwant %s", got, want)
	}

	ts.send(t, ctx, "u1", "echo one two three four five")
	ts.waitFor(t, ctx, "u1", 0, func(e event) bool {
		var d struct {
			Code *string `json:"code"`
		}
		_ = json.Unmarshal(e.Data, &d)
		return e.Type == "error" && d.Code != nil && *d.Code == "budget_exceeded"
	})

	res = ts.expect(t, ctx, http.StatusOK, http.MethodGet, "/v1/sessions/u1/usage", "")
	var u struct {
		Total struct {
			TotalTokens int64 `json:"total_tokens"`
		} `json:"total"`
		Turns []struct {
			Sequence uint64 `json:"sequence"`
			Usage    struct {
				InputTokens  int64 `json:"input_tokens"`
				OutputTokens int64 `json:"output_tokens"`
			} `json:"usage"`
		} `json:"turns"`
		Budget struct {
			Exceeded *struct {
				Cap        string `json:"cap"`
				UsedTokens int64  `json:"usedTokens"`
			} `json:"exceeded"`
		} `json:"budget"`
	}
	if err := json.Unmarshal(res.Body, &u); err != nil {
		t.Fatal(err)
	}
	if u.Total.TotalTokens != 11 || len(u.Turns) != 1 || u.Turns[0].Usage.InputTokens != 6 || u.Turns[0].Usage.OutputTokens != 5 ||
		u.Budget.Exceeded == nil || u.Budget.Exceeded.Cap != "session" || u.Budget.Exceeded.UsedTokens != 11 {
		t.Errorf("usage after the turn: %s", res.Body)
	}

	res = ts.expect(t, ctx, http.StatusConflict, http.MethodPost, "/v1/sessions/u1/messages", `{"message":"again"}`)
	var p struct {
		Type      string         `json:"type"`
		SessionID string         `json:"sessionId"`
		Details   map[string]any `json:"details"`
	}
	if err := json.Unmarshal(res.Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "urn:sandbox-agent:error:budget_exceeded" || p.SessionID != "u1" || p.Details["cap"] != "session" {
		t.Errorf("refusal: %s", res.Body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("refusal content type %q", ct)
	}
	ts.expect(t, ctx, http.StatusNotFound, http.MethodGet, "/v1/sessions/nope/usage", "")
}
