package agentproc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// LineReader reads newline-terminated lines of any length without holding
// more than max bytes of one: a line beyond max is returned cut, with
// truncated set, and the rest of it is skipped. An agent that prints a
// 10 MB line cannot make the daemon buffer it or stall.
type LineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewLineReader reads lines from r keeping at most max bytes of each.
func NewLineReader(r io.Reader, max int) *LineReader {
	return &LineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next line without its line ending. The slice is valid
// until the next call. At the end of the input it returns io.EOF; a last
// line without a newline is returned first.
func (lr *LineReader) Next() (line []byte, truncated bool, err error) {
	lr.buf = lr.buf[:0]
	seen := 0 // bytes of this line read so far, newline included
	for {
		chunk, err := lr.r.ReadSlice('\n')
		seen += len(chunk)
		if room := lr.max + 1 - len(lr.buf); room > 0 {
			lr.buf = append(lr.buf, chunk[:min(room, len(chunk))]...)
		}
		switch {
		case err == nil:
			return lr.trim(), seen-1 > lr.max, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && seen > 0:
			return lr.trim(), seen > lr.max, nil
		default:
			return nil, false, err
		}
	}
}

func (lr *LineReader) trim() []byte {
	b := lr.buf[:min(len(lr.buf), lr.max+1)]
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return b[:min(len(b), lr.max)]
}
