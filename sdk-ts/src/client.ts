// The typed client: one method per v1 endpoint (on openapi-fetch), and
// resumable event streams parsed from fetch's ReadableStream.
//
// Browser-safe: this module and everything it imports use web-standard APIs
// only (fetch, ReadableStream, TextDecoder, AbortController, setTimeout).

import createClient from "openapi-fetch";
import type { Client } from "openapi-fetch";

import { AgentdError } from "./errors.js";
import { readSse, type SseMessage } from "./sse.js";
import type { paths } from "./generated/openapi.js";
import {
  TURN_PAUSE_EVENT_TYPES,
  type AgentInstallRequest,
  type AgentListResponse,
  type AgentModelsResponse,
  type AgentModesResponse,
  type DiffResponse,
  type SessionUsage,
  type BinaryBody,
  type BytesWrittenResponse,
  type FsActionResponse,
  type FsArchiveFormat,
  type FsDeleteQuery,
  type FsEntriesQuery,
  type FsEntry,
  type FsMoveRequest,
  type FsMoveResponse,
  type FsPathQuery,
  type FsSessionQuery,
  type FsStat,
  type FsUploadBatchQuery,
  type FsUploadBatchResponse,
  type FsWatchEvent,
  type FsWriteResponse,
  type InstallDone,
  type InstallProgress,
  type InstallStreamFrame,
  type OutputStream,
  type ProcessInfo,
  type ProcessListResponse,
  type ProcessOutputChunk,
  type ProcessOutputEvent,
  type ProcessOutputResponse,
  type ProcessStartRequest,
  type StreamErrorData,
  type TerminalCreateRequest,
  type TerminalInfo,
  type TerminalListResponse,
  type TerminalOutputChunk,
  type TerminalOutputEvent,
  type TerminalResizeRequest,
  type CreateSessionRequest,
  type CreateSessionResponse,
  type EventsResponse,
  type HealthResponse,
  type MessageRequest,
  type PermissionReply,
  type PermissionReplyRequest,
  type ProblemDetails,
  type QuestionReplyRequest,
  type SessionListResponse,
  type UniversalEvent,
} from "./types.js";

/** What `fetch` the client calls: the global one unless you pass your own. */
export type FetchLike = (input: Request) => Promise<Response>;

export interface ConnectOptions {
  /** Where agentd listens, e.g. `http://127.0.0.1:2468` (no `/v1`). */
  baseUrl: string;
  /** The daemon's `--token`; sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** A fetch implementation (tests, proxies, custom agents). Default: `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Extra headers for every request. */
  headers?: Record<string, string>;
}

/** Per-call options accepted by every method. */
export interface RequestOptions {
  signal?: AbortSignal;
}

/** How a stream reconnects after a dropped connection. */
export interface RetryOptions {
  /** Consecutive failed reconnects before giving up (the last error is thrown). Default 10. */
  maxAttempts?: number;
  /** First backoff delay. Default 200 ms; doubles per failure. */
  initialDelayMs?: number;
  /** Backoff cap. Default 5000 ms. */
  maxDelayMs?: number;
}

/** Options shared by `streamEvents` and `streamTurn`. */
export interface StreamOptions {
  /** Ask for each event's native payload in `raw`. */
  includeRaw?: boolean;
  /** Stops the stream: the iterator then throws the signal's reason (an AbortError). */
  signal?: AbortSignal;
  /** Reconnect policy; `false` turns automatic resumption off. */
  retry?: RetryOptions | false;
  /**
   * Treat a connection that delivers nothing — not even the daemon's 15 s
   * keep-alive comments — for this long as dropped, and resume. Default
   * 60 000 ms; 0 disables.
   */
  idleTimeoutMs?: number;
}

export interface StreamEventsOptions extends StreamOptions {
  /** Start after this sequence (exclusive). Default 0: the whole history. */
  offset?: number;
  /** Accepted for compatibility with `EventsQuery`; streams are never limited. */
  limit?: number;
}

export type StreamTurnOptions = StreamOptions;

export interface GetEventsOptions extends RequestOptions {
  /** Only events with a sequence greater than this. */
  offset?: number;
  /** At most this many events; `hasMore` says whether there are more. */
  limit?: number;
  includeRaw?: boolean;
}

export interface GetSessionDiffOptions extends RequestOptions {
  /** Include the unified diff. Default true; `false` asks for the file list only. */
  patch?: boolean;
}

export interface InstallAgentStreamOptions {
  /** Stops following the install (the daemon finishes it regardless): the iterator throws the signal's reason. */
  signal?: AbortSignal;
  /** Treat a stream silent this long (not even keep-alives) as dropped. Default 60 000 ms; 0 disables. */
  idleTimeoutMs?: number;
}

const DEFAULT_RETRY: Required<RetryOptions> = { maxAttempts: 10, initialDelayMs: 200, maxDelayMs: 5000 };
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/**
 * After a `session.ended` the daemon normally closes the stream at once. If
 * it has not within this long, reconnect: a session that really ended then
 * answers 204, one that goes on (an agent's non-final session.ended) resumes.
 * This guards against a daemon or proxy that keeps the stream open.
 */
const SESSION_END_PROBE_MS = 2_000;

type ApiResult = { data?: unknown; error?: unknown; response: Response };

/**
 * A client for one agentd daemon. Create it with `connect()` (a running
 * daemon) or, in Node, `start()` from `agentd-sdk/embedded`.
 *
 * Every method throws an `AgentdError` for an error response.
 */
