package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"

	"github.com/agentd-dev/agentd/internal/terminal"
	"github.com/agentd-dev/agentd/schema"
)

// The terminal API (additive): interactive programs on PTYs, followed by
// any number of clients over SSE (input by POST) or a WebSocket, each
// replaying the recent output to repaint its screen.

// TerminalStatus is whether a terminal's program still runs.
type TerminalStatus string

func (TerminalStatus) Schema(r huma.Registry) *huma.Schema {
	return schema.EnumSchema(r, "TerminalStatus", terminal.Statuses)
}

type TerminalCreateRequest struct {
	Argv      []string          `json:"argv,omitempty" doc:"Program and arguments; default the daemon user's $SHELL, else /bin/sh"`
	Cwd       *string           `json:"cwd,omitempty" doc:"Working directory, resolved like a process's cwd"`
	Env       map[string]string `json:"env,omitempty" doc:"Variables added to the daemon's environment (without AGENTD_*); TERM defaults to xterm-256color"`
	Cols      *uint16           `json:"cols,omitempty" minimum:"1" doc:"Default 80"`
	Rows      *uint16           `json:"rows,omitempty" minimum:"1" doc:"Default 24"`
	SessionID *string           `json:"sessionId,omitempty" doc:"Resolve a relative cwd against this session's directory"`
}

type TerminalInfo struct {
	ID        string         `json:"id" example:"term_3f2a9c0b1d4e"`
	Argv      []string       `json:"argv" nullable:"false"`
	Cwd       string         `json:"cwd"`
	Pid       int            `json:"pid" doc:"Process id of the program, which leads the terminal's session"`
	Cols      uint16         `json:"cols"`
	Rows      uint16         `json:"rows"`
	Status    TerminalStatus `json:"status"`
	ExitCode  *int           `json:"exitCode,omitempty"`
	Signal    *string        `json:"signal,omitempty"`
	Readers   int            `json:"readers" doc:"Clients following the output now"`
	Bytes     int64          `json:"bytes" doc:"Output so far: the offset after its last byte"`
	CreatedAt int64          `json:"createdAt" doc:"Milliseconds since the Unix epoch"`
	EndedAt   *int64         `json:"endedAt,omitempty"`
}

type TerminalListResponse struct {
	Terminals []TerminalInfo `json:"terminals" nullable:"false"`
}

type TerminalResizeRequest struct {
	Cols uint16 `json:"cols" minimum:"1"`
	Rows uint16 `json:"rows" minimum:"1"`
}

// TerminalOutputChunk is one output frame of a terminal stream.
type TerminalOutputChunk struct {
	Offset  int64  `json:"offset" doc:"Byte offset of the chunk in the terminal's output; the frame's id is the offset after it"`
	Data    string `json:"data" doc:"The bytes, base64 (terminal output is not always UTF-8, and may split a character)"`
	Skipped int64  `json:"skipped,omitempty" doc:"Bytes before this chunk that the replay buffer no longer holds"`
}

type TerminalIDParam struct {
	ID string `path:"terminal_id" doc:"Terminal id"`
}

type terminalOutput struct{ Body TerminalInfo }

