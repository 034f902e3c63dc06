package install

import (
	"context"
	"sync"
)

// flightGroup runs one function per key at a time; callers that arrive
// while it runs wait for its result instead of starting their own. The
// function runs on a context of its own that ends only when every waiting
// caller has given up, so one impatient caller does not abort a download
// that others still wait for. Progress goes to every waiting caller's
// callback.
type flightGroup struct {
	mu      sync.Mutex
	m       map[string]*flight
	running sync.WaitGroup // flights whose function has not returned
	// joined, if set (tests), is called under mu each time a caller
	// starts or joins a flight, with the number of callers now waiting.
	joined func(key string, waiters int)
}

type flight struct {
	done    chan struct{}
	res     Binary
	err     error
	waiters int // guarded by flightGroup.mu
	cancel  context.CancelFunc

	subMu  sync.Mutex
	subs   map[int]func(Progress)
	nextID int
}

// do runs fn under key, or joins the run in flight. shared reports whether
// the result came from a run that another caller started.
func (g *flightGroup) do(ctx context.Context, key string, progress func(Progress),
	fn func(ctx context.Context, report func(Progress)) (Binary, error)) (res Binary, err error, shared bool) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*flight{}
	}
	f, joined := g.m[key]
	var fctx context.Context
	if !joined {
		var cancel context.CancelFunc
		fctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), cancel: cancel, subs: map[int]func(Progress){}}
		g.m[key] = f
	}
	f.waiters++
	// Subscribe before the work starts, so the caller that starts it sees
	// every report; a caller that joins later sees those from then on.
	id := f.subscribe(progress)
	if g.joined != nil {
		g.joined(key, f.waiters)
	}
	if !joined {
		g.running.Add(1)
		go func() {
			defer g.running.Done()
			res, err := fn(fctx, f.report)
			g.mu.Lock()
			if g.m[key] == f {
				delete(g.m, key)
			}
			g.mu.Unlock()
			f.res, f.err = res, err
			close(f.done)
			f.cancel()
		}()
	}
	g.mu.Unlock()

	select {
	case <-f.done:
		f.unsubscribe(id)
		return f.res, f.err, joined
	case <-ctx.Done():
		f.unsubscribe(id)
		g.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			// Nobody waits any more: stop the work, and let the next caller
			// start afresh rather than join a run being torn down.
			f.cancel()
			if g.m[key] == f {
				delete(g.m, key)
			}
		}
		g.mu.Unlock()
		return Binary{}, context.Cause(ctx), joined
	}
}

func (f *flight) subscribe(cb func(Progress)) int {
	if cb == nil {
		return -1
	}
	f.subMu.Lock()
	defer f.subMu.Unlock()
	f.nextID++
	f.subs[f.nextID] = cb
	return f.nextID
}

func (f *flight) unsubscribe(id int) {
	if id < 0 {
		return
	}
	f.subMu.Lock()
	defer f.subMu.Unlock()
	delete(f.subs, id)
}

// report calls every subscribed callback. It holds the lock while doing so,
// so no callback runs after its caller's do has returned.
func (f *flight) report(p Progress) {
	f.subMu.Lock()
	defer f.subMu.Unlock()
	for _, cb := range f.subs {
		cb(p)
	}
}