export class AgentdClient {
  readonly baseUrl: string;
  readonly token?: string;
  /** The underlying openapi-fetch client, for anything this class does not wrap. */
  readonly api: Client<paths>;

  constructor(options: ConnectOptions) {
    if (!options || typeof options.baseUrl !== "string" || options.baseUrl.trim() === "") {
      throw new TypeError("connect: baseUrl is required (e.g. http://127.0.0.1:2468)");
    }
    this.baseUrl = options.baseUrl.trim().replace(/\/+$/, "");
    this.token = options.token;
    const userFetch = options.fetch;
    const fetchImpl: FetchLike = userFetch
      ? (req) => userFetch(req)
      : (req) => {
          if (typeof globalThis.fetch !== "function") {
            throw new TypeError("no global fetch: pass connect({ fetch })");
          }
          return globalThis.fetch(req);
        };
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers["Authorization"] = `Bearer ${options.token}`;
    this.api = createClient<paths>({ baseUrl: this.baseUrl, fetch: fetchImpl, headers });
  }

  // ---- meta and agents ----------------------------------------------------

  /** `GET /v1/health` (needs no token). */
  async health(options?: RequestOptions): Promise<HealthResponse> {
    return this.result(await this.api.GET("/v1/health", { signal: options?.signal }));
  }

  /** Alias of `health()`, the reference SDK's name. */
  getHealth(options?: RequestOptions): Promise<HealthResponse> {
    return this.health(options);
  }

  /** `GET /v1/agents`: every agent and whether it is installed. */
  async listAgents(options?: RequestOptions): Promise<AgentListResponse> {
    return this.result(await this.api.GET("/v1/agents", { signal: options?.signal }));
  }

  /** `POST /v1/agents/{agent}/install`. */
  async installAgent(agent: string, request: AgentInstallRequest = {}, options?: RequestOptions): Promise<void> {
    await this.result(
      await this.api.POST("/v1/agents/{agent}/install", {
        params: { path: { agent } },
        body: request,
        signal: options?.signal,
      }),
    );
  }

  /**
   * `POST /v1/agents/{agent}/install/stream` (agentd addition): the same install as
   * `installAgent`, followed as it goes: `progress` frames (phase, bytes downloaded of total),
   * then one `done` frame with the agent as now listed. A failed install throws the AgentdError
   * the plain install would (the stream's `error` frame). The stream is not resumable: a dropped
   * connection throws a StreamError, and `installAgent` or `listAgents` tells how it ended.
   */
  installAgentStream(
    agent: string,
    request: AgentInstallRequest = {},
    options: InstallAgentStreamOptions = {},
  ): AsyncGenerator<InstallStreamFrame, void, undefined> {
    return this.runStream<InstallStreamFrame, string>({
      signal: options.signal,
      retry: false,
      idleTimeoutMs: options.idleTimeoutMs,
      cursor: undefined,
      open: async (_cursor, signal) =>
        streamBody(
          await this.api.POST("/v1/agents/{agent}/install/stream", {
            params: { path: { agent } },
            body: request,
            headers: { Accept: "text/event-stream" },
            parseAs: "stream",
            signal,
          }),
        ),
      parse: parseInstallMessage,
      stopAfter: (frame) => frame.event === "done",
      endOnCleanClose: () => false,
      probeAfter: () => false,
    });
  }

  /** `GET /v1/agents/{agent}/modes`. */
  async getAgentModes(agent: string, options?: RequestOptions): Promise<AgentModesResponse> {
    return this.result(
      await this.api.GET("/v1/agents/{agent}/modes", { params: { path: { agent } }, signal: options?.signal }),
    );
  }

  /** `GET /v1/agents/{agent}/models`. */
  async getAgentModels(agent: string, options?: RequestOptions): Promise<AgentModelsResponse> {
    return this.result(
      await this.api.GET("/v1/agents/{agent}/models", { params: { path: { agent } }, signal: options?.signal }),
    );
  }

  // ---- sessions -------------------------------------------------------------

  /** `GET /v1/sessions`: every session, newest first. */
  async listSessions(options?: RequestOptions): Promise<SessionListResponse> {
    return this.result(await this.api.GET("/v1/sessions", { signal: options?.signal }));
  }

  /** `POST /v1/sessions/{sessionId}`: the id is yours to choose. */
  async createSession(sessionId: string, request: CreateSessionRequest, options?: RequestOptions): Promise<CreateSessionResponse> {
    return this.result(
      await this.api.POST("/v1/sessions/{session_id}", {
        params: { path: { session_id: sessionId } },
        body: request,
        signal: options?.signal,
      }),
    );
  }

  /** `POST /v1/sessions/{sessionId}/messages`: returns once the agent has the message. */
  async postMessage(sessionId: string, message: string | MessageRequest, options?: RequestOptions): Promise<void> {
    await this.result(
      await this.api.POST("/v1/sessions/{session_id}/messages", {
        params: { path: { session_id: sessionId } },
        body: toMessageRequest(message),
        signal: options?.signal,
      }),
    );
  }

  /** `POST /v1/sessions/{sessionId}/interrupt` (agentd addition): stops the running turn; the session stays open. */
  async interruptSession(sessionId: string, options?: RequestOptions): Promise<void> {
    await this.result(
      await this.api.POST("/v1/sessions/{session_id}/interrupt", {
        params: { path: { session_id: sessionId } },
        signal: options?.signal,
      }),
    );
  }

