// Package pgsink is the PostgreSQL destination of the event shipper. Every
// daemon writes under its own daemon id, so many daemons share one database
// without their session ids colliding; rows are keyed by (daemon_id,
// session_id, sequence) and inserted with ON CONFLICT DO NOTHING, so a batch
// shipped twice is stored once.
package pgsink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/sink"
)

// Sink writes batches to one PostgreSQL database over one connection,
// dialled on first use and again after any failure.
type Sink struct {
	cfg      *pgx.ConnConfig
	daemonID string
	secret   string // the URL's password, scrubbed from errors

	mu   sync.Mutex // one Ship at a time owns conn
	conn *pgx.Conn
}

// New parses a postgres:// URL; nothing is dialled yet.
func New(rawURL, daemonID string) (*Sink, error) {
	if daemonID == "" {
		return nil, errors.New("postgres sink: empty daemon id")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("postgres sink %s: %w", Redact(rawURL), errors.New("malformed URL"))
	}
	secret, _ := u.User.Password()
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("postgres sink %s: %s", Redact(rawURL), scrub(err.Error(), secret))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 15 * time.Second
	}
	return &Sink{cfg: cfg, daemonID: daemonID, secret: secret}, nil
}

// Redact returns the URL without its password, for logs and health.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "postgres://(malformed)"
	}
	return u.Redacted()
}

// Kind names the destination kind.
func (*Sink) Kind() string { return "postgres" }

// Ship stores the batch in one transaction. On any failure the connection
// is dropped, so the next attempt starts from a fresh one.
func (s *Sink) Ship(ctx context.Context, b sink.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ship(ctx, b); err != nil {
		if s.conn != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = s.conn.Close(closeCtx)
			cancel()
			s.conn = nil
		}
		return errors.New(scrub(err.Error(), s.secret))
	}
	return nil
}

func (s *Sink) ship(ctx context.Context, b sink.Batch) error {
	if s.conn == nil {
		conn, err := pgx.ConnectConfig(ctx, s.cfg)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		s.conn = conn
		if err := Migrate(ctx, conn); err != nil {
			return err
		}
	}
	return pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error {
		if err := upsertSessions(ctx, tx, s.daemonID, b.Sessions); err != nil {
			return err
		}
		return insertEvents(ctx, tx, s.daemonID, b.Events)
	})
}

// Close drops the connection.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.conn.Close(ctx)
	s.conn = nil
	return err
}

// scrub keeps a password out of an error message whatever the driver put in it.
func scrub(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "xxxxx")
}

const upsertSessionsSQL = `
INSERT INTO agentd.sessions (daemon_id, session_id, agent, info, created_at, updated_at, last_sequence)
SELECT $1, u.id, u.agent, u.info::jsonb, u.created, u.updated, u.last
FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::bigint[])
	AS u(id, agent, info, created, updated, last)
ON CONFLICT (daemon_id, session_id) DO UPDATE
SET agent = excluded.agent, info = excluded.info, updated_at = excluded.updated_at,
	last_sequence = greatest(agentd.sessions.last_sequence, excluded.last_sequence)
WHERE excluded.updated_at >= agentd.sessions.updated_at`

func upsertSessions(ctx context.Context, tx pgx.Tx, daemonID string, rows []eventlog.Session) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	ids, agents, infos := make([]string, n), make([]*string, n), make([]string, n)
	created, updated, last := make([]time.Time, n), make([]time.Time, n), make([]int64, n)
	for i, r := range rows {
		ids[i] = r.ID
		infos[i] = string(jsonbSafe(r.Info))
		var info struct {
			Agent string `json:"agent"`
		}
		if json.Unmarshal(r.Info, &info) == nil && info.Agent != "" {
			agents[i] = &info.Agent
		}
		created[i], updated[i] = time.UnixMilli(r.CreatedAt), time.UnixMilli(r.UpdatedAt)
		last[i] = int64(r.LastSeq)
	}
	if _, err := tx.Exec(ctx, upsertSessionsSQL, daemonID, ids, agents, infos, created, updated, last); err != nil {
		return fmt.Errorf("upsert sessions: %w", err)
	}
	return nil
}

