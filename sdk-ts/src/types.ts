// Friendly names for the schemas in the generated OpenAPI types, plus a
// UniversalEvent that TypeScript can narrow on `type`.
//
// The OpenAPI document describes an event's `data` as an untagged anyOf of
// nine shapes (the shape is decided by the envelope's `type`), so the
// generated `UniversalEvent` cannot be narrowed. `EventDataByType` below maps
// each event type to its payload; the `satisfies` check makes the build fail
// if the document gains an event type this table does not cover.

import type { components, paths } from "./generated/openapi.js";

type Schemas = components["schemas"];

export type { components, paths };

export type AgentCapabilities = Schemas["AgentCapabilities"];
export type AgentError = Schemas["AgentError"];
export type AgentInfo = Schemas["AgentInfo"];
export type AgentInstallRequest = Schemas["AgentInstallRequest"];
export type AgentListResponse = Schemas["AgentListResponse"];
export type AgentModeInfo = Schemas["AgentModeInfo"];
export type AgentModelInfo = Schemas["AgentModelInfo"];
export type AgentModelsResponse = Schemas["AgentModelsResponse"];
export type AgentModesResponse = Schemas["AgentModesResponse"];
export type AgentUnparsedData = Schemas["AgentUnparsedData"];
export type ContentPart = Schemas["ContentPart"];
export type CreateSessionRequest = Schemas["CreateSessionRequest"];
export type CreateSessionResponse = Schemas["CreateSessionResponse"];
export type ChangedFile = Schemas["ChangedFile"];
export type DiffResponse = Schemas["DiffResponse"];
export type SessionUsage = Schemas["SessionUsage"];
export type Usage = Schemas["Usage"];
export type Budget = Schemas["Budget"];
export type ErrorData = Schemas["ErrorData"];
export type ErrorDetail = Schemas["ErrorDetail"];
export type ErrorType = Schemas["ErrorType"];
export type EventSource = Schemas["EventSource"];
export type EventsQuery = Schemas["EventsQuery"];
export type FileAction = Schemas["FileAction"];
export type HealthResponse = Schemas["HealthResponse"];
export type InstallDone = Schemas["InstallDone"];
export type InstallProgress = Schemas["InstallProgress"];
export type ItemDeltaData = Schemas["ItemDeltaData"];
export type ItemEventData = Schemas["ItemEventData"];
export type ItemKind = Schemas["ItemKind"];
export type ItemRole = Schemas["ItemRole"];
export type ItemStatus = Schemas["ItemStatus"];
export type McpCommand = Schemas["McpCommand"];
export type McpOAuthConfig = Schemas["McpOAuthConfig"];
export type McpOAuthConfigOrDisabled = Schemas["McpOAuthConfigOrDisabled"];
export type McpRemoteTransport = Schemas["McpRemoteTransport"];
export type McpServerConfig = Schemas["McpServerConfig"];
export type MessageAttachment = Schemas["MessageAttachment"];
export type MessageRequest = Schemas["MessageRequest"];
export type NetworkConnectionData = Schemas["NetworkConnectionData"];
export type NetworkPolicy = Schemas["NetworkPolicy"];
export type PermissionEventData = Schemas["PermissionEventData"];
export type PermissionReply = Schemas["PermissionReply"];
export type PermissionReplyRequest = Schemas["PermissionReplyRequest"];
export type PermissionStatus = Schemas["PermissionStatus"];
export type ProblemDetails = Schemas["ProblemDetails"];
export type QuestionEventData = Schemas["QuestionEventData"];
export type QuestionReplyRequest = Schemas["QuestionReplyRequest"];
export type QuestionStatus = Schemas["QuestionStatus"];
export type ReasoningVisibility = Schemas["ReasoningVisibility"];
export type ServerStatus = Schemas["ServerStatus"];
export type ServerStatusInfo = Schemas["ServerStatusInfo"];
export type SessionEndReason = Schemas["SessionEndReason"];
export type SessionEndedData = Schemas["SessionEndedData"];
export type SessionInfo = Schemas["SessionInfo"];
export type SessionListResponse = Schemas["SessionListResponse"];
export type SessionStartedData = Schemas["SessionStartedData"];
export type SkillSource = Schemas["SkillSource"];
export type SkillsConfig = Schemas["SkillsConfig"];
export type StderrOutput = Schemas["StderrOutput"];
export type TerminatedBy = Schemas["TerminatedBy"];
export type TurnEventData = Schemas["TurnEventData"];
export type TurnPhase = Schemas["TurnPhase"];
export type TurnStreamQuery = Schemas["TurnStreamQuery"];
export type UniversalEventData = Schemas["UniversalEventData"];
export type UniversalEventType = Schemas["UniversalEventType"];
export type UniversalItem = Schemas["UniversalItem"];

