// Package sink ships the local event log to destinations that outlive the
// sandbox (PostgreSQL, webhooks). A Shipper reads every session's events in
// commit order after a cursor, hands them to its Destination in batches and
// moves the cursor, kept in a file of its own, only once the destination has
// committed them. A crash between the two re-ships the last batch, which
// destinations absorb (ON CONFLICT, idempotency keys): exactly once in effect.
package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/agentd-dev/agentd/internal/eventlog"
)

// Source is the local event log as a shipper reads it.
type Source interface {
	ReadAfter(ctx context.Context, after int64, limit int) ([]eventlog.Entry, error)
	Head(ctx context.Context) (int64, error)
	Committed() <-chan struct{}
	Session(ctx context.Context, id string) (eventlog.Session, error)
}

// Batch is what a destination is given: events in commit order and, once
// each, the current stored row of every session they belong to.
type Batch struct {
	Events   []eventlog.Entry
	Sessions []eventlog.Session
}

// Destination receives batches. Ship returns nil only once every event of
// the batch is durably accepted (or, for destinations that have one, set
// aside in their dead-letter store); it must tolerate being given events it
// already accepted.
type Destination interface {
	Kind() string
	Ship(ctx context.Context, b Batch) error
	Close() error
}

// deadLetterer is implemented by destinations that set events aside.
type deadLetterer interface {
	DeadLetters() int64
}

// Options tune a shipper; zero values take defaults.
type Options struct {
	// Name identifies the sink in health output and names its cursor.
	Name string
	// Destination says where the sink ships, without secrets.
	Destination string
	// Cursor keeps the shipped position (required; see FileCursor).
	Cursor Cursor
	// BatchSize caps events per batch (default 500).
	BatchSize int
	// MinBackoff and MaxBackoff bound the wait between failed attempts
	// (defaults 200ms and 30s); it doubles from one to the other.
	MinBackoff, MaxBackoff time.Duration
	// ShipTimeout bounds one Ship call, so a destination that hangs is
	// retried instead of stalling the shipper (default 60s).
	ShipTimeout time.Duration
	Logger      *slog.Logger
}

// Status is a sink's health: how far behind it is and why.
type Status struct {
	Name        string
	Kind        string
	Destination string
	Shipped     int64   // log position of the last shipped event
	Backlog     int64   // events committed locally and not yet shipped
	LagSeconds  float64 // age of the oldest unshipped event
	LastError   string  // the last failure, cleared by the next success
	DeadLetters int64
}

// Shipper moves events from a Source to a Destination.
type Shipper struct {
	src  Source
	dst  Destination
	opts Options

	mu        sync.Mutex
	shipped   int64
	lastError string
	moved     chan struct{} // closed and replaced whenever shipped moves
}

// New loads the cursor and returns a shipper ready to Run.
func New(src Source, dst Destination, opts Options) (*Shipper, error) {
	if opts.Cursor == nil {
		return nil, errors.New("sink: no cursor")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 200 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	if opts.ShipTimeout <= 0 {
		opts.ShipTimeout = 60 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	pos, err := opts.Cursor.Load()
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", opts.Name, err)
	}
	return &Shipper{src: src, dst: dst, opts: opts, shipped: pos, moved: make(chan struct{})}, nil
}

// Name is the sink's name.
func (s *Shipper) Name() string { return s.opts.Name }

// Run ships until ctx ends. Failures are retried with backoff, never
// returned: the backlog waits in the local log meanwhile.
func (s *Shipper) Run(ctx context.Context) error {
	for {
		changed := s.src.Committed()
		entries, err := s.src.ReadAfter(ctx, s.position(), s.opts.BatchSize)
		if err != nil {
			if !s.fail(ctx, "read local log", err, 0) {
				return nil
			}
			continue
		}
		if len(entries) == 0 {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return nil
			}
		}
		if !s.ship(ctx, entries) {
			return nil
		}
	}
}

