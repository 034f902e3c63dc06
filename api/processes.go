package api

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"

	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/process"
	"github.com/agentd-dev/agentd/internal/terminal"
	"github.com/agentd-dev/agentd/schema"
)

// The process API (additive): commands that outlive the request that
// started them, seen by every client, with their output kept and their
// exit retained.

// ProcessStatus is whether a process still runs.
type ProcessStatus string

func (ProcessStatus) Schema(r huma.Registry) *huma.Schema {
	return schema.EnumSchema(r, "ProcessStatus", process.Statuses)
}

// OutputStream names stdout or stderr.
type OutputStream string

func (OutputStream) Schema(r huma.Registry) *huma.Schema {
	return schema.EnumSchema(r, "OutputStream", process.Streams)
}

type ProcessStartRequest struct {
	Argv []string          `json:"argv" minItems:"1" doc:"The command and its arguments; the command is looked up in the daemon's PATH unless it contains a slash"`
	Cwd  *string           `json:"cwd,omitempty" doc:"Working directory: absolute inside the fs root, or relative to the session's directory (sessionId) or the root. Default: the session's directory, else the root"`
	Env  map[string]string `json:"env,omitempty" doc:"Variables added to the daemon's environment (which is passed on without AGENTD_* variables)"`
	// Stdin keeps standard input open for POST …/stdin.
	Stdin     *bool   `json:"stdin,omitempty" doc:"Keep stdin open for writes (default false: stdin is empty)"`
	TimeoutMs *uint64 `json:"timeoutMs,omitempty" doc:"Kill the process group after this many milliseconds"`
	SessionID *string `json:"sessionId,omitempty" doc:"Resolve a relative cwd against this session's directory"`
}

type ProcessInfo struct {
	ID           string        `json:"id" example:"proc_3f2a9c0b1d4e"`
	Argv         []string      `json:"argv" nullable:"false"`
	Cwd          string        `json:"cwd"`
	Pid          int           `json:"pid" doc:"Process id of the leader, which is also its process group id"`
	Status       ProcessStatus `json:"status"`
	ExitCode     *int          `json:"exitCode,omitempty" doc:"Set when the process exited by itself"`
	Signal       *string       `json:"signal,omitempty" doc:"The signal that ended the process, e.g. SIGKILL"`
	TimedOut     bool          `json:"timedOut" doc:"The process was killed by its timeout"`
	Error        *string       `json:"error,omitempty"`
	StdinOpen    bool          `json:"stdinOpen"`
	StartedAt    int64         `json:"startedAt" doc:"Milliseconds since the Unix epoch"`
	EndedAt      *int64        `json:"endedAt,omitempty" doc:"Milliseconds since the Unix epoch"`
	StdoutBytes  int64         `json:"stdoutBytes" doc:"Bytes of stdout kept (the whole log)"`
	StderrBytes  int64         `json:"stderrBytes"`
	DroppedBytes int64         `json:"droppedBytes" doc:"Output discarded over the per-process log cap"`
}

type ProcessListResponse struct {
	Processes []ProcessInfo `json:"processes" nullable:"false"`
}

type ProcessOutputResponse struct {
	Stdout       string `json:"stdout"`
	Stderr       string `json:"stderr"`
	Encoding     string `json:"encoding" enum:"utf8,base64" doc:"How stdout and stderr are encoded"`
	StdoutOffset int64  `json:"stdoutOffset" doc:"Where the returned stdout starts in the whole stream"`
	StderrOffset int64  `json:"stderrOffset"`
	StdoutBytes  int64  `json:"stdoutBytes" doc:"Size of the whole stream"`
	StderrBytes  int64  `json:"stderrBytes"`
	Truncated    bool   `json:"truncated" doc:"Older output is only in the logs (GET …/logs/{stream})"`
}

// ProcessOutputChunk is one output frame of a follow stream.
type ProcessOutputChunk struct {
	Seq    uint64       `json:"seq" doc:"Chunk sequence, from 1 over both streams; also the frame's id"`
	Stream OutputStream `json:"stream"`
	Offset int64        `json:"offset" doc:"Bytes of this stream before the chunk"`
	Data   string       `json:"data" doc:"The bytes, base64"`
}

type ProcessSignalRequest struct {
	Signal string `json:"signal" example:"SIGINT" doc:"Name (SIGINT, INT) or number"`
}

type BytesWrittenResponse struct {
	BytesWritten int64 `json:"bytesWritten"`
}

