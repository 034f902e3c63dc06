package api_test

// Benchmarks of the HTTP surface, each with a baseline measured in the same
// run so results can be read as ratios on a noisy machine:
//
//	BenchmarkHealth / BenchmarkHealthBaseline   GET /v1/health over loopback
//	BenchmarkHealthHandler/{agentd,bare}         the same, handler only (no network)
//	BenchmarkFanout1000/{baseline,agentd}        1000 SSE subscribers of one session
//
// Run them with
//
//	go test -run '^$' -bench 'Health|Fanout' -count 3 ./api
//
// BenchmarkFanout1000 runs one fixed scenario per iteration and one
// iteration takes seconds, so the default -benchtime runs it once (pass
// -benchtime 1x to be sure). It can be tuned with AGENTD_BENCH_SUBSCRIBERS
// (1000; 0 measures emission alone), AGENTD_BENCH_RATE (events/s, 1000)
// and AGENTD_BENCH_SECONDS (3).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/catalog"
	"github.com/agentd-dev/agentd/adapters/mock"
	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/session"
	"github.com/agentd-dev/agentd/schema"
)

// ---------------------------------------------------------------------------
// Wiring

var benchDiscard = slog.New(slog.NewTextHandler(io.Discard, nil))

// benchDaemon is agentd as `agentd server` wires it, over a log in a temp dir.
type benchDaemon struct {
	log     *eventlog.Log
	manager *session.Manager
	handler http.Handler
	done    chan struct{}
}

func benchNewDaemon(b *testing.B, token string, agents []adapters.Agent) *benchDaemon {
	b.Helper()
	ctx := context.Background()
	log, err := eventlog.Open(ctx, b.TempDir(), eventlog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	m, err := session.New(ctx, log, agents, session.WithLogger(benchDiscard))
	if err != nil {
		_ = log.Close()
		b.Fatal(err)
	}
	d := &benchDaemon{log: log, manager: m, done: make(chan struct{})}
	d.handler, _ = api.New(api.Deps{
		Sessions: m, Log: log, Logger: benchDiscard, Done: d.done,
		Auth: api.AuthConfig{Token: token},
	})
	return d
}

// benchServe serves d over loopback and tears everything down at cleanup,
// in runServer's order: streams, HTTP, sessions, log.
func benchServe(b *testing.B, d *benchDaemon) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(d.handler)
	b.Cleanup(func() {
		close(d.done)
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.manager.Shutdown(ctx)
		if err := d.log.Close(); err != nil {
			b.Error(err)
		}
	})
	return srv
}

// benchAgent is an adapters.Agent whose emitter the benchmark drives.
type benchAgent struct {
	mu   sync.Mutex
	emit adapters.Emitter
}

func (*benchAgent) ID() string { return "mock" }

func (*benchAgent) Info(context.Context) adapters.Info {
	return adapters.Info{
		Installed: true, CredentialsAvailable: true, Runnable: true, Version: "bench",
		Modes:           []adapters.Mode{{ID: "build", Name: "Build"}},
		PermissionModes: map[string]string{"default": "default"},
		NativeTurns:     true, Resumable: true,
	}
}

func (a *benchAgent) Start(_ context.Context, _ adapters.StartRequest, emit adapters.Emitter) (adapters.Session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.emit = emit
	return benchAgentSession{}, nil
}

func (a *benchAgent) emitter() adapters.Emitter {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.emit
}

type benchAgentSession struct{}

func (benchAgentSession) NativeSessionID() string                      { return "" }
func (benchAgentSession) Send(context.Context, adapters.Message) error { return nil }
func (benchAgentSession) ReplyPermission(context.Context, adapters.PermissionRequest, adapters.PermissionReply) error {
	return nil
}
func (benchAgentSession) ReplyQuestion(context.Context, adapters.QuestionRequest, [][]string) error {
	return nil
}
func (benchAgentSession) RejectQuestion(context.Context, adapters.QuestionRequest) error { return nil }
func (benchAgentSession) Stop(context.Context) error                                     { return nil }

