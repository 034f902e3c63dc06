// Package childset keeps the long-lived children the API starts — processes
// and terminals — by id: it admits new ones up to a limit, finds them, and
// stops them all when the daemon stops, waiting until each is reaped and its
// output drained.
package childset

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
)

// ErrShuttingDown is returned once Shutdown began: nothing new may start.
var ErrShuttingDown = errors.New("the daemon is shutting down")

// Child is a started program that ends on its own or when stopped.
type Child interface {
	// Running reports whether the child has not ended yet.
	Running() bool
	// Stop begins ending the child, gracefully, without waiting; calls
	// after the first only add urgency.
	Stop(ctx context.Context)
	// Kill ends the child at once.
	KillNow()
	// Stopped is closed once a Stop has finished.
	Stopped() <-chan struct{}
}

// Set holds children of one kind.
type Set[C Child] struct {
	prefix  string
	max     int
	tooMany error

	mu     sync.Mutex
	items  map[string]C
	closed bool
	// live counts admitted children whose supervisor has not finished:
	// Shutdown waits for it, so that no output is cut short.
	live sync.WaitGroup
}

// New returns an empty set whose ids start with prefix and which admits at
// most max running children, refusing more with tooMany.
func New[C Child](prefix string, max int, tooMany error) *Set[C] {
	return &Set[C]{prefix: prefix, max: max, tooMany: tooMany, items: map[string]C{}}
}

// Reserve admits one more child and returns its id. The caller then calls
// Add once it runs (and Done when its supervisor finishes), or Abandon.
func (s *Set[C]) Reserve() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", ErrShuttingDown
	}
	running := 0
	for _, c := range s.items {
		if c.Running() {
			running++
		}
	}
	if running >= s.max {
		return "", s.tooMany
	}
	id := s.newID()
	for _, taken := s.items[id]; taken; _, taken = s.items[id] {
		id = s.newID()
	}
	s.live.Add(1)
	return id, nil
}

func (s *Set[C]) newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return s.prefix + hex.EncodeToString(b[:])
}

// Abandon gives back a reservation whose child did not start.
func (s *Set[C]) Abandon() { s.live.Done() }

// Done is called by a child's supervisor when the child has ended and its
// output is drained.
func (s *Set[C]) Done() { s.live.Done() }

// Add keeps a started child. When Shutdown began while it started, the
// child is stopped, since it must not outlive the daemon, and Add fails.
func (s *Set[C]) Add(id string, c C) error {
	s.mu.Lock()
	s.items[id] = c
	closed := s.closed
	s.mu.Unlock()
	if closed {
		c.Stop(context.Background())
		return ErrShuttingDown
	}
	return nil
}

// Get finds a child.
func (s *Set[C]) Get(id string) (C, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.items[id]
	return c, ok
}

// All is every child kept, in no order.
func (s *Set[C]) All() []C {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := make([]C, 0, len(s.items))
	for _, c := range s.items {
		all = append(all, c)
	}
	return all
}

// Delete forgets a child.
func (s *Set[C]) Delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items, id)
}

// Drop forgets the children that pick chooses among all those kept, in one
// step, and returns them: concurrent calls never both drop the same one.
// pick must not call back into the set.
func (s *Set[C]) Drop(pick func(all map[string]C) []string) []C {
	s.mu.Lock()
	defer s.mu.Unlock()
	var dropped []C
	for _, id := range pick(s.items) {
		if c, ok := s.items[id]; ok {
			dropped = append(dropped, c)
			delete(s.items, id)
		}
	}
	return dropped
}

// Shutdown refuses new children, stops every child (killing them all at
// once when ctx ends first) and returns when all are reaped and drained.
func (s *Set[C]) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	all := s.All()
	for _, c := range all {
		c.Stop(ctx)
	}
	drained := make(chan struct{})
	go func() {
		s.live.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-ctx.Done():
		for _, c := range all {
			c.KillNow()
		}
		<-drained
	}
	// Children added while this ran were stopped by Add; wait for every
	// stop to finish.
	for _, c := range s.All() {
		c.Stop(ctx)
		<-c.Stopped()
	}
}