  /** `POST /v1/sessions/{sessionId}/terminate`: idempotent. */
  async terminateSession(sessionId: string, options?: RequestOptions): Promise<void> {
    await this.result(
      await this.api.POST("/v1/sessions/{session_id}/terminate", {
        params: { path: { session_id: sessionId } },
        signal: options?.signal,
      }),
    );
  }

  /** `GET /v1/sessions/{sessionId}/events`: a page of the stored log. */
  async getEvents(sessionId: string, query: GetEventsOptions = {}, options?: RequestOptions): Promise<EventsResponse> {
    const data = await this.result(
      await this.api.GET("/v1/sessions/{session_id}/events", {
        params: {
          path: { session_id: sessionId },
          query: {
            offset: query.offset,
            limit: query.limit,
            include_raw: query.includeRaw ? true : undefined,
          },
        },
        signal: options?.signal ?? query.signal,
      }),
    );
    return data as EventsResponse;
  }

  /**
   * `GET /v1/sessions/{sessionId}/diff` (agentd addition): what changed in the git work tree of
   * the session's directory since its last commit — the files with status and line counts, and
   * the unified diff unless `patch: false`. `repository` is false outside a work tree.
   */
  async getSessionDiff(sessionId: string, query: GetSessionDiffOptions = {}, options?: RequestOptions): Promise<DiffResponse> {
    return this.result(
      await this.api.GET("/v1/sessions/{session_id}/diff", {
        params: { path: { session_id: sessionId }, query: { patch: query.patch } },
        signal: options?.signal ?? query.signal,
      }),
    );
  }

  /**
   * `GET /v1/sessions/{sessionId}/usage` (agentd addition): the session's token usage per ended
   * turn and in total (plus the running turn when the model proxy counts it), where the counts
   * come from (`proxy` or `agent`), and how it stands against its budgets.
   */
  async getSessionUsage(sessionId: string, options?: RequestOptions): Promise<SessionUsage> {
    return this.result(
      await this.api.GET("/v1/sessions/{session_id}/usage", {
        params: { path: { session_id: sessionId } },
        signal: options?.signal,
      }),
    );
  }

  /** `POST /v1/sessions/{sessionId}/permissions/{permissionId}/reply`. */
  async replyPermission(
    sessionId: string,
    permissionId: string,
    reply: PermissionReplyRequest | PermissionReply,
    options?: RequestOptions,
  ): Promise<void> {
    await this.result(
      await this.api.POST("/v1/sessions/{session_id}/permissions/{permission_id}/reply", {
        params: { path: { session_id: sessionId, permission_id: permissionId } },
        body: typeof reply === "string" ? { reply } : reply,
        signal: options?.signal,
      }),
    );
  }

  /** `POST /v1/sessions/{sessionId}/questions/{questionId}/reply`: one list of chosen labels per question. */
  async replyQuestion(
    sessionId: string,
    questionId: string,
    request: QuestionReplyRequest,
    options?: RequestOptions,
  ): Promise<void> {
    await this.result(
      await this.api.POST("/v1/sessions/{session_id}/questions/{question_id}/reply", {
        params: { path: { session_id: sessionId, question_id: questionId } },
        body: request,
        signal: options?.signal,
      }),
    );
  }

  /** `POST /v1/sessions/{sessionId}/questions/{questionId}/reject`. */
  async rejectQuestion(sessionId: string, questionId: string, options?: RequestOptions): Promise<void> {
    await this.result(
      await this.api.POST("/v1/sessions/{session_id}/questions/{question_id}/reject", {
        params: { path: { session_id: sessionId, question_id: questionId } },
        signal: options?.signal,
      }),
    );
  }

  // ---- files ----------------------------------------------------------------
  // Paths are absolute (inside the daemon's --fs-root) or relative: to the
  // session's directory with `sessionId`, else to the root.

  /** `GET /v1/fs/entries`: a directory's entries, sorted by name. */
  async listFsEntries(query: FsEntriesQuery = {}, options?: RequestOptions): Promise<FsEntry[]> {
    return this.result(await this.api.GET("/v1/fs/entries", { params: { query }, signal: options?.signal })) ?? [];
  }

  /** `GET /v1/fs/file`: the file's bytes. */
  async readFsFile(query: FsPathQuery, options?: RequestOptions): Promise<Uint8Array> {
    const data = this.result(
      await this.api.GET("/v1/fs/file", { params: { query }, parseAs: "arrayBuffer", signal: options?.signal }),
    );
    return new Uint8Array(data as unknown as ArrayBuffer);
  }

  /** `PUT /v1/fs/file`: writes the bytes (creating parent directories); the file is replaced only once all arrived. */
  async writeFsFile(query: FsPathQuery, body: BinaryBody, options?: RequestOptions): Promise<FsWriteResponse> {
    return this.result(
      await this.api.PUT("/v1/fs/file", { params: { query }, ...rawBody(body, "application/octet-stream"), signal: options?.signal }),
    );
  }

  /** `DELETE /v1/fs/entry`: a file, a symlink or an empty directory; `recursive: true` for a tree. */
  async deleteFsEntry(query: FsDeleteQuery, options?: RequestOptions): Promise<FsActionResponse> {
    return this.result(await this.api.DELETE("/v1/fs/entry", { params: { query }, signal: options?.signal }));
  }

