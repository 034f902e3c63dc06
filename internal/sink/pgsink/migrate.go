package pgsink

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// schemaVersion is the version of the agentd schema this build writes.
const schemaVersion = 1

// migrations[i] brings the schema from version i to i+1.
var migrations = []string{`
CREATE TABLE agentd.sessions (
	daemon_id     text        NOT NULL,
	session_id    text        NOT NULL,
	agent         text,
	info          jsonb       NOT NULL,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL,
	last_sequence bigint      NOT NULL,
	PRIMARY KEY (daemon_id, session_id)
);
CREATE INDEX sessions_agent_created ON agentd.sessions (agent, created_at);
CREATE TABLE agentd.events (
	daemon_id         text        NOT NULL,
	session_id        text        NOT NULL,
	sequence          bigint      NOT NULL,
	event_id          text        NOT NULL,
	type              text        NOT NULL,
	time              timestamptz NOT NULL,
	origin            text        NOT NULL,
	synthetic         boolean     NOT NULL,
	native_session_id text,
	data              jsonb       NOT NULL,
	raw               jsonb,
	shipped_at        timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (daemon_id, session_id, sequence)
);
CREATE INDEX events_type_time ON agentd.events (type, time);
CREATE INDEX events_time ON agentd.events (time);
`}

// Migrate creates or upgrades the agentd schema. Daemons sharing a database
// may start together: an advisory lock lets one migrate while the others
// wait, then find nothing to do.
func Migrate(ctx context.Context, conn *pgx.Conn) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('agentd.schema'))`); err != nil {
			return fmt.Errorf("lock schema: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS agentd;
CREATE TABLE IF NOT EXISTS agentd.schema_version (version integer NOT NULL)`); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
		var v int
		err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM agentd.schema_version`).Scan(&v)
		if err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if v > schemaVersion {
			return fmt.Errorf("agentd schema version %d is newer than this agentd (%d)", v, schemaVersion)
		}
		for ; v < schemaVersion; v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migrate agentd schema from version %d: %w", v, err)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM agentd.schema_version`); err != nil {
			return fmt.Errorf("record schema version: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO agentd.schema_version VALUES ($1)`, v); err != nil {
			return fmt.Errorf("record schema version: %w", err)
		}
		return nil
	})
}
