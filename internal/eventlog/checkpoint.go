package eventlog

import (
	"context"
	"time"
)

// checkpointEvery bounds how often the WAL is copied back into the
// database while commits keep coming.
const checkpointEvery = 250 * time.Millisecond

// checkpointer copies the WAL into the database in the background. The
// writer's own automatic checkpoint is off: SQLite would run it inside the
// commit that crosses the threshold, stalling that commit — and every
// reader waiting on it — for milliseconds. A PASSIVE checkpoint on another
// connection never blocks the writer; the WAL is reused from its start
// once a checkpoint has caught up.
func (l *Log) checkpointer() {
	defer close(l.ckptDone)
	last := time.Time{}
	for {
		select {
		case <-l.ckpt:
		case <-l.stop:
			return
		}
		if wait := checkpointEvery - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-l.stop:
				t.Stop()
				return
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _ = l.rdb.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)") // best effort: the next one catches up
		cancel()
		last = time.Now()
	}
}

// committed tells the checkpointer there is WAL to copy.
func (l *Log) committed() {
	select {
	case l.ckpt <- struct{}{}:
	default:
	}
}
