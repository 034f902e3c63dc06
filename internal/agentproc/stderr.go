package agentproc

import (
	"bytes"
	"strings"
	"sync"
	"unicode/utf8"
)

// Log keeps the first and last lines a process wrote, so memory stays
// bounded however much it writes, and a crash report has both ends.
type Log struct {
	mu      sync.Mutex
	head    []string
	tail    []string // ring of the newest lines
	next    int      // where the next tail line goes
	partial []byte
	total   int
}

// Limits of the log: a report shows the whole output when it has at most
// headLines+tailLines lines, else the first headLines and last tailLines.
const (
	headLines   = 20
	tailLines   = 50
	maxLineSize = 500
)

// NewLog returns an empty log.
func NewLog() *Log { return &Log{} }

// Write splits p into lines; it never fails.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.partial = appendCapped(l.partial, p)
			break
		}
		l.add(string(appendCapped(l.partial, p[:i])))
		l.partial = l.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

// appendCapped appends while keeping a line within maxLineSize+1 bytes, so
// an endless line costs nothing; add cuts it to size.
func appendCapped(dst, src []byte) []byte {
	room := maxLineSize + 1 - len(dst)
	if room <= 0 {
		return dst
	}
	return append(dst, src[:min(room, len(src))]...)
}

func (l *Log) add(line string) {
	line = cut(strings.TrimSuffix(line, "\r"))
	l.total++
	if len(l.head) < headLines+tailLines {
		l.head = append(l.head, line)
		return
	}
	if len(l.tail) < tailLines {
		l.tail = append(l.tail, line)
		return
	}
	l.tail[l.next] = line
	l.next = (l.next + 1) % tailLines
}

// cut shortens a line to maxLineSize bytes at a rune boundary.
func cut(s string) string {
	if len(s) <= maxLineSize {
		return s
	}
	i := maxLineSize
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

// Report is the log's content in the shape session.ended carries.
type Report struct {
	Head       string
	Tail       string
	Truncated  bool
	TotalLines int
}

// Report returns the log so far, including an unterminated last line.
func (l *Log) Report() Report {
	l.mu.Lock()
	defer l.mu.Unlock()
	head := append([]string{}, l.head...)
	tail := append(append([]string{}, l.tail[l.next:]...), l.tail[:l.next]...)
	total := l.total
	if len(l.partial) > 0 {
		total++
		tail = append(tail, cut(string(l.partial)))
	}
	if total <= headLines+tailLines {
		return Report{Head: strings.Join(append(head, tail...), "\n"), TotalLines: total}
	}
	// More than fits: first headLines of the head, and the newest tailLines.
	merged := append(head[headLines:], tail...)
	return Report{
		Head:       strings.Join(head[:headLines], "\n"),
		Tail:       strings.Join(merged[max(0, len(merged)-tailLines):], "\n"),
		Truncated:  true,
		TotalLines: total,
	}
}
