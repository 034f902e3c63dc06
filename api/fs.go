package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	sse "github.com/tmaxmax/go-sse"

	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/workspace"
	"github.com/agentd-dev/agentd/schema"
)

// The file-system API: the reference's /v1/fs routes with the same paths,
// operation ids, parameters and bodies, confined to the workspace root;
// plus (additive) directory archives and a watch stream.

// FsEntryType is what an entry is. Symlinks are "file", as in the
// reference; FsEntry.symlink tells them apart.
type FsEntryType string

func (FsEntryType) Schema(r huma.Registry) *huma.Schema {
	return schema.EnumSchema(r, "FsEntryType", workspace.EntryTypes)
}

type FsEntry struct {
	Name      string      `json:"name"`
	Path      string      `json:"path" doc:"Absolute path"`
	EntryType FsEntryType `json:"entryType"`
	Size      uint64      `json:"size"`
	Modified  *string     `json:"modified,omitempty" doc:"RFC 3339, UTC with a +00:00 offset"`
	Symlink   bool        `json:"symlink,omitempty" doc:"Additive: the entry is a symlink (described by its own metadata)"`
}

type FsStat struct {
	Path      string      `json:"path" doc:"Absolute path"`
	EntryType FsEntryType `json:"entryType"`
	Size      uint64      `json:"size"`
	Modified  *string     `json:"modified,omitempty" doc:"RFC 3339, UTC with a +00:00 offset"`
}

type FsWriteResponse struct {
	Path         string `json:"path"`
	BytesWritten uint64 `json:"bytesWritten"`
}

type FsActionResponse struct {
	Path string `json:"path"`
}

type FsMoveRequest struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Overwrite *bool  `json:"overwrite,omitempty" doc:"Replace an existing destination (recursively for a directory)"`
}

type FsMoveResponse struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type FsUploadBatchResponse struct {
	Paths     []string `json:"paths" nullable:"false" doc:"Extracted paths (absolute, directories included), the first 1024"`
	Truncated bool     `json:"truncated" doc:"More paths were extracted than listed"`
}

// The reference lists its query strings as components; so does ours.
type FsPathQuery struct {
	Path      string  `json:"path"`
	SessionID *string `json:"sessionId,omitempty"`
}

type FsEntriesQuery struct {
	Path      *string `json:"path,omitempty"`
	SessionID *string `json:"sessionId,omitempty"`
}

type FsDeleteQuery struct {
	Path      string  `json:"path"`
	Recursive *bool   `json:"recursive,omitempty"`
	SessionID *string `json:"sessionId,omitempty"`
}

type FsSessionQuery struct {
	SessionID *string `json:"sessionId,omitempty"`
}

type FsUploadBatchQuery struct {
	Path      *string `json:"path,omitempty"`
	SessionID *string `json:"sessionId,omitempty"`
}

// FsSessionParam accepts both spellings of the session id, as the
// reference does.
type FsSessionParam struct {
	SessionID      string `query:"session_id" doc:"Session id for relative paths: they resolve against the session's directory"`
	SessionIDCamel string `query:"sessionId" doc:"Alias of session_id"`
}

func (p FsSessionParam) session() string {
	if p.SessionID != "" {
		return p.SessionID
	}
	return p.SessionIDCamel
}

type FsPathParam struct {
	Path string `query:"path" required:"true" doc:"Path: absolute (inside the root) or relative"`
	FsSessionParam
}

// FsChangeType is what happened to a watched path.
type FsChangeType string

func (FsChangeType) Schema(r huma.Registry) *huma.Schema {
	return schema.EnumSchema(r, "FsChangeType", workspace.ChangeTypes)
}

// FsChange is one frame of the watch stream.
type FsChange struct {
	Type      FsChangeType `json:"type"`
	Path      string       `json:"path"`
	EntryType FsEntryType  `json:"entryType"`
}

// FsWatchReady is the watch stream's first frame: the snapshot is taken.
type FsWatchReady struct {
	Path    string `json:"path"`
	Entries int    `json:"entries"`
}

// StreamError ends a stream that cannot go on.
type StreamError struct {
	Message string `json:"message"`
}