type ProcessIDParam struct {
	ID string `path:"process_id" doc:"Process id"`
}

func processInfo(i process.Info) ProcessInfo {
	out := ProcessInfo{ID: i.ID, Argv: i.Argv, Cwd: i.Cwd, Pid: i.Pid, Status: ProcessStatus(i.Status), ExitCode: i.ExitCode,
		TimedOut: i.TimedOut, StdinOpen: i.StdinOpen, StartedAt: i.StartedAt.UnixMilli(),
		StdoutBytes: i.StdoutBytes, StderrBytes: i.StderrBytes, DroppedBytes: i.DroppedBytes}
	if i.Signal != "" {
		out.Signal = &i.Signal
	}
	if i.Error != "" {
		out.Error = &i.Error
	}
	if i.EndedAt != nil {
		ms := i.EndedAt.UnixMilli()
		out.EndedAt = &ms
	}
	if out.Argv == nil {
		out.Argv = []string{}
	}
	return out
}

type processOutput struct{ Body ProcessInfo }

func (s *server) registerProcesses(a huma.API) {
	tags := []string{"processes"}
	errs := []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict}
	huma.Register(a, huma.Operation{
		OperationID: "start_process", Method: http.MethodPost, Path: "/v1/processes", Tags: tags,
		Summary: "Start Process",
		Description: "Starts a command in a process group of its own and returns at once. The process outlives the " +
			"request and is visible to every client until it is deleted or, after it exits, for the retention period. " +
			"Output is kept in memory (the newest 1 MiB) and in full on disk under the data directory (up to 1 GiB " +
			"per process; beyond, it is counted in droppedBytes and discarded). When the command exits, whatever it " +
			"left running in its process group is killed too. Every process is stopped when the daemon stops.",
		Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *struct{ Body ProcessStartRequest }) (*processOutput, error) {
		if s.Processes == nil || s.Workspace == nil {
			return nil, s.sandboxProblem(ctx, errors.New("the process API is not configured"))
		}
		b := in.Body
		cwd, err := s.workDir(b.SessionID, b.Cwd)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		req := process.StartRequest{Argv: b.Argv, Cwd: cwd, Env: b.Env, Stdin: b.Stdin != nil && *b.Stdin}
		if b.TimeoutMs != nil {
			req.Timeout = time.Duration(*b.TimeoutMs) * time.Millisecond
		}
		info, err := s.Processes.Start(ctx, req)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &processOutput{Body: processInfo(info)}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "list_processes", Method: http.MethodGet, Path: "/v1/processes", Tags: tags,
		Summary: "List Processes", Description: "Every running process and the exited ones still retained, newest first.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body ProcessListResponse }, error) {
		out := &struct{ Body ProcessListResponse }{Body: ProcessListResponse{Processes: []ProcessInfo{}}}
		if s.Processes == nil {
			return out, nil
		}
		for _, i := range s.Processes.List() {
			out.Body.Processes = append(out.Body.Processes, processInfo(i))
		}
		return out, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "get_process", Method: http.MethodGet, Path: "/v1/processes/{process_id}", Tags: tags,
		Summary: "Get Process", Description: "Status, exit code or signal, and output sizes.", Errors: errs,
	}, func(ctx context.Context, in *ProcessIDParam) (*processOutput, error) {
		p, err := s.process(in.ID)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &processOutput{Body: processInfo(p.Info())}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "delete_process", Method: http.MethodDelete, Path: "/v1/processes/{process_id}", Tags: tags,
		Summary: "Delete Process", Description: "Kills the process group if it still runs, then forgets the process and deletes its logs.", Errors: errs,
	}, func(ctx context.Context, in *ProcessIDParam) (*processOutput, error) {
		if s.Processes == nil {
			return nil, s.sandboxProblem(ctx, &process.NotFoundError{ID: in.ID})
		}
		info, err := s.Processes.Remove(ctx, in.ID)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &processOutput{Body: processInfo(info)}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "kill_process", Method: http.MethodPost, Path: "/v1/processes/{process_id}/kill", Tags: tags,
		Summary: "Kill Process",
		Description: "Ends the whole process group: SIGTERM, then SIGKILL after the grace period. Returns once the " +
			"process is reaped, with its final state. Killing an exited process returns its state.", Errors: errs,
	}, func(ctx context.Context, in *ProcessIDParam) (*processOutput, error) {
		p, err := s.process(in.ID)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		info, err := p.Kill(ctx)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &processOutput{Body: processInfo(info)}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "signal_process", Method: http.MethodPost, Path: "/v1/processes/{process_id}/signal", Tags: tags,
		Summary: "Signal Process", Description: "Sends a signal to the process's whole group. 409 once it has exited.", Errors: errs,
	}, func(ctx context.Context, in *struct {
		ProcessIDParam
		Body ProcessSignalRequest
	}) (*processOutput, error) {
		p, err := s.process(in.ID)
		if err == nil {
			err = p.Signal(in.Body.Signal)
		}
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &processOutput{Body: processInfo(p.Info())}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "write_process_stdin", Method: http.MethodPost, Path: "/v1/processes/{process_id}/stdin", Tags: tags,
		Summary: "Write Stdin",
		Description: "Streams the raw request body (any size, any content type) to the process's stdin; close=true " +
			"closes stdin afterwards (an empty body just closes it). Writes are serialised. 409 when stdin is not open.",
		RequestBody: binaryBody("Bytes for stdin", "application/octet-stream"), Errors: errs,
	}, func(ctx context.Context, in *struct {
		ProcessIDParam
		Close bool `query:"close" doc:"Close stdin after writing"`
	}) (*struct{ Body BytesWrittenResponse }, error) {
		req, err := rawRequest(ctx)
		if err != nil {
			return nil, err
		}
		p, err := s.process(in.ID)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		n, err := p.WriteStdin(ctx, req.Body, in.Close)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &struct{ Body BytesWrittenResponse }{Body: BytesWrittenResponse{BytesWritten: n}}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "get_process_output", Method: http.MethodGet, Path: "/v1/processes/{process_id}/output", Tags: tags,
		Summary: "Get Process Output",
		Description: "The end of stdout and stderr held in memory (the newest 1 MiB of both). With truncated, the " +
			"whole output is in the logs (GET …/logs/{stream}). encoding=utf8 (default) replaces invalid bytes; " +
			"base64 is exact.", Errors: errs,
	}, func(ctx context.Context, in *struct {
		ProcessIDParam
		Encoding string `query:"encoding" enum:"utf8,base64" default:"utf8"`
	}) (*struct{ Body ProcessOutputResponse }, error) {
		p, err := s.process(in.ID)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		t := p.Output()
		enc := func(b []byte) string {
			if in.Encoding == "base64" {
				return base64.StdEncoding.EncodeToString(b)
			}
			return strings.ToValidUTF8(string(b), string(utf8.RuneError))
		}
		return &struct{ Body ProcessOutputResponse }{Body: ProcessOutputResponse{
			Stdout: enc(t.Stdout), Stderr: enc(t.Stderr), Encoding: in.Encoding,
			StdoutOffset: t.StdoutOffset, StderrOffset: t.StderrOffset, StdoutBytes: t.StdoutBytes, StderrBytes: t.StderrBytes,
			Truncated: t.Truncated,
		}}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "get_process_log", Method: http.MethodGet, Path: "/v1/processes/{process_id}/logs/{stream}", Tags: tags,
		Summary: "Download Process Log",
		Description: "The whole of one stream as kept on disk (up to the per-process cap), as raw bytes. Range " +
			"requests resume by byte offset; while the process runs the log grows.",
		Responses: binaryContent("The stream's bytes", "application/octet-stream"), Errors: errs,
	}, func(ctx context.Context, in *struct {
		ProcessIDParam
		Stream OutputStream `path:"stream"`
	}) (*huma.StreamResponse, error) {
		p, err := s.process(in.ID)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		f, err := os.Open(p.LogPath(process.Stream(in.Stream)))
		if err != nil {
			return nil, s.sandboxProblem(ctx, &process.NotFoundError{ID: in.ID})
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			defer f.Close()
			r, w := humachi.Unwrap(hctx)
			w.Header().Set("Content-Type", "application/octet-stream")
			http.ServeContent(w, r, filepath.Base(f.Name()), time.Time{}, f)
		}}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "follow_process_output", Method: http.MethodGet, Path: "/v1/processes/{process_id}/output/sse", Tags: tags,
		Summary: "Follow Process Output (SSE)",
		Description: "An SSE stream of the process's output from the start (or after the chunk `after`, or " +
			"Last-Event-ID), then live: `output` events (id = chunk sequence, data base64) and, once the process has " +
			"exited and all its output was sent, one `exit` event (id `exit`) with its final state; then the stream " +
			"ends. Reconnecting with Last-Event-ID `exit` answers 204, which stops EventSource. A slow client only " +
			"falls behind; output older than the memory ring is read from the disk log.",
		Responses: sseStreamResponses(a, "SSE stream of output", map[string]any{"output": ProcessOutputChunk{}, "exit": ProcessInfo{}}),
		Errors:    errs,
	}, func(ctx context.Context, in *struct {
		ProcessIDParam
		After       uint64 `query:"after" doc:"Resume after this chunk sequence"`
		LastEventID string `header:"Last-Event-ID" doc:"Resume after this chunk (sent by EventSource on reconnect)"`
	}) (*huma.StreamResponse, error) {
		p, err := s.process(in.ID)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		cursor := in.After
		if in.LastEventID == "exit" {
			return &huma.StreamResponse{Body: func(hctx huma.Context) { hctx.SetStatus(http.StatusNoContent) }}, nil
		}
		if seq, err := strconv.ParseUint(in.LastEventID, 10, 64); err == nil {
			cursor = seq
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) { s.followProcess(hctx, p, cursor) }}, nil
	})
}