  /** `POST /v1/fs/mkdir`: creates the directory and its missing parents. */
  async mkdirFs(query: FsPathQuery, options?: RequestOptions): Promise<FsActionResponse> {
    return this.result(await this.api.POST("/v1/fs/mkdir", { params: { query }, signal: options?.signal }));
  }

  /** `POST /v1/fs/move`: an existing destination needs `overwrite: true`. */
  async moveFs(request: FsMoveRequest, query: FsSessionQuery = {}, options?: RequestOptions): Promise<FsMoveResponse> {
    return this.result(await this.api.POST("/v1/fs/move", { params: { query }, body: request, signal: options?.signal }));
  }

  /** `GET /v1/fs/stat` (follows symlinks inside the root). */
  async statFs(query: FsPathQuery, options?: RequestOptions): Promise<FsStat> {
    return this.result(await this.api.GET("/v1/fs/stat", { params: { query }, signal: options?.signal }));
  }

  /** `POST /v1/fs/upload-batch`: extracts a tar archive (plain or gzip-compressed) into `path`. */
  async uploadFsBatch(body: BinaryBody, query: FsUploadBatchQuery = {}, options?: RequestOptions): Promise<FsUploadBatchResponse> {
    return this.result(
      await this.api.POST("/v1/fs/upload-batch", { params: { query }, ...rawBody(body, "application/x-tar"), signal: options?.signal }),
    );
  }

  /**
   * `GET /v1/fs/archive` (agentd addition): the directory as a tar.gz (default) or zip, as a
   * Response whose body streams the archive.
   */
  async archiveFs(
    query: { path?: string; format?: FsArchiveFormat; sessionId?: string } = {},
    options?: RequestOptions,
  ): Promise<Response> {
    const { error, response } = await this.api.GET("/v1/fs/archive", { params: { query }, parseAs: "stream", signal: options?.signal });
    if (!response.ok) throw AgentdError.fromResponse(response, error);
    return response;
  }

  /**
   * `GET /v1/fs/watch` (agentd addition): `ready` once the daemon took its snapshot, then one
   * `change` per created, modified or deleted path below the directory, until `signal` aborts. The
   * stream cannot be resumed: if it ends (the directory was removed, the daemon stopped) the
   * iterator throws; list the directory again to catch up.
   */
  watchFs(
    query: { path?: string; sessionId?: string } = {},
    options: { signal?: AbortSignal; idleTimeoutMs?: number } = {},
  ): AsyncGenerator<FsWatchEvent, void, undefined> {
    return this.runStream<FsWatchEvent, string>({
      signal: options.signal,
      retry: false,
      idleTimeoutMs: options.idleTimeoutMs,
      cursor: undefined,
      open: async (_cursor, signal) =>
        streamBody(
          await this.api.GET("/v1/fs/watch", {
            params: { query },
            headers: { Accept: "text/event-stream" },
            parseAs: "stream",
            signal,
          }),
        ),
      parse: (msg) => {
        if (msg.event === "error") throw streamFailure(msg);
        if (msg.event !== "ready" && msg.event !== "change") return undefined;
        return { item: { event: msg.event, data: parseJSON(msg.data) } as FsWatchEvent, cursor: msg.id };
      },
      stopAfter: () => false,
      endOnCleanClose: () => false,
      probeAfter: () => false,
    });
  }

  // ---- processes (agentd addition) -----------------------------------------

  /** `POST /v1/processes`: starts `argv` in a process group of its own and returns at once. */
  async startProcess(request: ProcessStartRequest, options?: RequestOptions): Promise<ProcessInfo> {
    return this.result(await this.api.POST("/v1/processes", { body: request, signal: options?.signal }));
  }

  /** `GET /v1/processes`: running processes and the exited ones still kept, newest first. */
  async listProcesses(options?: RequestOptions): Promise<ProcessListResponse> {
    return this.result(await this.api.GET("/v1/processes", { signal: options?.signal }));
  }

  /** `GET /v1/processes/{id}`. */
  async getProcess(processId: string, options?: RequestOptions): Promise<ProcessInfo> {
    return this.result(
      await this.api.GET("/v1/processes/{process_id}", { params: { path: { process_id: processId } }, signal: options?.signal }),
    );
  }

  /** `DELETE /v1/processes/{id}`: kills it if it runs, then forgets it and its logs. */
  async deleteProcess(processId: string, options?: RequestOptions): Promise<ProcessInfo> {
    return this.result(
      await this.api.DELETE("/v1/processes/{process_id}", { params: { path: { process_id: processId } }, signal: options?.signal }),
    );
  }

  /** `POST /v1/processes/{id}/kill`: SIGTERM to the group, SIGKILL after a grace period; returns the final state. */
  async killProcess(processId: string, options?: RequestOptions): Promise<ProcessInfo> {
    return this.result(
      await this.api.POST("/v1/processes/{process_id}/kill", { params: { path: { process_id: processId } }, signal: options?.signal }),
    );
  }

  /** `POST /v1/processes/{id}/signal`: `"SIGINT"`, `"INT"` or a number, to the whole group. */
  async signalProcess(processId: string, signal: string, options?: RequestOptions): Promise<ProcessInfo> {
    return this.result(
      await this.api.POST("/v1/processes/{process_id}/signal", {
        params: { path: { process_id: processId } },
        body: { signal },
        signal: options?.signal,
      }),
    );
  }