// ship delivers one batch, retrying until it succeeds or ctx ends, then
// moves the cursor. It reports whether to go on.
func (s *Shipper) ship(ctx context.Context, entries []eventlog.Entry) bool {
	for attempt := 0; ; attempt++ {
		err := s.attempt(ctx, entries)
		if err == nil {
			break
		}
		if !s.fail(ctx, "ship", err, attempt) {
			return false
		}
	}
	last := entries[len(entries)-1].Pos
	s.advance(last)
	if err := s.opts.Cursor.Save(last); err != nil {
		// The batch is in; only a crash before the next save re-ships it.
		s.setError(fmt.Errorf("save cursor: %w", err))
		s.opts.Logger.Warn("sink cursor not saved", "sink", s.opts.Name, "err", err)
		return ctx.Err() == nil
	}
	s.setError(nil)
	return true
}

func (s *Shipper) attempt(ctx context.Context, entries []eventlog.Entry) error {
	b, err := s.batch(ctx, entries)
	if err != nil {
		return err
	}
	shipCtx, cancel := context.WithTimeout(ctx, s.opts.ShipTimeout)
	defer cancel()
	return s.dst.Ship(shipCtx, b)
}

func (s *Shipper) batch(ctx context.Context, entries []eventlog.Entry) (Batch, error) {
	b := Batch{Events: entries}
	seen := make(map[string]bool)
	for _, e := range entries {
		if seen[e.SessionID] {
			continue
		}
		seen[e.SessionID] = true
		row, err := s.src.Session(ctx, e.SessionID)
		if err != nil {
			return Batch{}, fmt.Errorf("read local log: %w", err)
		}
		b.Sessions = append(b.Sessions, row)
	}
	return b, nil
}

// fail records err and waits out the backoff of the given attempt. It
// reports false when ctx ended first.
func (s *Shipper) fail(ctx context.Context, what string, err error, attempt int) bool {
	if ctx.Err() != nil {
		return false
	}
	s.setError(fmt.Errorf("%s: %w", what, err))
	wait := s.backoff(attempt)
	s.opts.Logger.Warn("sink failing; retrying", "sink", s.opts.Name, "err", err, "attempt", attempt+1, "retry_in", wait)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Shipper) backoff(attempt int) time.Duration {
	d := s.opts.MinBackoff
	for range attempt {
		if d >= s.opts.MaxBackoff/2 {
			return s.opts.MaxBackoff
		}
		d *= 2
	}
	return d
}

func (s *Shipper) position() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shipped
}

func (s *Shipper) advance(pos int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shipped = pos
	close(s.moved)
	s.moved = make(chan struct{})
}

func (s *Shipper) setError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastError = ""
	if err != nil {
		s.lastError = err.Error()
	}
}

// WaitShipped returns once every event up to pos is shipped, or ctx ends.
func (s *Shipper) WaitShipped(ctx context.Context, pos int64) error {
	for {
		s.mu.Lock()
		done, moved := s.shipped >= pos, s.moved
		s.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("sink %s: waiting for position %d: %w", s.opts.Name, pos, ctx.Err())
		}
	}
}

// Status reports the backlog and lag as of now.
func (s *Shipper) Status(ctx context.Context) Status {
	s.mu.Lock()
	st := Status{Name: s.opts.Name, Kind: s.dst.Kind(), Destination: s.opts.Destination, Shipped: s.shipped, LastError: s.lastError}
	s.mu.Unlock()
	if d, ok := s.dst.(deadLetterer); ok {
		st.DeadLetters = d.DeadLetters()
	}
	head, err := s.src.Head(ctx)
	if err != nil {
		st.LastError = err.Error()
		return st
	}
	st.Backlog = max(head-st.Shipped, 0)
	if st.Backlog == 0 {
		return st
	}
	if next, err := s.src.ReadAfter(ctx, st.Shipped, 1); err == nil && len(next) == 1 {
		if at, ok := EventTime(next[0].Body); ok {
			st.LagSeconds = max(time.Since(at).Seconds(), 0)
		}
	}
	return st
}

// EventTime reads the envelope's time from a stored event body.
func EventTime(body []byte) (time.Time, bool) {
	var env struct {
		Time string `json:"time"`
	}
	if json.Unmarshal(body, &env) != nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, env.Time)
	return t, err == nil
}