// followProcess streams chunks after cursor until the output is complete,
// then the exit. Reads and waits go through the process's log, never a
// channel per subscriber.
func (s *server) followProcess(hctx huma.Context, p *process.Process, cursor uint64) {
	conn, ctx, ok := s.openSSE(hctx)
	if !ok {
		return
	}
	keepAlive := time.NewTimer(s.KeepAlive)
	defer keepAlive.Stop()
	for {
		last, complete, changed := p.Cursor()
		if cursor < last {
			chunks, err := p.Read(cursor, 256<<10)
			if err != nil {
				_ = sendJSON(conn, "", "error", StreamError{Message: err.Error()})
				_ = conn.Flush()
				return
			}
			for _, c := range chunks {
				frame := ProcessOutputChunk{Seq: c.Seq, Stream: OutputStream(c.Stream), Offset: c.Offset, Data: base64.StdEncoding.EncodeToString(c.Data)}
				if sendJSON(conn, strconv.FormatUint(c.Seq, 10), "output", frame) != nil {
					return
				}
				cursor = c.Seq
			}
			if conn.Flush() != nil {
				return
			}
			keepAlive.Reset(s.KeepAlive)
			continue
		}
		if complete {
			<-p.Ended() // complete output means the exit is being recorded
			_ = sendJSON(conn, "exit", "exit", processInfo(p.Info()))
			_ = conn.Flush()
			return
		}
		select {
		case <-changed:
		case <-keepAlive.C:
			if sendKeepAlive(conn) != nil {
				return
			}
			keepAlive.Reset(s.KeepAlive)
		case <-ctx.Done():
			return
		case <-s.Done:
			return
		}
	}
}

