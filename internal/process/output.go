package process

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Stream names one of a process's output streams.
type Stream string

const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Streams lists both.
var Streams = []Stream{Stdout, Stderr}

func (s Stream) index() int {
	if s == Stderr {
		return 1
	}
	return 0
}

// Chunk is one read of a process's output: its place in the process's
// sequence of chunks (from 1, both streams together) and in its stream.
type Chunk struct {
	Seq    uint64
	Stream Stream
	Offset int64 // bytes of this stream before the chunk
	Data   []byte
}

// output is a process's output log. On disk: each stream's bytes in a file
// of its own (so a client can download either with Range requests) and an
// index of fixed-size records, one per chunk, so chunk n is found without
// a scan. In memory: the newest chunks, up to ringBytes, serve live
// readers and recent history without touching the disk. Readers keep
// their own cursor (a chunk sequence) and wait on changed: a slow reader
// falls behind in the log and never holds up the process or anyone else.
type output struct {
	mu        sync.Mutex
	dir       string
	streams   [2]*os.File
	index     *os.File
	sizes     [2]int64
	seq       uint64 // last chunk
	ring      []Chunk
	ringBytes int
	ringCap   int
	maxBytes  int64
	dropped   int64
	closed    bool // no more chunks will come
	removed   bool // files closed and deleted
	changed   chan struct{}
	writeErr  error
}

const indexRecord = 16 // stream (1), unused (3), length (4), offset (8)

func newOutput(dir string, ringCap int, maxBytes int64) (*output, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("process log directory: %w", err)
	}
	o := &output{dir: dir, ringCap: ringCap, maxBytes: maxBytes, changed: make(chan struct{})}
	for i, name := range []string{"stdout", "stderr", "index"} {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			o.closeFiles()
			return nil, fmt.Errorf("process log: %w", err)
		}
		if i < 2 {
			o.streams[i] = f
		} else {
			o.index = f
		}
	}
	return o, nil
}

// LogPath is where a stream's whole output is kept.
func (o *output) logPath(s Stream) string { return filepath.Join(o.dir, string(s)) }

// append records a chunk; data is copied. Output past maxBytes is dropped
// (counted in dropped) so a runaway process cannot fill the disk.
func (o *output) append(s Stream, data []byte) {
	if len(data) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.removed {
		return
	}
	i := s.index()
	if o.sizes[0]+o.sizes[1]+int64(len(data)) > o.maxBytes || o.writeErr != nil {
		o.dropped += int64(len(data))
		return
	}
	if _, err := o.streams[i].WriteAt(data, o.sizes[i]); err != nil {
		o.writeErr = err
		o.dropped += int64(len(data))
		return
	}
	var rec [indexRecord]byte
	rec[0] = byte(i)
	binary.LittleEndian.PutUint32(rec[4:], uint32(len(data)))
	binary.LittleEndian.PutUint64(rec[8:], uint64(o.sizes[i]))
	if _, err := o.index.WriteAt(rec[:], int64(o.seq)*indexRecord); err != nil {
		o.writeErr = err
		o.dropped += int64(len(data))
		return
	}
	o.seq++
	c := Chunk{Seq: o.seq, Stream: s, Offset: o.sizes[i], Data: append([]byte(nil), data...)}
	o.sizes[i] += int64(len(data))
	o.ring = append(o.ring, c)
	o.ringBytes += len(c.Data)
	for len(o.ring) > 1 && o.ringBytes > o.ringCap {
		o.ringBytes -= len(o.ring[0].Data)
		o.ring[0] = Chunk{}
		o.ring = o.ring[1:]
	}
	o.notify()
}

func (o *output) notify() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// close marks the end of the output: readers that caught up stop waiting.
func (o *output) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.closed = true
		o.notify()
	}
}

// remove closes and deletes the files.
func (o *output) remove() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.removed {
		return
	}
	o.closed, o.removed = true, true
	o.closeFiles()
	o.ring = nil
	_ = os.RemoveAll(o.dir)
	o.notify()
}

func (o *output) closeFiles() {
	for _, f := range append(o.streams[:], o.index) {
		if f != nil {
			f.Close()
		}
	}
}

// errRemoved is returned to readers of a process that was deleted.
var errRemoved = errors.New("the process was removed")

// state is a reader's view: the last sequence, whether more may come, and
// a channel closed at the next change.
func (o *output) state() (last uint64, closed bool, changed <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.seq, o.closed, o.changed
}

// read returns chunks after the given sequence, at most maxBytes of data
// (but at least one chunk when there is one).
func (o *output) read(after uint64, maxBytes int) ([]Chunk, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.removed {
		return nil, errRemoved
	}
	if after >= o.seq {
		return nil, nil
	}
	var out []Chunk
	size := 0
	if len(o.ring) > 0 && after+1 >= o.ring[0].Seq {
		for _, c := range o.ring[after+1-o.ring[0].Seq:] {
			if len(out) > 0 && size+len(c.Data) > maxBytes {
				break
			}
			out = append(out, c)
			size += len(c.Data)
		}
		return out, nil
	}
	// Older than the ring: from disk, up to the ring's start.
	var rec [indexRecord]byte
	for seq := after + 1; seq <= o.seq; seq++ {
		if len(o.ring) > 0 && seq >= o.ring[0].Seq {
			break
		}
		if _, err := o.index.ReadAt(rec[:], int64(seq-1)*indexRecord); err != nil {
			return out, fmt.Errorf("read process log index: %w", err)
		}
		i := int(rec[0])
		n := int(binary.LittleEndian.Uint32(rec[4:]))
		off := int64(binary.LittleEndian.Uint64(rec[8:]))
		if len(out) > 0 && size+n > maxBytes {
			break
		}
		data := make([]byte, n)
		if _, err := o.streams[i].ReadAt(data, off); err != nil {
			return out, fmt.Errorf("read process log: %w", err)
		}
		out = append(out, Chunk{Seq: seq, Stream: Streams[i], Offset: off, Data: data})
		size += n
	}
	return out, nil
}

// Tail is the end of each stream that the in-memory ring holds.
type Tail struct {
	Stdout, Stderr             []byte
	StdoutOffset, StderrOffset int64 // where each returned tail starts in its stream
	StdoutBytes, StderrBytes   int64 // each stream's whole size
	Truncated                  bool  // the ring does not hold the whole output
	Dropped                    int64 // bytes discarded over the disk cap
}

func (o *output) tail() Tail {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := Tail{StdoutBytes: o.sizes[0], StderrBytes: o.sizes[1], StdoutOffset: o.sizes[0], StderrOffset: o.sizes[1], Dropped: o.dropped}
	var seenOut, seenErr bool
	for _, c := range o.ring {
		if c.Stream == Stdout {
			if !seenOut {
				t.StdoutOffset, seenOut = c.Offset, true
			}
			t.Stdout = append(t.Stdout, c.Data...)
		} else {
			if !seenErr {
				t.StderrOffset, seenErr = c.Offset, true
			}
			t.Stderr = append(t.Stderr, c.Data...)
		}
	}
	t.Truncated = t.StdoutOffset > 0 || t.StderrOffset > 0 || o.dropped > 0
	return t
}

// sizesAndDropped reports the bytes kept per stream and the bytes dropped.
func (o *output) sizesAndDropped() (int64, int64, int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sizes[0], o.sizes[1], o.dropped
}
