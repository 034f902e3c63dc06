// Package eventlog is agentd's durable event log: an embedded SQLite database
// holding every session and every event. It is the only source of truth.
// Writes go through one writer goroutine that commits them in batches; an
// event is committed before any reader is told about it. Readers read after
// a cursor and then wait for a notification, so live tailing, replay after
// a reconnect, a slow reader and a restart are all the same loop.
package eventlog

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrExists is returned when creating a session whose id is taken.
var ErrExists = errors.New("session already exists")

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("event log closed")

// Record is one stored event. Body is the event envelope as JSON with
// "raw":null as its last member; Raw is the native payload, if any.
type Record struct {
	Seq  uint64
	Type string
	Body []byte
	Raw  []byte
}

// JSON returns the event as sent to clients, with raw spliced in when asked.
func (r Record) JSON(includeRaw bool) []byte {
	const tail = `null}`
	if !includeRaw || len(r.Raw) == 0 || !bytes.HasSuffix(r.Body, []byte(tail)) {
		return r.Body
	}
	out := make([]byte, 0, len(r.Body)+len(r.Raw))
	out = append(out, r.Body[:len(r.Body)-len(tail)]...)
	out = append(out, r.Raw...)
	return append(out, '}')
}

// Session is a stored session row. Info is the engine's own JSON.
type Session struct {
	ID        string
	Info      []byte
	CreatedAt int64
	UpdatedAt int64
	LastSeq   uint64
}

// Options tune the log; zero values take defaults.
type Options struct {
	// MaxBatch caps how many writes share one transaction.
	MaxBatch int
	// TailRecords is how many recent events per session are kept in memory
	// so live readers need not query the database.
	TailRecords int
	// TailSessions is how many sessions keep such a tail at once; the
	// least recently written one loses it first.
	TailSessions int
}

// Log is the event log. Its methods are safe for concurrent use.
type Log struct {
	wdb, rdb *sql.DB
	stmts    *writerStmts
	opts     Options

	writes   chan *write
	stop     chan struct{}
	stopOnce sync.Once
	senders  sync.WaitGroup // submits between their closed check and queueing
	done     chan struct{}
	// ckpt wakes the checkpointer after commits; ckptDone closes when it stops.
	ckpt, ckptDone chan struct{}

	mu   sync.RWMutex // guards live, cached and close
	live map[string]*liveState
	// cached counts live states holding a tail; clock orders appends.
	cached int
	clock  atomic.Uint64
	close  bool
	// global wakes readers of every session (ReadAfter) at each commit.
	global globalNotify
}

// Open opens (creating if needed) the log in dir.
func Open(ctx context.Context, dir string, opts Options) (*Log, error) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	if opts.TailSessions <= 0 {
		opts.TailSessions = 256
	}
	if opts.TailRecords <= 0 {
		opts.TailRecords = 512
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dir, "agentd.db")
	wdb, err := openDB(path, true)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, wdb); err != nil {
		wdb.Close()
		return nil, err
	}
	stmts, err := prepareWriter(ctx, wdb)
	if err != nil {
		wdb.Close()
		return nil, err
	}
	rdb, err := openDB(path, false)
	if err != nil {
		stmts.close()
		wdb.Close()
		return nil, err
	}
	l := &Log{
		wdb: wdb, rdb: rdb, stmts: stmts, opts: opts,
		writes:   make(chan *write, opts.MaxBatch),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		ckpt:     make(chan struct{}, 1),
		ckptDone: make(chan struct{}),
		live:     make(map[string]*liveState),
	}
	go l.writer()
	go l.checkpointer()
	return l, nil
}

func openDB(path string, writer bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// NORMAL in WAL mode survives a crash of the process (kill -9); only a
	// power loss may lose the last commits.
	q.Add("_pragma", "synchronous(NORMAL)")
	if writer {
		q.Set("_txlock", "immediate")
		q.Add("_pragma", "wal_autocheckpoint(0)") // see checkpointer
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open event log: %w", err)
	}
	if writer {
		db.SetMaxOpenConns(1)
	} else {
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
	}
	return db, nil
}

// Schema history:
//
//	1: events was a WITHOUT ROWID table clustered on (session_id, seq).
//	2: events is a rowid table with a (session_id, seq) primary-key index.
//
// events is a rowid table, not WITHOUT ROWID: there, interior b-tree cells
// hold whole rows, so with bodies of a few hundred bytes appends to many
// interleaved sessions dirty ~2.6 4-KiB WAL frames per event. Here rows are
// appended at the right edge and only the small index entries scatter by
// session: ~1.2 frames per event.
const schemaVersion = 1

const (
	createSessionsSQL = `
CREATE TABLE IF NOT EXISTS sessions (
	id         TEXT PRIMARY KEY,
	info       BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	last_seq   INTEGER NOT NULL DEFAULT 0
);`
	createEventsSQL = `
CREATE TABLE events (
	session_id TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	type       TEXT NOT NULL,
	body       BLOB NOT NULL,
	raw        BLOB,
	PRIMARY KEY (session_id, seq)
);`
)

func migrate(ctx context.Context, db *sql.DB) error {
	v, err := userVersion(ctx, db)
	if err != nil {
		return err
	}
	if v > schemaVersion {
		return fmt.Errorf("event log schema version %d is newer than this agentd (%d)", v, schemaVersion)
	}
	if v == schemaVersion {
		return nil
	}
	// db is the writer, whose transactions begin IMMEDIATE: a second
	// process migrating at the same time waits here, then sees the new
	// version below.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate event log: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	var steps []string
	switch v {
	case 0:
		steps = []string{createSessionsSQL, createEventsSQL}
	case schemaVersion:
		return nil
	default:
		return fmt.Errorf("event log schema version %d is newer than this agentd (%d)", v, schemaVersion)
	}
	steps = append(steps, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
	for _, q := range steps {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("migrate event log from version %d: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate event log from version %d: %w", v, err)
	}
	return nil
}

func userVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// Close stops the writer after it has committed every accepted write.
func (l *Log) Close() error {
	l.stopOnce.Do(func() {
		l.mu.Lock()
		l.close = true
		l.mu.Unlock()
		l.senders.Wait() // the writer keeps draining while they queue
		close(l.stop)
	})
	<-l.done
	<-l.ckptDone
	l.mu.RLock()
	for _, s := range l.live {
		s.mu.Lock()
		s.wake()
		s.mu.Unlock()
	}
	l.mu.RUnlock()
	l.global.wake()
	return errors.Join(l.stmts.close(), l.wdb.Close(), l.rdb.Close())
}