func (s *server) process(id string) (*process.Process, error) {
	if s.Processes == nil {
		return nil, &process.NotFoundError{ID: id}
	}
	return s.Processes.Get(id)
}

// workDir resolves a process's or terminal's working directory like an fs
// path: relative to the session's directory or the root, inside the root.
func (s *server) workDir(sessionID, cwd *string) (string, error) {
	sess := ""
	if sessionID != nil {
		sess = *sessionID
	}
	base, err := s.fsBase(sess)
	if err != nil {
		return "", err
	}
	p := "."
	if cwd != nil && *cwd != "" {
		p = *cwd
	}
	e, err := s.Workspace.Stat(base, p)
	if err != nil {
		return "", err
	}
	if e.Type != "directory" {
		return "", apierr.New(apierr.InvalidRequest, "working directory is not a directory: %s", e.Path)
	}
	return e.Path, nil
}

// sandboxStatus is the status of process and terminal errors that are
// not engine kinds; 0 for the rest.
func sandboxStatus(err error) int {
	var pnf *process.NotFoundError
	var tnf *terminal.NotFoundError
	var pc *process.ConflictError
	var tc *terminal.ConflictError
	switch {
	case errors.As(err, &pnf), errors.As(err, &tnf):
		return http.StatusNotFound
	case errors.As(err, &pc), errors.As(err, &tc):
		return http.StatusConflict
	case errors.Is(err, process.ErrTooMany), errors.Is(err, terminal.ErrTooMany):
		return http.StatusTooManyRequests
	case errors.Is(err, process.ErrShuttingDown), errors.Is(err, terminal.ErrShuttingDown):
		return http.StatusServiceUnavailable
	}
	return 0
}