// ArchiveFormat is the format of a directory download.
type ArchiveFormat string

func (ArchiveFormat) Schema(r huma.Registry) *huma.Schema {
	return schema.EnumSchema(r, "FsArchiveFormat", workspace.ArchiveFormats)
}

func binaryContent(desc string, types ...string) map[string]*huma.Response {
	content := map[string]*huma.MediaType{}
	for _, t := range types {
		content[t] = &huma.MediaType{Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}
	}
	return map[string]*huma.Response{"200": {Description: desc, Content: content}}
}

func binaryBody(desc string, types ...string) *huma.RequestBody {
	content := map[string]*huma.MediaType{}
	for _, t := range types {
		content[t] = &huma.MediaType{Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}
	}
	return &huma.RequestBody{Description: desc, Required: true, Content: content}
}

// sseStreamResponses documents an SSE stream of named events: each frame
// is "event: <name>", "id: <id>" and "data: <JSON of the event's type>".
func sseStreamResponses(a huma.API, desc string, events map[string]any) map[string]*huma.Response {
	r := a.OpenAPI().Components.Schemas
	var oneOf []*huma.Schema
	for _, name := range slices.Sorted(maps.Keys(events)) {
		oneOf = append(oneOf, &huma.Schema{
			Title: "Event " + name, Type: huma.TypeObject, Required: []string{"event", "data"},
			Properties: map[string]*huma.Schema{
				"event": {Type: huma.TypeString, Enum: []any{name}},
				"id":    {Type: huma.TypeString},
				"data":  r.Schema(reflect.TypeOf(events[name]), true, ""),
			},
		})
	}
	return map[string]*huma.Response{"200": {
		Description: desc,
		Content:     map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{OneOf: oneOf}}},
	}}
}

const fsCommon = " Paths are absolute (inside the daemon's root, `--fs-root`) or relative: to the session's directory with " +
	"session_id, else to the root. `..`, paths outside the root and symlinks leading out are refused (400). A " +
	"missing path is 400 `path not found` (kept from the reference for compatibility), permission denied 403, other " +
	"I/O errors 502 stream_error."

var fsErrors = []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusBadGateway}