// Files, processes and terminals (the fs routes are the reference's; the
// rest are agentd additions).
export type BytesWrittenResponse = Schemas["BytesWrittenResponse"];
export type FsActionResponse = Schemas["FsActionResponse"];
export type FsArchiveFormat = Schemas["FsArchiveFormat"];
export type FsChange = Schemas["FsChange"];
export type FsChangeType = Schemas["FsChangeType"];
export type FsDeleteQuery = Schemas["FsDeleteQuery"];
export type FsEntriesQuery = Schemas["FsEntriesQuery"];
export type FsEntry = Schemas["FsEntry"];
export type FsEntryType = Schemas["FsEntryType"];
export type FsMoveRequest = Schemas["FsMoveRequest"];
export type FsMoveResponse = Schemas["FsMoveResponse"];
export type FsPathQuery = Schemas["FsPathQuery"];
export type FsSessionQuery = Schemas["FsSessionQuery"];
export type FsStat = Schemas["FsStat"];
export type FsUploadBatchQuery = Schemas["FsUploadBatchQuery"];
export type FsUploadBatchResponse = Schemas["FsUploadBatchResponse"];
export type FsWatchReady = Schemas["FsWatchReady"];
export type FsWriteResponse = Schemas["FsWriteResponse"];
export type OutputStream = Schemas["OutputStream"];
export type ProcessInfo = Schemas["ProcessInfo"];
export type ProcessListResponse = Schemas["ProcessListResponse"];
export type ProcessOutputChunk = Schemas["ProcessOutputChunk"];
export type ProcessOutputResponse = Schemas["ProcessOutputResponse"];
export type ProcessSignalRequest = Schemas["ProcessSignalRequest"];
export type ProcessStartRequest = Schemas["ProcessStartRequest"];
export type ProcessStatus = Schemas["ProcessStatus"];
/** The data of a stream's `error` frame (the schema `StreamError`; `StreamError` is the SDK's error class). */
export type StreamErrorData = Schemas["StreamError"];
export type TerminalCreateRequest = Schemas["TerminalCreateRequest"];
export type TerminalInfo = Schemas["TerminalInfo"];
export type TerminalListResponse = Schemas["TerminalListResponse"];
export type TerminalOutputChunk = Schemas["TerminalOutputChunk"];
export type TerminalResizeRequest = Schemas["TerminalResizeRequest"];
export type TerminalStatus = Schemas["TerminalStatus"];

/** A request body of raw bytes: text (sent as UTF-8), bytes, a Blob, or a stream. */
export type BinaryBody = string | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array>;

/** One item of `followProcessOutput`: a chunk of output (decoded bytes), then the exit. */
export type ProcessOutputEvent =
  | { event: "output"; seq: number; stream: OutputStream; offset: number; data: Uint8Array }
  | { event: "exit"; process: ProcessInfo };

/** One item of `followTerminalOutput`: a chunk of output (decoded bytes), then the exit. */
export type TerminalOutputEvent =
  | {
      event: "output";
      offset: number;
      data: Uint8Array;
      /** Bytes before this chunk the daemon's replay buffer no longer held. */
      skipped: number;
    }
  | { event: "exit"; terminal: TerminalInfo };

/** One item of `watchFs`: `ready` once the snapshot is taken, then one `change` per path. */
export type FsWatchEvent = { event: "ready"; data: FsWatchReady } | { event: "change"; data: FsChange };

/**
 * One item of `installAgentStream`: `progress` as the install goes on, then `done` with the
 * agent as it is now listed. (The stream's `error` frame is thrown as an AgentdError.)
 */
export type InstallStreamFrame = { event: "progress"; data: InstallProgress } | { event: "done"; data: InstallDone };

/** The payload (`data`) of each event type. */
export type EventDataByType = {
  "session.started": SessionStartedData;
  "session.ended": SessionEndedData;
  "turn.started": TurnEventData;
  "turn.ended": TurnEventData;
  "item.started": ItemEventData;
  "item.delta": ItemDeltaData;
  "item.completed": ItemEventData;
  error: ErrorData;
  "permission.requested": PermissionEventData;
  "permission.resolved": PermissionEventData;
  "question.requested": QuestionEventData;
  "question.resolved": QuestionEventData;
  "agent.unparsed": AgentUnparsedData;
  "network.connection": NetworkConnectionData;
};

// Compile-time completeness check: every UniversalEventType has a payload
// type, and the table names no type the document does not have.
type Exactly<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const eventTypesCovered: Exactly<keyof EventDataByType, UniversalEventType> = true;
void eventTypesCovered;

/** The envelope fields every event carries, whatever its type. */
export type UniversalEventEnvelope = Omit<Schemas["UniversalEvent"], "type" | "data">;

/** One event of type `T`, with `data` typed for it. */
export type UniversalEventOf<T extends UniversalEventType> = UniversalEventEnvelope & {
  type: T;
  data: EventDataByType[T];
};

/**
 * A universal event, discriminated on `type`:
 * `if (ev.type === "item.delta") ev.data.delta` type-checks.
 */
export type UniversalEvent = { [T in UniversalEventType]: UniversalEventOf<T> }[UniversalEventType];

/** `GET /v1/sessions/{id}/events` with typed events. */
export type EventsResponse = Omit<Schemas["EventsResponse"], "events"> & { events: UniversalEvent[] };

/** Every event type, in the document's order. */
export const UNIVERSAL_EVENT_TYPES = [
  "session.started",
  "session.ended",
  "turn.started",
  "turn.ended",
  "item.started",
  "item.delta",
  "item.completed",
  "error",
  "permission.requested",
  "permission.resolved",
  "question.requested",
  "question.resolved",
  "agent.unparsed",
  "network.connection",
] as const satisfies readonly UniversalEventType[];

/**
 * The event types after which `POST …/messages/stream` (and so
 * `streamTurn`) stops: the turn ended or is waiting on the caller.
 */
export const TURN_PAUSE_EVENT_TYPES: ReadonlySet<UniversalEventType> = new Set<UniversalEventType>([
  "turn.ended",
  "session.ended",
  "error",
  "agent.unparsed",
  "permission.requested",
  "question.requested",
]);

/** Narrows an event to one type: `if (isEventType(ev, "item.delta")) …`. */
export function isEventType<T extends UniversalEventType>(
  event: UniversalEvent,
  type: T,
): event is Extract<UniversalEvent, { type: T }> {
  return event.type === type;
}