const insertEventsSQL = `
INSERT INTO agentd.events (daemon_id, session_id, sequence, event_id, type, time, origin, synthetic,
	native_session_id, data, raw)
SELECT $1, u.sid, u.seq, u.eid, u.type, u.time, u.origin, u.synthetic, u.native, u.data::jsonb, u.raw::jsonb
FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::bool[],
	$9::text[], $10::text[], $11::text[])
	AS u(sid, seq, eid, type, time, origin, synthetic, native, data, raw)
ON CONFLICT (daemon_id, session_id, sequence) DO NOTHING`

// envelope is the part of a stored event body that gets columns of its own.
type envelope struct {
	EventID         string          `json:"event_id"`
	Time            string          `json:"time"`
	NativeSessionID *string         `json:"native_session_id"`
	Synthetic       bool            `json:"synthetic"`
	Source          string          `json:"source"`
	Data            json.RawMessage `json:"data"`
}

func insertEvents(ctx context.Context, tx pgx.Tx, daemonID string, events []eventlog.Entry) error {
	if len(events) == 0 {
		return nil
	}
	c := newEventColumns(len(events))
	for _, e := range events {
		c.add(e)
	}
	if _, err := tx.Exec(ctx, insertEventsSQL, daemonID, c.sids, c.seqs, c.eids, c.types, c.times,
		c.origins, c.synthetic, c.natives, c.data, c.raws); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	return nil
}

// eventColumns holds a batch column by column, as unnest takes it.
type eventColumns struct {
	sids, eids, types, origins, data []string
	seqs                             []int64
	times                            []time.Time
	synthetic                        []bool
	natives, raws                    []*string
}

func newEventColumns(n int) *eventColumns {
	return &eventColumns{
		sids: make([]string, 0, n), eids: make([]string, 0, n), types: make([]string, 0, n),
		origins: make([]string, 0, n), data: make([]string, 0, n), seqs: make([]int64, 0, n),
		times: make([]time.Time, 0, n), synthetic: make([]bool, 0, n),
		natives: make([]*string, 0, n), raws: make([]*string, 0, n),
	}
}

// add appends one event. A body that does not decode is still stored,
// whole, as its data: a malformed event must not stop the shipper.
func (c *eventColumns) add(e eventlog.Entry) {
	var env envelope
	if err := json.Unmarshal(e.Body, &env); err != nil {
		env = envelope{Data: json.RawMessage(mustString(string(e.Body)))}
	}
	if len(env.Data) == 0 {
		env.Data = json.RawMessage(`{}`)
	}
	if env.EventID == "" {
		env.EventID = fmt.Sprintf("evt_%d", e.Seq)
	}
	at, err := time.Parse(time.RFC3339Nano, env.Time)
	if err != nil {
		at = time.Now()
	}
	c.sids = append(c.sids, e.SessionID)
	c.seqs = append(c.seqs, int64(e.Seq))
	c.eids = append(c.eids, env.EventID)
	c.types = append(c.types, e.Type)
	c.times = append(c.times, at)
	c.origins = append(c.origins, env.Source)
	c.synthetic = append(c.synthetic, env.Synthetic)
	c.natives = append(c.natives, env.NativeSessionID)
	c.data = append(c.data, string(jsonbSafe(env.Data)))
	var raw *string
	if len(e.Raw) > 0 {
		r := e.Raw
		if !json.Valid(r) {
			r = mustString(string(r))
		}
		s := string(jsonbSafe(r))
		raw = &s
	}
	c.raws = append(c.raws, raw)
}

func mustString(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

// jsonbSafe rewrites the one thing valid JSON may hold that jsonb refuses:
// the NUL character (\u0000), which becomes U+FFFD.
func jsonbSafe(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u0000`)) {
		return b
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return b
	}
	out, err := json.Marshal(replaceNUL(v))
	if err != nil {
		return b
	}
	return out
}

func replaceNUL(v any) any {
	switch x := v.(type) {
	case string:
		return strings.ReplaceAll(x, "\x00", "\uFFFD")
	case []any:
		for i := range x {
			x[i] = replaceNUL(x[i])
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[strings.ReplaceAll(k, "\x00", "\uFFFD")] = replaceNUL(val)
		}
		return out
	}
	return v
}