func (s *server) registerFs(a huma.API) {
	r := a.OpenAPI().Components.Schemas
	for _, v := range []any{FsPathQuery{}, FsEntriesQuery{}, FsDeleteQuery{}, FsSessionQuery{}, FsUploadBatchQuery{}} {
		r.Schema(reflect.TypeOf(v), true, "")
	}
	huma.Register(a, huma.Operation{
		OperationID: "fs_entries", Method: http.MethodGet, Path: "/v1/fs/entries", Tags: []string{"fs"},
		Summary: "List Directory", Description: "Lists files and directories at the given path, sorted by name." + fsCommon,
		Errors: fsErrors,
	}, func(ctx context.Context, in *struct {
		Path string `query:"path" default:"." doc:"Path to list (relative or absolute)"`
		FsSessionParam
	}) (*struct{ Body []FsEntry }, error) {
		base, err := s.fsBase(in.session())
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		entries, err := s.Workspace.List(base, in.Path)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		out := &struct{ Body []FsEntry }{Body: make([]FsEntry, len(entries))}
		for i, e := range entries {
			out.Body[i] = FsEntry{Name: e.Name, Path: e.Path, EntryType: FsEntryType(e.Type), Size: e.Size, Modified: modified(e.Modified), Symlink: e.Symlink}
		}
		return out, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "fs_read_file", Method: http.MethodGet, Path: "/v1/fs/file", Tags: []string{"fs"},
		Summary: "Read File",
		Description: "Streams the raw bytes of a file. Content-Type is guessed from the name, else sniffed; Range, " +
			"If-Modified-Since and If-Range are honoured (206 for a range)." + fsCommon,
		Responses: binaryContent("File content", "application/octet-stream"), Errors: fsErrors,
	}, func(ctx context.Context, in *FsPathParam) (*huma.StreamResponse, error) {
		base, err := s.fsBase(in.session())
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		file, info, _, err := s.Workspace.Open(base, in.Path)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			defer file.Close()
			r, w := humachi.Unwrap(hctx)
			http.ServeContent(w, r, info.Name(), info.ModTime(), file)
		}}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "fs_write_file", Method: http.MethodPut, Path: "/v1/fs/file", Tags: []string{"fs"},
		Summary: "Write File",
		Description: "Writes the raw request body to a file (any content type), creating missing parent directories. " +
			"The body is streamed to a temporary file that replaces the target once complete, so readers never see a " +
			"partial file and a failed upload leaves nothing behind. Over the size cap (`--fs-max-write`, default 1 GiB): 413." + fsCommon,
		RequestBody: binaryBody("File content", "application/octet-stream"),
		Errors:      append([]int{http.StatusRequestEntityTooLarge}, fsErrors...),
	}, func(ctx context.Context, in *FsPathParam) (*struct{ Body FsWriteResponse }, error) {
		req, err := rawRequest(ctx)
		if err != nil {
			return nil, err
		}
		base, err := s.fsBase(in.session())
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		p, n, err := s.Workspace.Write(base, in.Path, req.Body, req.ContentLength)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &struct{ Body FsWriteResponse }{Body: FsWriteResponse{Path: p.Abs, BytesWritten: uint64(n)}}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "fs_delete_entry", Method: http.MethodDelete, Path: "/v1/fs/entry", Tags: []string{"fs"},
		Summary: "Delete Entry",
		Description: "Deletes a file, a symlink (not its target) or an empty directory; with recursive=true a directory " +
			"and everything in it. The root itself cannot be deleted." + fsCommon,
		Errors: fsErrors,
	}, func(ctx context.Context, in *struct {
		FsPathParam
		Recursive bool `query:"recursive" doc:"Delete directories recursively"`
	}) (*struct{ Body FsActionResponse }, error) {
		base, err := s.fsBase(in.session())
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		p, err := s.Workspace.Delete(base, in.Path, in.Recursive)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &struct{ Body FsActionResponse }{Body: FsActionResponse{Path: p.Abs}}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "fs_mkdir", Method: http.MethodPost, Path: "/v1/fs/mkdir", Tags: []string{"fs"},
		Summary: "Create Directory", Description: "Creates a directory, including any missing parent directories; an existing directory is fine." + fsCommon,
		Errors: fsErrors,
	}, func(ctx context.Context, in *FsPathParam) (*struct{ Body FsActionResponse }, error) {
		base, err := s.fsBase(in.session())
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		p, err := s.Workspace.Mkdir(base, in.Path)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &struct{ Body FsActionResponse }{Body: FsActionResponse{Path: p.Abs}}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "fs_move", Method: http.MethodPost, Path: "/v1/fs/move", Tags: []string{"fs"},
		Summary: "Move Entry",
		Description: "Moves or renames a file or directory, creating the destination's parents. An existing destination " +
			"is an error (400) unless overwrite is true, which removes it first." + fsCommon,
		Errors: fsErrors,
	}, func(ctx context.Context, in *struct {
		FsSessionParam
		Body FsMoveRequest
	}) (*struct{ Body FsMoveResponse }, error) {
		base, err := s.fsBase(in.session())
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		from, to, err := s.Workspace.Move(base, in.Body.From, in.Body.To, in.Body.Overwrite != nil && *in.Body.Overwrite)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &struct{ Body FsMoveResponse }{Body: FsMoveResponse{From: from.Abs, To: to.Abs}}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "fs_stat", Method: http.MethodGet, Path: "/v1/fs/stat", Tags: []string{"fs"},
		Summary: "Get File Info", Description: "Returns metadata (size, modification time, type) for a path, following symlinks inside the root." + fsCommon,
		Errors: fsErrors,
	}, func(ctx context.Context, in *FsPathParam) (*struct{ Body FsStat }, error) {
		base, err := s.fsBase(in.session())
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		e, err := s.Workspace.Stat(base, in.Path)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &struct{ Body FsStat }{Body: FsStat{Path: e.Path, EntryType: FsEntryType(e.Type), Size: e.Size, Modified: modified(e.Modified)}}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "fs_upload_batch", Method: http.MethodPost, Path: "/v1/fs/upload-batch", Tags: []string{"fs"},
		Summary: "Upload Files",
		Description: "Extracts a tar archive into the destination directory (created if missing). Content-Type " +
			"application/x-tar as in the reference; additive: a gzip-compressed tar (application/gzip, or any accepted " +
			"type with gzip magic bytes). Entry names must be relative without `..`; symlinks must be relative and stay " +
			"inside the root; hard links must name an earlier entry; devices and fifos are refused (400, entries before " +
			"stay). Files are written atomically. Caps (413): `--fs-max-upload-entries` (default 10000) and " +
			"`--fs-max-upload` extracted bytes (default 1 GiB)." + fsCommon,
		RequestBody: binaryBody("A tar archive, optionally gzip-compressed", workspace.UploadContentTypes...),
		Errors:      append([]int{http.StatusRequestEntityTooLarge}, fsErrors...),
	}, func(ctx context.Context, in *struct {
		Path string `query:"path" default:"." doc:"Destination directory for extraction"`
		FsSessionParam
	}) (*struct{ Body FsUploadBatchResponse }, error) {
		req, err := rawRequest(ctx)
		if err != nil {
			return nil, err
		}
		base, err := s.fsBase(in.session())
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		res, err := s.Workspace.Upload(base, in.Path, req.Header.Get("Content-Type"), req.Body)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		if res.Paths == nil {
			res.Paths = []string{}
		}
		return &struct{ Body FsUploadBatchResponse }{Body: FsUploadBatchResponse{Paths: res.Paths, Truncated: res.Truncated}}, nil
	})
	s.registerFsAdditive(a)
}

