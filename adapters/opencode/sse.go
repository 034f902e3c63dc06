package opencode

import (
	"bytes"
	"io"

	"github.com/agentd-dev/agentd/internal/agentproc"
)

// sseReader splits a text/event-stream into the data of its events. OpenCode
// sends one data line per event and no event names or ids, but the reader
// follows the format: data lines of one event are joined with newlines,
// comments and other fields are skipped, a blank line ends the event.
type sseReader struct {
	lr   *agentproc.LineReader
	max  int
	data []byte
	cut  bool
}

// newSSEReader reads events of at most max bytes of data; a longer event is
// returned cut, with truncated set.
func newSSEReader(r io.Reader, max int) *sseReader {
	return &sseReader{lr: agentproc.NewLineReader(r, max), max: max}
}

// Next returns the data of the next event that has any. The slice is valid
// until the next call. At the end of the stream it returns io.EOF (an
// unterminated last event is dropped, as the format says).
func (r *sseReader) Next() (data []byte, truncated bool, err error) {
	r.data, r.cut = r.data[:0], false
	seen := false
	for {
		line, long, err := r.lr.Next()
		if err != nil {
			return nil, false, err
		}
		if len(line) == 0 {
			if seen {
				return r.data, r.cut, nil
			}
			continue
		}
		value, ok := bytes.CutPrefix(line, []byte("data"))
		if !ok || (len(value) > 0 && value[0] != ':') {
			continue // a comment, another field, or a field named data-something
		}
		value = bytes.TrimPrefix(bytes.TrimPrefix(value, []byte(":")), []byte(" "))
		if seen {
			r.data = append(r.data, '\n')
		}
		seen = true
		room := r.max - len(r.data)
		if len(value) > room {
			value, long = value[:max(room, 0)], true
		}
		r.data = append(r.data, value...)
		r.cut = r.cut || long
	}
}