  /** `POST /v1/processes/{id}/stdin`: needs `stdin: true` at start; `close: true` closes stdin afterwards. */
  async writeProcessStdin(
    processId: string,
    data: BinaryBody,
    query: { close?: boolean } = {},
    options?: RequestOptions,
  ): Promise<BytesWrittenResponse> {
    return this.result(
      await this.api.POST("/v1/processes/{process_id}/stdin", {
        params: { path: { process_id: processId }, query },
        ...rawBody(data, "application/octet-stream"),
        signal: options?.signal,
      }),
    );
  }

  /** `GET /v1/processes/{id}/output`: the newest output kept in memory; `encoding: "base64"` is exact. */
  async getProcessOutput(
    processId: string,
    query: { encoding?: "utf8" | "base64" } = {},
    options?: RequestOptions,
  ): Promise<ProcessOutputResponse> {
    return this.result(
      await this.api.GET("/v1/processes/{process_id}/output", {
        params: { path: { process_id: processId }, query },
        signal: options?.signal,
      }),
    );
  }

  /** `GET /v1/processes/{id}/logs/{stream}`: the whole of one stream, byte for byte. */
  async getProcessLog(processId: string, stream: OutputStream, options?: RequestOptions): Promise<Uint8Array> {
    const data = this.result(
      await this.api.GET("/v1/processes/{process_id}/logs/{stream}", {
        params: { path: { process_id: processId, stream } },
        parseAs: "arrayBuffer",
        signal: options?.signal,
      }),
    );
    return new Uint8Array(data as unknown as ArrayBuffer);
  }

  /**
   * `GET /v1/processes/{id}/output/sse`: the output from the start (or after chunk `after`), then
   * live, each chunk's bytes decoded; the last item is the `exit`. A dropped connection resumes
   * with `Last-Event-ID`, so every chunk arrives once, in order.
   */
  followProcessOutput(
    processId: string,
    options: StreamOptions & { after?: number } = {},
  ): AsyncGenerator<ProcessOutputEvent, void, undefined> {
    return this.runStream<ProcessOutputEvent, string>({
      ...followOptions(options),
      open: async (cursor, signal) =>
        streamBody(
          await this.api.GET("/v1/processes/{process_id}/output/sse", {
            params: {
              path: { process_id: processId },
              query: { after: options.after },
              header: cursor !== undefined ? { "Last-Event-ID": cursor } : undefined,
            },
            headers: { Accept: "text/event-stream" },
            parseAs: "stream",
            signal,
          }),
        ),
      parse: (msg) => {
        if (msg.event === "output") {
          const c = parseJSON<ProcessOutputChunk>(msg.data);
          return { item: { event: "output", seq: c.seq, stream: c.stream, offset: c.offset, data: fromBase64(c.data) }, cursor: msg.id };
        }
        if (msg.event === "exit") return { item: { event: "exit", process: parseJSON<ProcessInfo>(msg.data) }, cursor: msg.id };
        if (msg.event === "error") throw streamFailure(msg);
        return undefined;
      },
    });
  }

  // ---- terminals (agentd addition) ------------------------------------------

  /** `POST /v1/terminals`: a program (default: the daemon user's shell) on a new pseudo-terminal. */
  async createTerminal(request: TerminalCreateRequest = {}, options?: RequestOptions): Promise<TerminalInfo> {
    return this.result(await this.api.POST("/v1/terminals", { body: request, signal: options?.signal }));
  }

  /** `GET /v1/terminals`. */
  async listTerminals(options?: RequestOptions): Promise<TerminalListResponse> {
    return this.result(await this.api.GET("/v1/terminals", { signal: options?.signal }));
  }

  /** `GET /v1/terminals/{id}`. */
  async getTerminal(terminalId: string, options?: RequestOptions): Promise<TerminalInfo> {
    return this.result(
      await this.api.GET("/v1/terminals/{terminal_id}", { params: { path: { terminal_id: terminalId } }, signal: options?.signal }),
    );
  }

  /** `DELETE /v1/terminals/{id}`: hangs up, ends every process of the terminal's session, returns the final state. */
  async closeTerminal(terminalId: string, options?: RequestOptions): Promise<TerminalInfo> {
    return this.result(
      await this.api.DELETE("/v1/terminals/{terminal_id}", { params: { path: { terminal_id: terminalId } }, signal: options?.signal }),
    );
  }

  /** `POST /v1/terminals/{id}/resize`. */
  async resizeTerminal(terminalId: string, size: TerminalResizeRequest, options?: RequestOptions): Promise<TerminalInfo> {
    return this.result(
      await this.api.POST("/v1/terminals/{terminal_id}/resize", {
        params: { path: { terminal_id: terminalId } },
        body: size,
        signal: options?.signal,
      }),
    );
  }

  /** `POST /v1/terminals/{id}/input`: keystrokes, as if typed (at most 1 MiB). */
  async writeTerminalInput(terminalId: string, data: BinaryBody, options?: RequestOptions): Promise<BytesWrittenResponse> {
    return this.result(
      await this.api.POST("/v1/terminals/{terminal_id}/input", {
        params: { path: { terminal_id: terminalId } },
        ...rawBody(data, "application/octet-stream"),
        signal: options?.signal,
      }),
    );
  }