func (s *server) registerFsAdditive(a huma.API) {
	huma.Register(a, huma.Operation{
		OperationID: "fs_archive", Method: http.MethodGet, Path: "/v1/fs/archive", Tags: []string{"fs"},
		Summary: "Download Directory",
		Description: "Additive. Streams a directory as a tar.gz (default) or zip archive, entries relative to the " +
			"directory: files, directories and symlinks (stored as links, never followed). Uploading the tar.gz with " +
			"fs_upload_batch restores it. Caps, checked before the first byte (413): `--fs-max-archive-entries` " +
			"(default 100000) and `--fs-max-archive` bytes of file content (default 4 GiB)." + fsCommon,
		Responses: binaryContent("The archive", "application/gzip", "application/zip"),
		Errors:    append([]int{http.StatusRequestEntityTooLarge}, fsErrors...),
	}, func(ctx context.Context, in *struct {
		Path   string        `query:"path" default:"." doc:"Directory to pack"`
		Format ArchiveFormat `query:"format" default:"tar.gz" doc:"tar.gz or zip"`
		FsSessionParam
	}) (*huma.StreamResponse, error) {
		base, err := s.fsBase(in.session())
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		arch, err := s.Workspace.PrepareArchive(base, in.Path, workspace.ArchiveFormat(in.Format))
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			defer arch.Close()
			_, w := humachi.Unwrap(hctx)
			w.Header().Set("Content-Type", arch.ContentType())
			w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": arch.Filename()}))
			w.WriteHeader(http.StatusOK)
			if _, err := arch.WriteTo(w); err != nil {
				s.Logger.Warn("archive download cut short", "dir", arch.Dir.Abs, "err", err)
				// Break the connection: the client must not take a cut
				// archive for a whole one.
				panic(http.ErrAbortHandler)
			}
		}}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "fs_watch", Method: http.MethodGet, Path: "/v1/fs/watch", Tags: []string{"fs"},
		Summary: "Watch Directory (SSE)",
		Description: "Additive. An SSE stream of changes below a directory, recursively: first a `ready` event once " +
			"the initial snapshot is taken, then one `change` event per created, modified or deleted path. Changes are " +
			"found by comparing snapshots every `--fs-watch-interval` (default 500ms), so a file created and removed " +
			"between two polls goes unseen. Watching is bounded (`--fs-max-watch-entries`, default 10000 entries; 413 " +
			"at the start, an `error` event later). If the directory is removed the stream sends its deletions, an " +
			"`error` event and ends. No resume: on reconnect, compare with a listing." + fsCommon,
		Responses: sseStreamResponses(a, "SSE stream of changes", map[string]any{"ready": FsWatchReady{}, "change": FsChange{}, "error": StreamError{}}),
		Errors:    append([]int{http.StatusRequestEntityTooLarge}, fsErrors...),
	}, func(ctx context.Context, in *struct {
		Path string `query:"path" default:"." doc:"Directory to watch"`
		FsSessionParam
	}) (*huma.StreamResponse, error) {
		base, err := s.fsBase(in.session())
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		w, err := s.Workspace.Watch(base, in.Path)
		if err != nil {
			return nil, s.sandboxProblem(ctx, err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			defer w.Close()
			s.watch(hctx, w)
		}}, nil
	})
}

