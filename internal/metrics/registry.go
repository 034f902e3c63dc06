// Package metrics is agentd's Prometheus endpoint: a small registry of
// labelled counters, gauges and histograms written in the Prometheus text
// exposition format (version 0.0.4), and the daemon's own metrics on top.
// It has no dependency: the format is a few lines of text.
package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Registry holds metric families and writes them out.
type Registry struct {
	mu       sync.Mutex
	families []*family
}

type kind string

const (
	kindCounter   kind = "counter"
	kindGauge     kind = "gauge"
	kindHistogram kind = "histogram"
)

type family struct {
	name, help string
	kind       kind
	labels     []string
	buckets    []float64 // histograms: upper bounds, ascending, without +Inf

	mu     sync.Mutex
	series map[string]*series // by joined label values
}

type series struct {
	values []string
	value  float64  // counter, gauge; histogram: sum
	counts []uint64 // histogram: per bucket (not cumulative), then +Inf
}

func (r *Registry) add(f *family) *family {
	r.mu.Lock()
	defer r.mu.Unlock()
	f.series = map[string]*series{}
	r.families = append(r.families, f)
	slices.SortFunc(r.families, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	return f
}

// Counter is a family of counters, one per combination of label values.
type Counter struct{ f *family }

// Gauge is a family of gauges.
type Gauge struct{ f *family }

// Histogram is a family of histograms.
type Histogram struct{ f *family }

// Counter registers a counter family; its name should end in _total.
func (r *Registry) Counter(name, help string, labels ...string) Counter {
	return Counter{r.add(&family{name: name, help: help, kind: kindCounter, labels: labels})}
}

// Gauge registers a gauge family.
func (r *Registry) Gauge(name, help string, labels ...string) Gauge {
	return Gauge{r.add(&family{name: name, help: help, kind: kindGauge, labels: labels})}
}

// Histogram registers a histogram family with the given bucket upper
// bounds (ascending; +Inf is implied).
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) Histogram {
	b := slices.Clone(buckets)
	slices.Sort(b)
	return Histogram{r.add(&family{name: name, help: help, kind: kindHistogram, labels: labels, buckets: b})}
}

// Add adds v (negative values are ignored: counters only go up).
func (c Counter) Add(v float64, labelValues ...string) {
	if v < 0 {
		return
	}
	c.f.update(labelValues, func(s *series) { s.value += v })
}

// Inc adds one.
func (c Counter) Inc(labelValues ...string) { c.Add(1, labelValues...) }

// Set sets the gauge.
func (g Gauge) Set(v float64, labelValues ...string) {
	g.f.update(labelValues, func(s *series) { s.value = v })
}

// Add moves the gauge by v.
func (g Gauge) Add(v float64, labelValues ...string) {
	g.f.update(labelValues, func(s *series) { s.value += v })
}

// Observe records one value.
func (h Histogram) Observe(v float64, labelValues ...string) {
	i, _ := slices.BinarySearch(h.f.buckets, v) // first bound ≥ v: "le" is inclusive
	h.f.update(labelValues, func(s *series) {
		s.value += v
		s.counts[i]++
	})
}

// update applies f to the series of the label values; a call with the
// wrong number of values is a bug in the caller, recorded under "" values
// rather than panicking in the daemon.
func (f *family) update(values []string, apply func(*series)) {
	if len(values) != len(f.labels) {
		values = make([]string, len(f.labels))
	}
	key := strings.Join(values, "\xff")
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.series[key]
	if !ok {
		s = &series{values: slices.Clone(values)}
		if f.kind == kindHistogram {
			s.counts = make([]uint64, len(f.buckets)+1)
		}
		f.series[key] = s
	}
	apply(s)
}

// WriteTo writes every family in the text format, families by name and
// series by label values, so the output is stable.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	fams := slices.Clone(r.families)
	r.mu.Unlock()
	var b strings.Builder
	for _, f := range fams {
		f.write(&b)
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func (f *family) write(b *strings.Builder) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.kind)
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.series))
	for k := range f.series {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s := f.series[k]
		if f.kind != kindHistogram {
			fmt.Fprintf(b, "%s%s %s\n", f.name, labelText(f.labels, s.values, "", ""), formatFloat(s.value))
			continue
		}
		var cum uint64
		for i, c := range s.counts {
			cum += c
			le := math.Inf(1)
			if i < len(f.buckets) {
				le = f.buckets[i]
			}
			fmt.Fprintf(b, "%s_bucket%s %d\n", f.name, labelText(f.labels, s.values, "le", formatFloat(le)), cum)
		}
		fmt.Fprintf(b, "%s_sum%s %s\n", f.name, labelText(f.labels, s.values, "", ""), formatFloat(s.value))
		fmt.Fprintf(b, "%s_count%s %d\n", f.name, labelText(f.labels, s.values, "", ""), cum)
	}
}

func labelText(names, values []string, extraName, extraValue string) string {
	if len(names) == 0 && extraName == "" {
		return ""
	}
	parts := make([]string, 0, len(names)+1)
	for i, n := range names {
		parts = append(parts, n+`="`+escapeLabel(values[i])+`"`)
	}
	if extraName != "" {
		parts = append(parts, extraName+`="`+extraValue+`"`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// ContentType is the text exposition format's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// ServeHTTP answers GET /metrics.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	if req.Method == http.MethodHead {
		return
	}
	_, _ = r.WriteTo(w)
}
