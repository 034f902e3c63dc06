package eventlog

import (
	"context"
	"fmt"
	"sync"
)

// liveState is the in-memory side of a session that has been written to in
// this process: a wake-up channel for readers and a cache of recent events.
// Each has its own lock, so readers and writers of one session never wait
// on another session's.
type liveState struct {
	mu      sync.RWMutex // readers share it; appends and wake-ups take it alone
	notify  chan struct{}
	tail    []Record // never modified in place: readers share its elements
	lastSeq uint64
	written bool   // lastSeq is authoritative: every append since start went through publish
	touched uint64 // when it was last appended to, for evicting cold tails
	cached  bool   // tail holds events
}

// wake tells every waiting reader that something changed. Caller holds s.mu.
func (s *liveState) wake() {
	close(s.notify)
	s.notify = make(chan struct{})
}

// state returns the session's live state, creating it on first use.
func (l *Log) state(sessionID string) *liveState {
	l.mu.RLock()
	s, ok := l.live[sessionID]
	l.mu.RUnlock()
	if ok {
		return s
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok = l.live[sessionID]; !ok {
		s = &liveState{notify: make(chan struct{})}
		l.live[sessionID] = s
	}
	return s
}

func (l *Log) publish(sessionID string, recs []Record) {
	s := l.state(sessionID)
	s.mu.Lock()
	if len(s.tail) > 0 && s.tail[len(s.tail)-1].Seq+1 != recs[0].Seq {
		s.tail = nil // a fresh array: readers may still hold the old one
	}
	s.tail = append(s.tail, recs...)
	if over := len(s.tail) - l.opts.TailRecords; over > 0 {
		// Drop in halves so trimming is amortised, into a new array so the
		// dropped records can be collected once readers let go.
		keep := l.opts.TailRecords / 2
		s.tail = append(make([]Record, 0, l.opts.TailRecords), s.tail[len(s.tail)-keep:]...)
	}
	s.lastSeq = recs[len(recs)-1].Seq
	s.written = true
	s.touched = l.clock.Add(1)
	newlyCached := !s.cached
	s.cached = true
	s.wake()
	s.mu.Unlock()
	if newlyCached {
		l.evictColdTail()
	}
}

// evictColdTail keeps memory bounded by the number of busy sessions, not by
// every session ever written: past TailSessions cached tails, the coldest
// is dropped and its readers go to the database.
func (l *Log) evictColdTail() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cached++
	if l.cached <= l.opts.TailSessions {
		return
	}
	var coldest *liveState
	var coldestAt uint64
	for _, s := range l.live {
		s.mu.Lock()
		if s.cached && (coldest == nil || s.touched < coldestAt) {
			coldest, coldestAt = s, s.touched
		}
		s.mu.Unlock()
	}
	coldest.mu.Lock()
	coldest.tail, coldest.cached = nil, false
	coldest.mu.Unlock()
	l.cached--
}

// Changed returns a channel that is closed at the next append to the
// session (or at Close). Take it before reading, then wait on it if the read
// came back empty: nothing can fall between the two.
func (l *Log) Changed(sessionID string) <-chan struct{} {
	l.mu.RLock()
	closed := l.close
	l.mu.RUnlock()
	if closed {
		c := make(chan struct{})
		close(c)
		return c
	}
	s := l.state(sessionID)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.notify
}

// Read returns up to limit events of the session with sequence > after, in
// order (limit <= 0: all of them). Recent events come from memory.
func (l *Log) Read(ctx context.Context, sessionID string, after uint64, limit int) ([]Record, error) {
	if recs, ok := l.readTail(sessionID, after, limit); ok {
		return recs, nil
	}
	sqlLimit := int64(limit)
	if limit <= 0 {
		sqlLimit = -1
	}
	rows, err := l.rdb.QueryContext(ctx, readEventsSQL, sessionID, after, sqlLimit)
	if err != nil {
		return nil, fmt.Errorf("read events of %q: %w", sessionID, err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		if err := rows.Scan(&r.Seq, &r.Type, &r.Body, &r.Raw); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events of %q: %w", sessionID, err)
	}
	return out, nil
}

const readEventsSQL = `SELECT seq, type, body, raw FROM events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?`

func (l *Log) readTail(sessionID string, after uint64, limit int) ([]Record, bool) {
	l.mu.RLock()
	s, ok := l.live[sessionID]
	l.mu.RUnlock()
	if !ok {
		return nil, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.written {
		return nil, false
	}
	if after >= s.lastSeq {
		return nil, true
	}
	if len(s.tail) == 0 || s.tail[0].Seq > after+1 {
		return nil, false
	}
	from := int(after + 1 - s.tail[0].Seq)
	to := len(s.tail)
	if limit > 0 && from+limit < to {
		to = from + limit
	}
	// Shared, not copied: the tail's elements are never overwritten, and
	// the capped capacity stops a caller's append from reaching them.
	return s.tail[from:to:to], true
}

// Sessions returns every stored session.
func (l *Log) Sessions(ctx context.Context) ([]Session, error) {
	rows, err := l.rdb.QueryContext(ctx, `SELECT id, info, created_at, updated_at, last_seq FROM sessions`)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var s Session
		if err := rows.Scan(&s.ID, &s.Info, &s.CreatedAt, &s.UpdatedAt, &s.LastSeq); err != nil {
			return nil, fmt.Errorf("scan session: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