func (s *server) watch(hctx huma.Context, w *workspace.Watch) {
	conn, ctx, ok := s.openSSE(hctx)
	if !ok {
		return
	}
	var id uint64
	send := func(event string, v any) error {
		id++
		return sendJSON(conn, strconv.FormatUint(id, 10), event, v)
	}
	if err := send("ready", FsWatchReady{Path: w.Dir.Abs, Entries: w.Entries()}); err != nil || conn.Flush() != nil {
		return
	}
	interval := s.Workspace.WatchInterval()
	poll := time.NewTimer(interval)
	defer poll.Stop()
	keepAlive := time.NewTimer(s.KeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case <-poll.C:
			changes, err := w.Poll()
			for _, c := range changes {
				if send("change", FsChange{Type: FsChangeType(c.Type), Path: c.Path, EntryType: FsEntryType(c.EntryType)}) != nil {
					return
				}
			}
			if err != nil {
				msg := err.Error()
				if e, ok := apierr.As(err); ok {
					msg = e.Detail
				}
				_ = send("error", StreamError{Message: msg})
				_ = conn.Flush()
				return
			}
			if len(changes) > 0 {
				if conn.Flush() != nil {
					return
				}
				keepAlive.Reset(s.KeepAlive)
			}
			poll.Reset(interval)
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

// openSSE upgrades a stream response to SSE with the no-buffering headers.
func (s *server) openSSE(hctx huma.Context) (*sse.Session, context.Context, bool) {
	r, w := humachi.Unwrap(hctx)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	conn, err := sse.Upgrade(w, r)
	if err != nil {
		s.Logger.Warn("sse upgrade", "err", err)
		return nil, nil, false
	}
	return conn, r.Context(), conn.Flush() == nil
}

// sendJSON sends one named SSE event (not flushed).
func sendJSON(conn *sse.Session, id, event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	msg := &sse.Message{Type: sse.Type(event)}
	if id != "" {
		msg.ID = sse.ID(id)
	}
	msg.AppendData(string(b))
	return conn.Send(msg)
}

func modified(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := workspace.FormatModified(t)
	return &s
}

// fsBase is the directory relative paths resolve against: the session's
// directory when a session is named, else the root.
func (s *server) fsBase(sessionID string) (string, error) {
	if s.Workspace == nil {
		return "", errors.New("the file-system API is not configured")
	}
	if sessionID == "" {
		return ".", nil
	}
	sess, err := s.Sessions.Get(sessionID)
	if err != nil {
		return "", err
	}
	dir := sess.Info().Directory
	if dir == nil || *dir == "" {
		return ".", nil
	}
	return s.Workspace.Base(*dir)
}

// rawRequest is the request whose body an operation streams itself.
func rawRequest(ctx context.Context) (*http.Request, error) {
	r, ok := ctx.Value(requestKey{}).(*http.Request)
	if !ok {
		return nil, fmt.Errorf("no request in context")
	}
	return r, nil
}

// sandboxProblem maps errors of the workspace, process and terminal
// services: caps are 413, unknown ids 404, state conflicts 409, the
// rest as every engine error.
func (s *server) sandboxProblem(ctx context.Context, err error) error {
	var status int
	switch {
	case errors.Is(err, workspace.ErrTooLarge):
		status = http.StatusRequestEntityTooLarge
	default:
		status = sandboxStatus(err)
	}
	if status != 0 {
		return frameworkProblem(status, err.Error())
	}
	return problem(ctx, s.Logger, err)
}