  /**
   * `GET /v1/terminals/{id}/output/sse`: the output from the oldest byte the daemon holds (or
   * from byte `offset`), then live; the last item is the `exit`. A dropped connection resumes
   * with `Last-Event-ID` (the byte offset reached).
   */
  followTerminalOutput(
    terminalId: string,
    options: StreamOptions & { offset?: number } = {},
  ): AsyncGenerator<TerminalOutputEvent, void, undefined> {
    return this.runStream<TerminalOutputEvent, string>({
      ...followOptions(options),
      open: async (cursor, signal) =>
        streamBody(
          await this.api.GET("/v1/terminals/{terminal_id}/output/sse", {
            params: {
              path: { terminal_id: terminalId },
              query: { offset: options.offset },
              header: cursor !== undefined ? { "Last-Event-ID": cursor } : undefined,
            },
            headers: { Accept: "text/event-stream" },
            parseAs: "stream",
            signal,
          }),
        ),
      parse: (msg) => {
        if (msg.event === "output") {
          const c = parseJSON<TerminalOutputChunk>(msg.data);
          return { item: { event: "output", offset: c.offset, data: fromBase64(c.data), skipped: c.skipped ?? 0 }, cursor: msg.id };
        }
        if (msg.event === "exit") return { item: { event: "exit", terminal: parseJSON<TerminalInfo>(msg.data) }, cursor: msg.id };
        if (msg.event === "error") throw streamFailure(msg);
        return undefined;
      },
    });
  }

  // ---- streams --------------------------------------------------------------

  /**
   * The session's events as they are recorded: every stored event after
   * `offset`, then live ones. After a dropped connection it reconnects with
   * `Last-Event-ID` (bounded exponential backoff), so the consumer sees each
   * event exactly once, in order. The iterator finishes when the daemon ends
   * the stream after the session's last event (or answers 204 because the
   * session already ended); `signal` stops it early.
   *
   * The third argument is the reference SDK's signature (`query, signal`).
   */
  streamEvents(sessionId: string, options: StreamEventsOptions = {}, signal?: AbortSignal): AsyncGenerator<UniversalEvent, void, undefined> {
    const includeRaw = options.includeRaw === true;
    return this.runStream({
      signal: signal ?? options.signal,
      retry: options.retry,
      idleTimeoutMs: options.idleTimeoutMs,
      cursor: options.offset,
      open: (cursor, sig) => this.openEventStream(sessionId, cursor, includeRaw, sig),
      parse: parseEventMessage,
      stopAfter: () => false,
      endOnCleanClose: (last) => last?.type === "session.ended",
      probeAfter: (ev) => ev.type === "session.ended",
    });
  }

  /**
   * Sends a message and streams the session's events from then on, up to
   * and including the first `turn.ended`, `session.ended`, `error`,
   * `agent.unparsed`, `permission.requested` or `question.requested`.
   *
   * The message is sent exactly once (`POST …/messages/stream`). If the
   * connection drops after the first event, the rest is read from the event
   * log (`GET …/events/sse` with `Last-Event-ID`), so nothing is missed.
   */
  streamTurn(
    sessionId: string,
    message: string | MessageRequest,
    options: StreamTurnOptions = {},
    signal?: AbortSignal,
  ): AsyncGenerator<UniversalEvent, void, undefined> {
    const includeRaw = options.includeRaw === true;
    const request = toMessageRequest(message);
    let sent = false;
    return this.runStream({
      signal: signal ?? options.signal,
      retry: options.retry,
      idleTimeoutMs: options.idleTimeoutMs,
      cursor: undefined,
      open: (cursor, sig) => {
        if (!sent) {
          sent = true;
          return this.openTurnStream(sessionId, request, includeRaw, sig);
        }
        if (cursor === undefined) {
          // Dropped before the first event: we cannot know where the turn
          // began, and re-sending could run it twice.
          throw new StreamError("the turn stream dropped before its first event (the message was sent)", false);
        }
        return this.openEventStream(sessionId, cursor, includeRaw, sig);
      },
      parse: parseEventMessage,
      stopAfter: (ev) => TURN_PAUSE_EVENT_TYPES.has(ev.type),
      endOnCleanClose: () => false,
      probeAfter: () => false,
    });
  }

  /**
   * `GET …/events/sse` as a raw Response (`text/event-stream`), for callers
   * that parse SSE themselves. Throws AgentdError for an error status.
   */
  async getEventsSse(
    sessionId: string,
    query: { offset?: number; includeRaw?: boolean; lastEventId?: string } = {},
    signal?: AbortSignal,
  ): Promise<Response> {
    const { error, response } = await this.api.GET("/v1/sessions/{session_id}/events/sse", {
      params: {
        path: { session_id: sessionId },
        query: { offset: query.offset, include_raw: query.includeRaw ? true : undefined },
        header: query.lastEventId !== undefined ? { "Last-Event-ID": query.lastEventId } : undefined,
      },
      headers: { Accept: "text/event-stream" },
      parseAs: "stream",
      signal,
    });
    if (!response.ok) throw AgentdError.fromResponse(response, error);
    return response;
  }

  /** `POST …/messages/stream` as a raw Response (`text/event-stream`). */
  async postMessageStream(
    sessionId: string,
    message: string | MessageRequest,
    query: { includeRaw?: boolean } = {},
    signal?: AbortSignal,
  ): Promise<Response> {
    const { error, response } = await this.api.POST("/v1/sessions/{session_id}/messages/stream", {
      params: { path: { session_id: sessionId }, query: { include_raw: query.includeRaw ? true : undefined } },
      body: toMessageRequest(message),
      headers: { Accept: "text/event-stream" },
      parseAs: "stream",
      signal,
    });
    if (!response.ok) throw AgentdError.fromResponse(response, error);
    return response;
  }