func terminalInfo(i terminal.Info) TerminalInfo {
	out := TerminalInfo{ID: i.ID, Argv: i.Argv, Cwd: i.Cwd, Pid: i.Pid, Cols: i.Cols, Rows: i.Rows, Status: TerminalStatus(i.Status),
		ExitCode: i.ExitCode, Readers: i.Readers, Bytes: i.Bytes, CreatedAt: i.CreatedAt.UnixMilli()}
	if i.Signal != "" {
		out.Signal = &i.Signal
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

const terminalReplay = " A new reader starts at the oldest byte still in the replay buffer (the newest 256 KiB), so a " +
	"reconnecting client repaints its screen; `offset` (or Last-Event-ID) resumes from a byte offset instead."

func (s *server) registerTerminals(a huma.API) {
	tags := []string{"terminals"}
	errs := []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict}
	huma.Register(a, huma.Operation{
		OperationID: "create_terminal", Method: http.MethodPost, Path: "/v1/terminals", Tags: tags,
		Summary: "Create Terminal",
		Description: "Starts a program (by default a shell) on a new pseudo-terminal, leading a session of its own. " +
			"It runs until it exits, the terminal is closed, or no client has followed it nor written to it for the " +
			"idle timeout (default 1h).",
		Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *struct{ Body TerminalCreateRequest }) (*terminalOutput, error) {
		if s.Terminals == nil || s.Workspace == nil {
			return nil, s.sandboxProblem(ctx, errors.New("the terminal API is not configured"))
		}
		b := in.Body
		cwd, err := s.workDir(b.SessionID, b.Cwd)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		req := terminal.CreateRequest{Argv: b.Argv, Cwd: cwd, Env: b.Env}
		if b.Cols != nil {
			req.Cols = *b.Cols
		}
		if b.Rows != nil {
			req.Rows = *b.Rows
		}
		info, err := s.Terminals.Create(ctx, req)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &terminalOutput{Body: terminalInfo(info)}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "list_terminals", Method: http.MethodGet, Path: "/v1/terminals", Tags: tags,
		Summary: "List Terminals", Description: "Open terminals, and those whose program exited in the last 10 minutes, newest first.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body TerminalListResponse }, error) {
		out := &struct{ Body TerminalListResponse }{Body: TerminalListResponse{Terminals: []TerminalInfo{}}}
		if s.Terminals == nil {
			return out, nil
		}
		for _, i := range s.Terminals.List() {
			out.Body.Terminals = append(out.Body.Terminals, terminalInfo(i))
		}
		return out, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "get_terminal", Method: http.MethodGet, Path: "/v1/terminals/{terminal_id}", Tags: tags,
		Summary: "Get Terminal", Errors: errs,
	}, func(ctx context.Context, in *TerminalIDParam) (*terminalOutput, error) {
		t, err := s.terminal(in.ID)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &terminalOutput{Body: terminalInfo(t.Info())}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "close_terminal", Method: http.MethodDelete, Path: "/v1/terminals/{terminal_id}", Tags: tags,
		Summary: "Close Terminal",
		Description: "Hangs up the terminal: SIGHUP and SIGTERM to every process of its session (jobs in other " +
			"process groups included), SIGKILL after the grace period; the terminal itself is closed only after. " +
			"Returns the final state and forgets the terminal.", Errors: errs,
	}, func(ctx context.Context, in *TerminalIDParam) (*terminalOutput, error) {
		if s.Terminals == nil {
			return nil, s.sandboxProblem(ctx, &terminal.NotFoundError{ID: in.ID})
		}
		info, err := s.Terminals.Close(ctx, in.ID)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &terminalOutput{Body: terminalInfo(info)}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "resize_terminal", Method: http.MethodPost, Path: "/v1/terminals/{terminal_id}/resize", Tags: tags,
		Summary: "Resize Terminal", Description: "Sets the terminal's size; its foreground program gets SIGWINCH.", Errors: errs,
	}, func(ctx context.Context, in *struct {
		TerminalIDParam
		Body TerminalResizeRequest
	}) (*terminalOutput, error) {
		t, err := s.terminal(in.ID)
		if err == nil {
			err = t.Resize(in.Body.Cols, in.Body.Rows)
		}
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &terminalOutput{Body: terminalInfo(t.Info())}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "write_terminal_input", Method: http.MethodPost, Path: "/v1/terminals/{terminal_id}/input", Tags: tags,
		Summary: "Write Terminal Input",
		Description: "Sends the raw request body (keystrokes, any content type, at most 1 MiB) to the terminal, as " +
			"if typed. 409 once the program has exited.",
		RequestBody: binaryBody("Bytes to type", "application/octet-stream"),
		Errors:      append([]int{http.StatusRequestEntityTooLarge}, errs...),
	}, func(ctx context.Context, in *TerminalIDParam) (*struct{ Body BytesWrittenResponse }, error) {
		req, err := rawRequest(ctx)
		if err != nil {
			return nil, err
		}
		t, err := s.terminal(in.ID)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		b, err := io.ReadAll(io.LimitReader(req.Body, terminal.MaxInputBytes+1))
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		if len(b) > terminal.MaxInputBytes {
			return nil, frameworkProblem(http.StatusRequestEntityTooLarge, "input is over the 1 MiB limit")
		}
		n, err := t.Write(ctx, b)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &struct{ Body BytesWrittenResponse }{Body: BytesWrittenResponse{BytesWritten: int64(n)}}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "follow_terminal_output", Method: http.MethodGet, Path: "/v1/terminals/{terminal_id}/output/sse", Tags: tags,
		Summary: "Follow Terminal Output (SSE)",
		Description: "An SSE stream of the terminal's output: `output` events (data base64, id = the byte offset after " +
			"the chunk) and, once the program has exited and its output was sent, one `exit` event (id `exit`); then " +
			"the stream ends. Reconnecting with Last-Event-ID `exit` answers 204." + terminalReplay,
		Responses: sseStreamResponses(a, "SSE stream of terminal output", map[string]any{"output": TerminalOutputChunk{}, "exit": TerminalInfo{}}),
		Errors:    errs,
	}, func(ctx context.Context, in *struct {
		TerminalIDParam
		Offset      int64  `query:"offset" default:"-1" minimum:"-1" doc:"Resume at this byte offset; -1 (default): the oldest byte held"`
		LastEventID string `header:"Last-Event-ID" doc:"Resume after this offset (sent by EventSource on reconnect)"`
	}) (*huma.StreamResponse, error) {
		t, err := s.terminal(in.ID)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		if in.LastEventID == "exit" {
			return &huma.StreamResponse{Body: func(hctx huma.Context) { hctx.SetStatus(http.StatusNoContent) }}, nil
		}
		from := in.Offset // -1: the start of the replay buffer
		if off, err := strconv.ParseInt(in.LastEventID, 10, 64); err == nil {
			from = off
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) { s.followTerminal(hctx, t, from) }}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "terminal_websocket", Method: http.MethodGet, Path: "/v1/terminals/{terminal_id}/ws", Tags: tags,
		Summary: "Terminal WebSocket",
		Description: "Upgrades to a WebSocket for interactive use. Server to client: binary messages are raw output; " +
			"text messages are JSON `{\"type\":\"exit\",\"terminal\":TerminalInfo}` before a normal close. Client to " +
			"server: binary messages are input bytes; text messages are JSON `{\"type\":\"input\",\"data\":\"…\"}` or " +
			"`{\"type\":\"resize\",\"cols\":N,\"rows\":N}`. Authentication uses the Authorization header like every " +
			"route or, for browsers (which cannot set it on a WebSocket), the offered subprotocols " +
			"`agentd.v1` and `agentd.bearer.<base64url token, no padding>`; the server then selects `agentd.v1`. " +
			"Browser origins must be allowed with --cors-allow-origin." + terminalReplay,
		Responses: map[string]*huma.Response{"101": {Description: "Switching to the WebSocket protocol"}},
		Errors:    errs,
	}, func(ctx context.Context, in *struct {
		TerminalIDParam
		Offset int64 `query:"offset" default:"-1" minimum:"-1" doc:"Resume at this byte offset; -1 (default): the oldest byte held"`
	}) (*huma.StreamResponse, error) {
		t, err := s.terminal(in.ID)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		from := in.Offset
		return &huma.StreamResponse{Body: func(hctx huma.Context) { s.terminalSocket(hctx, t, from) }}, nil
	})
}

