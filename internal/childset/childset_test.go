package childset

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

var errTooMany = errors.New("too many")

// child is a fake whose supervisor ends when it is stopped (or, when
// stubborn, only when killed).
type child struct {
	set      *Set[*child]
	stubborn bool

	mu       sync.Mutex
	ended    bool
	stopOnce sync.Once
	stopped  chan struct{}
	kill     chan struct{}
	killOnce sync.Once
}

func start(t *testing.T, s *Set[*child], stubborn bool) (string, *child) {
	t.Helper()
	id, err := s.Reserve()
	if err != nil {
		t.Fatalf("reserve: %v", err)
	}
	c := &child{set: s, stubborn: stubborn, stopped: make(chan struct{}), kill: make(chan struct{})}
	if err := s.Add(id, c); err != nil {
		t.Fatalf("add: %v", err)
	}
	return id, c
}

func (c *child) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ended {
		c.ended = true
		c.set.Done()
	}
}

func (c *child) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.ended
}

func (c *child) Stop(context.Context) {
	c.stopOnce.Do(func() {
		go func() {
			defer close(c.stopped)
			if c.stubborn {
				<-c.kill
			}
			c.end()
		}()
	})
}

func (c *child) KillNow()                 { c.killOnce.Do(func() { close(c.kill) }) }
func (c *child) Stopped() <-chan struct{} { return c.stopped }

func TestAdmission(t *testing.T) {
	s := New[*child]("c_", 2, errTooMany)
	idA, a := start(t, s, false)
	start(t, s, false)
	if !strings.HasPrefix(idA, "c_") || len(idA) != len("c_")+12 {
		t.Errorf("id %q", idA)
	}
	if _, err := s.Reserve(); !errors.Is(err, errTooMany) {
		t.Fatalf("third running child: %v", err)
	}
	a.Stop(t.Context())
	<-a.Stopped()
	id, err := s.Reserve() // an ended child no longer counts
	if err != nil {
		t.Fatalf("after one ended: %v", err)
	}
	s.Abandon()
	if id == idA {
		t.Error("a fresh id repeats a kept one")
	}
	if got, ok := s.Get(idA); !ok || got != a {
		t.Error("an ended child is still kept until dropped")
	}
}

func TestDropIsExclusive(t *testing.T) {
	s := New[*child]("c_", 10, errTooMany)
	id, _ := start(t, s, false)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 8 {
		wg.Go(func() {
			n := len(s.Drop(func(map[string]*child) []string { return []string{id} }))
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 1 {
		t.Errorf("dropped %d times", total)
	}
	if _, ok := s.Get(id); ok {
		t.Error("still kept")
	}
}

func TestShutdown(t *testing.T) {
	s := New[*child]("c_", 10, errTooMany)
	_, polite := start(t, s, false)
	_, stubborn := start(t, s, true)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Shutdown(ctx) // the stubborn child only ends when killed
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Shutdown did not return")
	}
	if polite.Running() || stubborn.Running() {
		t.Error("a child outlived Shutdown")
	}
	if _, err := s.Reserve(); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("reserve after shutdown: %v", err)
	}
}

func TestAddDuringShutdownStopsTheChild(t *testing.T) {
	s := New[*child]("c_", 10, errTooMany)
	id, err := s.Reserve() // admitted before Shutdown, started after
	if err != nil {
		t.Fatal(err)
	}
	shut := make(chan struct{})
	go func() {
		defer close(shut)
		s.Shutdown(context.Background())
	}()
	c := &child{set: s, stopped: make(chan struct{}), kill: make(chan struct{})}
	if err := s.Add(id, c); !errors.Is(err, ErrShuttingDown) {
		// Shutdown may not have marked the set yet; it still stops c.
		if err != nil {
			t.Fatalf("add: %v", err)
		}
	}
	select {
	case <-shut:
	case <-time.After(time.Minute):
		t.Fatal("Shutdown did not return")
	}
	if c.Running() {
		t.Error("a child added during Shutdown outlived it")
	}
}
