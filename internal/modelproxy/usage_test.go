package modelproxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/agentd-dev/agentd/internal/fakemodel"
)

// capture is one reply of the fake model, as it went over the wire.
type capture struct {
	api  api
	sse  bool
	body []byte
}

// captures asks the fake model for every kind of reply the tee reads.
func captures(tb testing.TB) []capture {
	tb.Helper()
	fake := fakemodel.New(fakemodel.WithUsage(testUsage))
	defer fake.Close()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	var out []capture
	for _, c := range []struct {
		api  api
		path string
		tmpl string
		h    http.Header
	}{
		{apiMessages, "/v1/messages", messagesBody, anthropicHeader("k")},
		{apiResponses, "/v1/responses", responsesBody, openAIHeader("k")},
		{apiChat, "/v1/chat/completions", chatBody, openAIHeader("k")},
	} {
		for _, stream := range []bool{true, false} {
			req, _ := http.NewRequestWithContext(context.Background(), "POST", srv.URL+c.path, strings.NewReader(body(c.tmpl, stream)))
			req.Header = c.h
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				tb.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, capture{c.api, stream, b})
		}
	}
	return out
}

// readUsage passes r through a tee to EOF and returns what it reported.
func readUsage(t testing.TB, r io.Reader, a api, sse bool) (Usage, int) {
	var got Usage
	reports := 0
	tee := newUsageTee(io.NopCloser(r), a, sse, func(u Usage) { got = got.plus(u); reports++ })
	if _, err := io.Copy(io.Discard, tee); err != nil {
		t.Fatal(err)
	}
	tee.Close()
	return got, reports
}

func TestUsageTeeReadsEveryShapeWhateverTheChunking(t *testing.T) {
	want := map[api]Usage{
		apiMessages:  {InputTokens: 100, OutputTokens: 20, CacheReadTokens: 40, Requests: 1},
		apiResponses: {InputTokens: 60, OutputTokens: 20, CacheReadTokens: 40, ReasoningTokens: 5, Requests: 1},
		apiChat:      {InputTokens: 60, OutputTokens: 20, CacheReadTokens: 40, Requests: 1},
	}
	for _, c := range captures(t) {
		for name, r := range map[string]io.Reader{
			"whole":    strings.NewReader(string(c.body)),
			"one byte": iotest.OneByteReader(strings.NewReader(string(c.body))),
			"half":     iotest.HalfReader(strings.NewReader(string(c.body))),
		} {
			got, reports := readUsage(t, r, c.api, c.sse)
			if got != want[c.api] || reports != 1 {
				t.Errorf("api %d sse %v %s: usage %+v in %d reports, want %+v in 1", c.api, c.sse, name, got, reports, want[c.api])
			}
		}
	}
}

func TestUsageTeeEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		api  api
		sse  bool
		in   string
		want Usage
	}{
		{"no usage reports nothing", apiMessages, true, "event: ping\ndata: {\"type\":\"ping\"}\n\n", Usage{}},
		{"crlf lines", apiMessages, true, "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\r\n\r\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":4}}\r\n", Usage{InputTokens: 3, OutputTokens: 4, Requests: 1}},
		{"stream cut before delta", apiMessages, true, "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n", Usage{InputTokens: 3, OutputTokens: 1, Requests: 1}},
		{"last line without newline", apiChat, true, "data: {\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}", Usage{}},
		{"garbage", apiResponses, false, "{not json usage", Usage{}},
		{"oversized line skipped", apiChat, true, "data: {\"usage\":{\"prompt_tokens\":1,\"x\":\"" + strings.Repeat("a", maxSSELine) + "\"}}\ndata: {\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n", Usage{InputTokens: 5, OutputTokens: 2, Requests: 1}},
		{"responses failed carries usage", apiResponses, true, "data: {\"type\":\"response.failed\",\"response\":{\"usage\":{\"input_tokens\":9,\"output_tokens\":0}}}\n", Usage{InputTokens: 9, Requests: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := readUsage(t, strings.NewReader(tt.in), tt.api, tt.sse); got != tt.want {
				t.Fatalf("usage %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzUsageTee: the tee never fails on any bytes, and where a read splits
// the stream never changes what it counts.
func FuzzUsageTee(f *testing.F) {
	for _, c := range captures(f) {
		f.Add(c.body, uint8(c.api), c.sse, uint(len(c.body)/3))
	}
	f.Fuzz(func(t *testing.T, b []byte, a uint8, sse bool, split uint) {
		kind := api(a % 4)
		whole, _ := readUsage(t, strings.NewReader(string(b)), kind, sse)
		cut := int(split % uint(len(b)+1))
		parts, _ := readUsage(t, io.MultiReader(strings.NewReader(string(b[:cut])), strings.NewReader(string(b[cut:]))), kind, sse)
		if whole != parts {
			t.Fatalf("split at %d: %+v, whole: %+v", cut, parts, whole)
		}
	})
}