// ---------------------------------------------------------------------------
// Health

func benchBareHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}

// benchLoad GETs url in parallel over one shared keep-alive client and
// reports requests per second.
func benchLoad(b *testing.B, url string) {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.SetParallelism(4) // 4 * GOMAXPROCS requests in flight
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkHealth(b *testing.B) {
	for _, tc := range []struct{ name, token string }{{"token=none", ""}, {"token=set", "bench-token"}} {
		b.Run(tc.name, func(b *testing.B) {
			srv := benchServe(b, benchNewDaemon(b, tc.token, catalog.Agents(mock.New())))
			benchLoad(b, srv.URL+"/v1/health")
		})
	}
}

func BenchmarkHealthBaseline(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(benchBareHealth))
	defer srv.Close()
	benchLoad(b, srv.URL+"/v1/health")
}

// BenchmarkHealthHandler is the handler's own cost, without the network and
// the client that dominate BenchmarkHealth on a small machine.
func BenchmarkHealthHandler(b *testing.B) {
	run := func(b *testing.B, h http.Handler) {
		req := httptest.NewRequest(http.MethodGet, "/v1/health", nil)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	}
	b.Run("agentd", func(b *testing.B) {
		d := benchNewDaemon(b, "bench-token", catalog.Agents(mock.New()))
		b.Cleanup(func() { close(d.done); _ = d.log.Close() })
		run(b, d.handler)
	})
	b.Run("bare", func(b *testing.B) { run(b, http.HandlerFunc(benchBareHealth)) })
}

// ---------------------------------------------------------------------------
// Fan-out

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

// benchHist is a lock-free latency histogram: 1µs buckets up to 20ms, then
// 100µs buckets up to ~10s.
type benchHist struct {
	buckets []atomic.Int64
	max     atomic.Int64
	n       atomic.Int64
}

const (
	benchFineUS   = 20_000
	benchCoarseUS = 100
	benchBuckets  = benchFineUS + 100_000
)

func benchNewHist() *benchHist { return &benchHist{buckets: make([]atomic.Int64, benchBuckets)} }

func (h *benchHist) add(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	i := us
	if us >= benchFineUS {
		i = benchFineUS + (us-benchFineUS)/benchCoarseUS
	}
	if i >= benchBuckets {
		i = benchBuckets - 1
	}
	h.buckets[i].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			break
		}
	}
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *benchHist) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := int64(q * float64(n))
	if rank >= n {
		rank = n - 1
	}
	var seen int64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen > rank {
			us := int64(i) + 1
			if i >= benchFineUS {
				us = benchFineUS + int64(i-benchFineUS+1)*benchCoarseUS
			}
			return time.Duration(us) * time.Microsecond
		}
	}
	return time.Duration(h.max.Load())
}

func benchMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchRSS is VmRSS of this process in bytes, after handing freed memory
// back to the OS so that earlier benchmarks do not hide growth.
func benchRSS(free bool) float64 {
	if free {
		runtime.GC()
		debug.FreeOSMemory()
	}
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb * 1024
		}
	}
	return 0
}

// benchGoMem is what the Go runtime holds for heap objects and stacks.
func benchGoMem() float64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse + ms.StackInuse)
}

// The emission time travels in the event as `t=<19-digit unix nanos>;`.
var benchMarker = []byte(`"delta":"t=`)

// benchPad makes events ~500 bytes on the wire, a typical streamed chunk.
var benchPad = strings.Repeat("lorem ipsum ", 20)

func benchDelta(t time.Time) string { return fmt.Sprintf("t=%019d;%s", t.UnixNano(), benchPad) }

// benchFanoutTarget is one side of the comparison: a server with one stream
// to subscribe to and a way to emit one event into it.
type benchFanoutTarget struct {
	url  string
	emit func(ctx context.Context, seq uint64, at time.Time) error
}