  /** Releases the client. Connected clients hold nothing; embedded ones stop their daemon. */
  async dispose(): Promise<void> {}

  // ---- internals ------------------------------------------------------------

  private result<T>(r: { data?: T; error?: unknown; response: Response }): T {
    if (!r.response.ok) throw AgentdError.fromResponse(r.response, r.error);
    return r.data as T;
  }

  /** Opens the events stream after `cursor`; null when the daemon says there is nothing more (204). */
  private async openEventStream(
    sessionId: string,
    cursor: number | undefined,
    includeRaw: boolean,
    signal: AbortSignal,
  ): Promise<ReadableStream<Uint8Array> | null> {
    const r: ApiResult = await this.api.GET("/v1/sessions/{session_id}/events/sse", {
      params: {
        path: { session_id: sessionId },
        // Last-Event-ID is the resume point; offset says the same for
        // anything between us and the daemon that drops unknown headers.
        query: { offset: cursor, include_raw: includeRaw ? true : undefined },
        header: cursor !== undefined ? { "Last-Event-ID": String(cursor) } : undefined,
      },
      headers: { Accept: "text/event-stream" },
      parseAs: "stream",
      signal,
    });
    return streamBody(r);
  }

  private async openTurnStream(
    sessionId: string,
    request: MessageRequest,
    includeRaw: boolean,
    signal: AbortSignal,
  ): Promise<ReadableStream<Uint8Array> | null> {
    const r: ApiResult = await this.api.POST("/v1/sessions/{session_id}/messages/stream", {
      params: { path: { session_id: sessionId }, query: { include_raw: includeRaw ? true : undefined } },
      body: request,
      headers: { Accept: "text/event-stream" },
      parseAs: "stream",
      signal,
    });
    return streamBody(r);
  }

  private async *runStream<T, C>(s: StreamSpec<T, C>): AsyncGenerator<T, void, undefined> {
    const userSignal = s.signal;
    const retry = s.retry === false ? { ...DEFAULT_RETRY, maxAttempts: 0 } : { ...DEFAULT_RETRY, ...s.retry };
    const idleMs = s.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    let cursor = s.cursor;
    let last: T | undefined;
    let connectedOnce = false;
    let failures = 0;

    for (;;) {
      throwIfAborted(userSignal);
      const conn = new AbortController();
      const unlink = linkSignal(userSignal, conn);
      let idleTimer: ReturnType<typeof setTimeout> | undefined;
      let probeTimer: ReturnType<typeof setTimeout> | undefined;
      const disarmIdle = () => {
        if (idleTimer !== undefined) clearTimeout(idleTimer);
        idleTimer = undefined;
      };
      const disarmProbe = () => {
        if (probeTimer !== undefined) clearTimeout(probeTimer);
        probeTimer = undefined;
      };
      const armIdle = () => {
        if (idleMs <= 0) return;
        disarmIdle();
        idleTimer = setTimeout(() => conn.abort(new StreamError(`no data for ${idleMs} ms`)), idleMs);
      };
      let dropped: unknown;
      try {
        let opened = false;
        let body: ReadableStream<Uint8Array> | null = null;
        try {
          body = await s.open(cursor, conn.signal);
          opened = true;
        } catch (err) {
          throwIfAborted(userSignal);
          // Before the first successful connection there is nothing to resume:
          // report the failure (daemon unreachable, 404, 401 …) straight away.
          if (!connectedOnce || !isTransient(err)) throw err;
          dropped = err;
        }
        if (opened) {
          connectedOnce = true;
          if (body === null) return; // 204: the session ended and we have all of it
          try {
            armIdle();
            for await (const msg of readSse(body, { onChunk: armIdle, signal: conn.signal })) {
              const parsed = s.parse(msg);
              if (parsed === undefined) continue;
              const ev = parsed.item;
              cursor = parsed.cursor;
              last = ev;
              failures = 0;
              disarmProbe();
              // A slow consumer is not a silent connection: no idle timer while it holds the event.
              disarmIdle();
              yield ev;
              if (s.stopAfter(ev)) return;
              armIdle();
              if (s.probeAfter(ev)) {
                probeTimer = setTimeout(
                  () => conn.abort(new StreamError("the stream stayed open after session.ended; reconnecting to check")),
                  SESSION_END_PROBE_MS,
                );
              }
            }
            if (s.endOnCleanClose(last)) return;
            dropped = new StreamError("the daemon closed the stream");
          } catch (err) {
            throwIfAborted(userSignal);
            if (!isTransient(err)) throw err;
            dropped = err;
          }
        }
      } finally {
        disarmIdle();
        disarmProbe();
        unlink();
        conn.abort();
      }
      // The connection dropped: back off, then resume after `cursor`.
      failures++;
      if (failures > retry.maxAttempts) throw dropped;
      const delay = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (failures - 1));
      await sleep(delay * (0.75 + Math.random() * 0.25), userSignal);
    }
  }
}

