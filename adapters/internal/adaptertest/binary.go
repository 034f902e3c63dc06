package adaptertest

import (
	"context"
	"sync"
	"testing"
)

// Binary finds the real binary of agent with resolve, or skips the test:
// under -short, or when there is none (hint says how to get it).
func Binary(t testing.TB, agent, hint string, resolve func(context.Context) (string, error)) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("real %s test: skipped under -short", agent)
	}
	bin, err := resolve(t.Context())
	if err != nil {
		t.Skipf("real %s test: binary not found (%v); %s", agent, err, hint)
	}
	return bin
}

// Sessions keeps the sessions an agent started, so a test can reach their
// process.
type Sessions[S any] struct {
	mu  sync.Mutex
	all []S
}

// Add records a started session.
func (k *Sessions[S]) Add(s S) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.all = append(k.all, s)
}

// Last is the session started last.
func (k *Sessions[S]) Last() S {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.all[len(k.all)-1]
}

// Len is how many sessions were started.
func (k *Sessions[S]) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.all)
}