type benchFanoutResult struct {
	hist                     *benchHist
	commit                   *benchHist
	rssBefore, rssConnected  float64
	rssMid, rssEnd           float64
	goBefore, goConnected    float64
	goroutines               int
	emitted, delivered, want int64
	elapsed                  time.Duration
}

func benchFanout(b *testing.B, target benchFanoutTarget, subs, rate int, seconds int) benchFanoutResult {
	b.Helper()
	total := rate * seconds
	res := benchFanoutResult{hist: benchNewHist(), commit: benchNewHist(), want: int64(total * subs)}
	tr := &http.Transport{
		MaxIdleConns: subs + 16, MaxIdleConnsPerHost: subs + 16, MaxConnsPerHost: subs + 16,
		DisableCompression: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	res.rssBefore, res.goBefore = benchRSS(true), benchGoMem()

	var connected, finished, exited sync.WaitGroup
	var delivered atomic.Int64
	var connectErrs atomic.Int64
	connected.Add(subs)
	finished.Add(subs)
	exited.Add(subs)
	for range subs {
		go func() {
			defer exited.Done()
			got := 0
			defer func() {
				if got < total {
					finished.Done()
				}
			}()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target.url, nil)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := client.Do(req)
			connected.Done()
			if err != nil {
				connectErrs.Add(1)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				connectErrs.Add(1)
				return
			}
			br := bufio.NewReaderSize(resp.Body, 4096)
			for got < total {
				line, err := br.ReadSlice('\n')
				if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
					return
				}
				now := time.Now()
				i := bytes.Index(line, benchMarker)
				if i < 0 || len(line) < i+len(benchMarker)+19 {
					continue
				}
				ns, perr := strconv.ParseInt(string(line[i+len(benchMarker):i+len(benchMarker)+19]), 10, 64)
				if perr != nil {
					continue
				}
				res.hist.add(now.Sub(time.Unix(0, ns)))
				delivered.Add(1)
				got++
			}
			finished.Done()
			// Keep the stream open until everyone is done, as a real
			// subscriber would; cancel ends it.
			<-ctx.Done()
		}()
	}
	connected.Wait()
	if n := connectErrs.Load(); n > 0 {
		b.Fatalf("%d subscribers failed to connect", n)
	}
	time.Sleep(200 * time.Millisecond) // let every handler reach its wait
	res.rssConnected, res.goConnected = benchRSS(true), benchGoMem()
	res.goroutines = runtime.NumGoroutine()

	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		t0 := time.Now()
		if err := target.emit(ctx, uint64(i+1), t0); err != nil {
			b.Fatal(err)
		}
		res.commit.add(time.Since(t0))
		res.emitted++
		if i == total/2 {
			res.rssMid = benchRSS(false)
		}
	}
	res.elapsed = time.Since(start)
	waited := make(chan struct{})
	go func() { finished.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(60 * time.Second):
		b.Errorf("delivery timed out: %d of %d frames", delivered.Load(), res.want)
	}
	res.rssEnd = benchRSS(false)
	res.delivered = delivered.Load()
	cancel()
	exited.Wait()
	return res
}

func (r benchFanoutResult) report(b *testing.B, subs int) {
	const mb = 1 << 20
	per1000 := 1000 / float64(max(subs, 1))
	b.ReportMetric(benchMs(r.hist.quantile(0.50)), "p50-ms")
	b.ReportMetric(benchMs(r.hist.quantile(0.99)), "p99-ms")
	b.ReportMetric(benchMs(time.Duration(r.hist.max.Load())), "max-ms")
	b.ReportMetric(benchMs(r.commit.quantile(0.99)), "emit-p99-ms")
	b.ReportMetric(float64(r.emitted)/r.elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(r.delivered)/float64(max(r.want, 1)), "delivered-frac")
	b.ReportMetric((r.rssConnected-r.rssBefore)/mb*per1000, "rss-MB/1k-subs")
	b.ReportMetric((r.rssEnd-r.rssConnected)/mb, "rss-growth-MB")
	b.ReportMetric((r.goConnected-r.goBefore)/mb*per1000, "gomem-MB/1k-subs")
	b.Logf("subs=%d events=%d in %v; latency p50=%v p90=%v p99=%v p99.9=%v max=%v; emit p50=%v p99=%v; "+
		"RSS before=%.1fMB connected=%.1fMB mid=%.1fMB end=%.1fMB; goroutines=%d",
		subs, r.emitted, r.elapsed.Round(time.Millisecond),
		r.hist.quantile(0.5), r.hist.quantile(0.9), r.hist.quantile(0.99), r.hist.quantile(0.999),
		time.Duration(r.hist.max.Load()), r.commit.quantile(0.5), r.commit.quantile(0.99),
		r.rssBefore/mb, r.rssConnected/mb, r.rssMid/mb, r.rssEnd/mb, r.goroutines)
}