/** A resumable stream of items of type T, resumed after a cursor of type C. */
interface StreamSpec<T, C> {
  signal?: AbortSignal;
  retry?: RetryOptions | false;
  idleTimeoutMs?: number;
  cursor: C | undefined;
  open: (cursor: C | undefined, signal: AbortSignal) => Promise<ReadableStream<Uint8Array> | null>;
  /** The item a message carries and the cursor to resume after it; undefined skips the message. */
  parse: (msg: SseMessage) => { item: T; cursor: C } | undefined;
  /** Return after yielding this item. */
  stopAfter: (item: T) => boolean;
  /** Whether the daemon closing the stream (no error) after `last` is the end. */
  endOnCleanClose: (last: T | undefined) => boolean;
  /** Reconnect if nothing follows this item within SESSION_END_PROBE_MS. */
  probeAfter: (item: T) => boolean;
}

/** A stream-level failure: closed early, idle too long, or impossible to resume. */
export class StreamError extends Error {
  /** Whether reconnecting can help. */
  readonly retryable: boolean;
  constructor(message: string, retryable = true) {
    super(message);
    this.name = "StreamError";
    this.retryable = retryable;
  }
}

/** A frame whose data is not a JSON event: a protocol error, never retried. */
export class EventParseError extends Error {
  readonly data: string;
  constructor(data: string, cause: unknown) {
    super(`agentd sent an SSE frame that is not a JSON event: ${data.slice(0, 200)}`, { cause });
    this.name = "EventParseError";
    this.data = data;
  }
}

/** Connects to a running agentd daemon. */
export function connect(options: ConnectOptions): AgentdClient {
  return new AgentdClient(options);
}

/** The shared part of the output followers' stream specs: they end at their `exit` item. */
function followOptions<T extends { event: string }>(
  options: StreamOptions,
): Pick<StreamSpec<T, string>, "signal" | "retry" | "idleTimeoutMs" | "cursor" | "stopAfter" | "endOnCleanClose" | "probeAfter"> {
  return {
    signal: options.signal,
    retry: options.retry,
    idleTimeoutMs: options.idleTimeoutMs,
    cursor: undefined,
    stopAfter: (item) => item.event === "exit",
    endOnCleanClose: () => false,
    probeAfter: () => false,
  };
}

/**
 * The request options of a raw-bytes body. openapi-fetch would JSON-encode
 * it; the generated types call binary bodies strings. A stream body needs
 * `duplex: "half"` in Node's fetch.
 */
function rawBody(body: BinaryBody, contentType: string): { body: string; bodySerializer: (b: unknown) => string; headers: Record<string, string> } {
  const init = {
    body: body as unknown as string,
    bodySerializer: (b: unknown) => b as string,
    headers: { "Content-Type": contentType },
  };
  if (typeof ReadableStream !== "undefined" && body instanceof ReadableStream) Object.assign(init, { duplex: "half" });
  return init;
}

function parseJSON<T>(data: string): T {
  try {
    return JSON.parse(data) as T;
  } catch (err) {
    throw new EventParseError(data, err);
  }
}

/** The daemon's `error` frame: the stream cannot go on, and reconnecting will not help. */
function streamFailure(msg: SseMessage): StreamError {
  const { message } = parseJSON<StreamErrorData>(msg.data);
  return new StreamError(`the daemon ended the stream: ${message}`, false);
}

/** Decodes base64 with web APIs only (atob), so the module stays browser-safe. */
function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function toMessageRequest(message: string | MessageRequest): MessageRequest {
  return typeof message === "string" ? { message } : message;
}

function streamBody(r: ApiResult): ReadableStream<Uint8Array> | null {
  if (!r.response.ok) throw AgentdError.fromResponse(r.response, r.error);
  if (r.response.status === 204 || r.data == null) return null;
  return r.data as ReadableStream<Uint8Array>;
}

/** An install stream frame; the `error` frame is the problem the plain install would answer. */
function parseInstallMessage(msg: SseMessage): { item: InstallStreamFrame; cursor: string } | undefined {
  switch (msg.event) {
    case "progress":
      return { item: { event: "progress", data: parseJSON<InstallProgress>(msg.data) }, cursor: msg.id };
    case "done":
      return { item: { event: "done", data: parseJSON<InstallDone>(msg.data) }, cursor: msg.id };
    case "error":
      throw new AgentdError(parseJSON<ProblemDetails>(msg.data));
    default:
      return undefined;
  }
}

/** A universal event frame (unnamed SSE messages); its id is the sequence. */
function parseEventMessage(msg: SseMessage): { item: UniversalEvent; cursor: number } | undefined {
  if (msg.event !== "message") return undefined;
  const ev = parseEvent(msg.data);
  return { item: ev, cursor: msg.hasId && /^\d+$/.test(msg.id) ? Number(msg.id) : ev.sequence };
}

function parseEvent(data: string): UniversalEvent {
  try {
    return JSON.parse(data) as UniversalEvent;
  } catch (err) {
    throw new EventParseError(data, err);
  }
}

/** Worth a reconnect: network failures, dropped bodies, gateway errors. */
function isTransient(err: unknown): boolean {
  if (err instanceof AgentdError) return err.status === 502 || err.status === 503 || err.status === 504;
  if (err instanceof StreamError) return err.retryable;
  return !(err instanceof EventParseError);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/** Aborts `target` when `source` aborts; returns the unlink function. */
function linkSignal(source: AbortSignal | undefined, target: AbortController): () => void {
  if (!source) return () => {};
  if (source.aborted) {
    target.abort(abortReason(source));
    return () => {};
  }
  const onAbort = () => target.abort(abortReason(source));
  source.addEventListener("abort", onAbort, { once: true });
  return () => source.removeEventListener("abort", onAbort);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