// followTerminal streams output from the byte offset from (-1: the oldest
// byte held) until the program has exited and everything was sent.
func (s *server) followTerminal(hctx huma.Context, t *terminal.Terminal, from int64) {
	detach := t.Attach()
	defer detach()
	conn, ctx, ok := s.openSSE(hctx)
	if !ok {
		return
	}
	keepAlive := time.NewTimer(s.KeepAlive)
	defer keepAlive.Stop()
	for {
		end, complete, changed := t.Cursor()
		if from < end {
			data, at, gap := t.Read(from, 64<<10)
			frame := TerminalOutputChunk{Offset: at, Data: base64.StdEncoding.EncodeToString(data)}
			if gap {
				frame.Skipped = at - from
			}
			from = at + int64(len(data))
			if sendJSON(conn, strconv.FormatInt(from, 10), "output", frame) != nil || conn.Flush() != nil {
				return
			}
			keepAlive.Reset(s.KeepAlive)
			continue
		}
		if complete {
			_ = sendJSON(conn, "exit", "exit", terminalInfo(t.Info()))
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

// wsControl is a JSON text message on the terminal WebSocket.
type wsControl struct {
	Type     string        `json:"type"`
	Data     string        `json:"data,omitempty"`
	Cols     uint16        `json:"cols,omitempty"`
	Rows     uint16        `json:"rows,omitempty"`
	Terminal *TerminalInfo `json:"terminal,omitempty"`
}

func (s *server) terminalSocket(hctx huma.Context, t *terminal.Terminal, from int64) {
	r, w := humachi.Unwrap(hctx)
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.CORS.AllowOrigins,
		Subprotocols: []string{WebSocketProtocol}})
	if err != nil {
		return // Accept has answered
	}
	conn.SetReadLimit(terminal.MaxInputBytes + 1024)
	detach := t.Attach()
	defer detach()
	ctx, cancel := context.WithCancel(r.Context())
	readerDone := make(chan struct{})
	defer func() {
		cancel()
		conn.CloseNow()
		<-readerDone
	}()
	go func() {
		defer close(readerDone)
		defer cancel()
		for {
			typ, msg, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if typ == websocket.MessageBinary {
				if _, err := t.Write(ctx, msg); err != nil {
					return
				}
				continue
			}
			var c wsControl
			if json.Unmarshal(msg, &c) != nil {
				conn.Close(websocket.StatusUnsupportedData, "text messages must be JSON control messages")
				return
			}
			switch c.Type {
			case "input":
				if _, err := t.Write(ctx, []byte(c.Data)); err != nil {
					return
				}
			case "resize":
				if err := t.Resize(c.Cols, c.Rows); err != nil {
					conn.Close(websocket.StatusPolicyViolation, "bad resize: "+err.Error())
					return
				}
			default:
				conn.Close(websocket.StatusUnsupportedData, "unknown message type "+strconv.Quote(c.Type))
				return
			}
		}
	}()
	for {
		end, complete, changed := t.Cursor()
		if from < end {
			data, at, _ := t.Read(from, 64<<10)
			from = at + int64(len(data))
			if conn.Write(ctx, websocket.MessageBinary, data) != nil {
				return
			}
			continue
		}
		if complete {
			info := terminalInfo(t.Info())
			b, _ := json.Marshal(wsControl{Type: "exit", Terminal: &info})
			if conn.Write(ctx, websocket.MessageText, b) == nil {
				conn.Close(websocket.StatusNormalClosure, "terminal exited")
			}
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			conn.Close(websocket.StatusNormalClosure, "")
			return
		case <-s.Done:
			conn.Close(websocket.StatusGoingAway, "daemon shutting down")
			return
		}
	}
}

func (s *server) terminal(id string) (*terminal.Terminal, error) {
	if s.Terminals == nil {
		return nil, &terminal.NotFoundError{ID: id}
	}
	return s.Terminals.Get(id)
}