// benchBroadcaster is the baseline: the same design as agentd's stream
// (an append-only in-memory log, a channel closed at every append, each
// subscriber reading after its cursor in batches of up to 256 and flushing
// once per batch) with the same SSE framing, but no SQLite, no router and
// no framework.
type benchBroadcaster struct {
	mu     sync.RWMutex
	frames [][]byte
	notify chan struct{}
	done   chan struct{}
}

func benchNewBroadcaster() *benchBroadcaster {
	return &benchBroadcaster{notify: make(chan struct{}), done: make(chan struct{})}
}

func (bc *benchBroadcaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fl := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	bc.mu.RLock()
	cursor := len(bc.frames) // live events only
	bc.mu.RUnlock()
	for {
		bc.mu.RLock()
		changed := bc.notify
		to := min(len(bc.frames), cursor+256)
		batch := bc.frames[cursor:to]
		bc.mu.RUnlock()
		if len(batch) > 0 {
			for _, f := range batch {
				if _, err := w.Write(f); err != nil {
					return
				}
			}
			fl.Flush()
			cursor = to
			continue
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		case <-bc.done:
			return
		}
	}
}

func (bc *benchBroadcaster) emit(_ context.Context, seq uint64, at time.Time) error {
	data, err := json.Marshal(schema.ItemDeltaData{ItemID: "itm_1", Delta: benchDelta(at)})
	if err != nil {
		return err
	}
	body, err := json.Marshal(schema.UniversalEvent{
		EventID: schema.EventID(seq), Sequence: seq, Time: schema.FormatTime(at), SessionID: "fanout",
		Source: schema.SourceAgent, Type: schema.EventItemDelta, Data: data,
	})
	if err != nil {
		return err
	}
	frame := fmt.Appendf(nil, "id: %d\ndata: %s\n\n", seq, body)
	bc.mu.Lock()
	bc.frames = append(bc.frames, frame)
	close(bc.notify)
	bc.notify = make(chan struct{})
	bc.mu.Unlock()
	return nil
}

// BenchmarkFanout1000: one session, 1000 SSE subscribers, events emitted at
// a fixed rate through the engine (agentd) or an in-memory fan-out
// (baseline); latency is from just before Emit to the subscriber parsing
// the frame, so agentd's includes the SQLite commit.
func BenchmarkFanout1000(b *testing.B) {
	subs := benchEnvInt("AGENTD_BENCH_SUBSCRIBERS", 1000)
	rate := max(benchEnvInt("AGENTD_BENCH_RATE", 1000), 1)
	seconds := max(benchEnvInt("AGENTD_BENCH_SECONDS", 3), 1)

	b.Run("baseline", func(b *testing.B) {
		bc := benchNewBroadcaster()
		srv := httptest.NewServer(bc)
		defer srv.Close()
		defer close(bc.done)
		var last benchFanoutResult
		for range b.N {
			last = benchFanout(b, benchFanoutTarget{url: srv.URL + "/events", emit: bc.emit}, subs, rate, seconds)
		}
		last.report(b, subs)
	})

	b.Run("agentd", func(b *testing.B) {
		agent := &benchAgent{}
		d := benchNewDaemon(b, "", []adapters.Agent{agent})
		srv := benchServe(b, d)
		var last benchFanoutResult
		for i := range b.N {
			id := "fanout-" + strconv.Itoa(i)
			if _, err := d.manager.Create(context.Background(), id, session.CreateRequest{Agent: "mock"}); err != nil {
				b.Fatal(err)
			}
			emitter := agent.emitter()
			emit := func(ctx context.Context, _ uint64, at time.Time) error {
				return emitter.Emit(ctx, adapters.Event{
					Type: schema.EventItemDelta,
					Data: schema.ItemDeltaData{ItemID: "itm_1", Delta: benchDelta(at)},
				})
			}
			last = benchFanout(b, benchFanoutTarget{url: srv.URL + "/v1/sessions/" + id + "/events/sse", emit: emit}, subs, rate, seconds)
		}
		last.report(b, subs)
	})
}

