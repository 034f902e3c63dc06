package modelproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/internal/fakemodel"
)

// BenchmarkTTFB measures the time to the first byte of a streamed
// Anthropic reply, direct from the fake model and through the proxy,
// interleaved in one run so both see the same machine load. It reports
// p50/p99 of each and the p99 the proxy adds.
func BenchmarkTTFB(b *testing.B) {
	fake := fakemodel.New()
	defer fake.Close()
	up := httptest.NewServer(fake)
	defer up.Close()
	p, err := New(Config{Upstreams: map[Provider]Upstream{Anthropic: {URL: up.URL, Key: anthropicKey}}})
	if err != nil {
		b.Fatal(err)
	}
	proxy := httptest.NewServer(p)
	defer proxy.Close()
	token := p.Issue("bench")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	payload := body(messagesBody, true)
	ttfb := func(base string) time.Duration {
		req, _ := http.NewRequestWithContext(b.Context(), "POST", base+"/v1/messages", strings.NewReader(payload))
		req.Header = anthropicHeader(token)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var one [1]byte
		if _, err := resp.Body.Read(one[:]); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return d
	}
	var direct, proxied []time.Duration
	for b.Loop() {
		direct = append(direct, ttfb(up.URL))
		proxied = append(proxied, ttfb(proxy.URL))
	}
	slices.Sort(direct)
	slices.Sort(proxied)
	pct := func(ds []time.Duration, q float64) float64 {
		return float64(ds[int(q*float64(len(ds)-1))].Microseconds())
	}
	b.ReportMetric(pct(direct, 0.50), "direct-p50-µs")
	b.ReportMetric(pct(direct, 0.99), "direct-p99-µs")
	b.ReportMetric(pct(proxied, 0.50), "proxy-p50-µs")
	b.ReportMetric(pct(proxied, 0.99), "proxy-p99-µs")
	b.ReportMetric(pct(proxied, 0.50)-pct(direct, 0.50), "added-p50-µs")
	b.ReportMetric(pct(proxied, 0.99)-pct(direct, 0.99), "added-p99-µs")
	b.ReportMetric(pct(proxied, 0.50)/pct(direct, 0.50), "p50-ratio")
}