// BenchmarkLogTail isolates the event log's wake-up path from HTTP: one
// appender commits events one at a time (as Session.Emit does) while N
// readers run the loop of api's stream (Changed, Read after a cursor, wait)
// on the same session. ns/op is one Append's latency; readers=0 is the
// baseline.
func BenchmarkLogTail(b *testing.B) {
	for _, readers := range []int{0, 10, 100, 1000} {
		b.Run("readers="+strconv.Itoa(readers), func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			log, err := eventlog.Open(ctx, b.TempDir(), eventlog.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := log.Close(); err != nil {
					b.Error(err)
				}
			}()
			const id = "tail"
			if err := log.CreateSession(ctx, eventlog.Session{ID: id, Info: []byte(`{}`)}, nil); err != nil {
				b.Fatal(err)
			}
			body := []byte(`{"type":"item.delta","data":{"delta":"` + benchPad + `"},"raw":null}`)
			var wg sync.WaitGroup
			var reads atomic.Int64
			for range readers {
				wg.Go(func() {
					var cursor uint64
					for {
						changed := log.Changed(id)
						recs, err := log.Read(ctx, id, cursor, 256)
						if err != nil {
							return
						}
						if len(recs) > 0 {
							cursor = recs[len(recs)-1].Seq
							reads.Add(int64(len(recs)))
							continue
						}
						select {
						case <-changed:
						case <-ctx.Done():
							return
						}
					}
				})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				rec := eventlog.Record{Seq: uint64(i + 1), Type: "item.delta", Body: body}
				if err := log.Append(ctx, id, []byte(`{}`), int64(i), rec); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			cancel()
			wg.Wait()
		})
	}
}

// BenchmarkStartupPhases times, in process, what `agentd server` does
// before it listens, phase by phase: open the log on a fresh data dir
// (creating the schema), load the sessions, build the HTTP handler. It
// explains bench/startup.sh's figure with less noise than exec timing.
func BenchmarkStartupPhases(b *testing.B) {
	ctx := context.Background()
	b.Run("eventlog.Open", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			b.StopTimer()
			dir := b.TempDir()
			b.StartTimer()
			log, err := eventlog.Open(ctx, dir, eventlog.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := log.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
	b.Run("eventlog.Open-existing", func(b *testing.B) {
		dir := b.TempDir()
		log, err := eventlog.Open(ctx, dir, eventlog.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := log.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			log, err := eventlog.Open(ctx, dir, eventlog.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := log.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
	b.Run("session.New", func(b *testing.B) {
		log, err := eventlog.Open(ctx, b.TempDir(), eventlog.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer log.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := session.New(ctx, log, catalog.Agents(mock.New()), session.WithLogger(benchDiscard)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("api.New", func(b *testing.B) {
		log, err := eventlog.Open(ctx, b.TempDir(), eventlog.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer log.Close()
		m, err := session.New(ctx, log, catalog.Agents(mock.New()), session.WithLogger(benchDiscard))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			api.New(api.Deps{Sessions: m, Log: log, Logger: benchDiscard})
		}
	})
}
