// agentd-sdk: the browser-safe entry (server mode). Node-only embedded mode
// lives in `agentd-sdk/embedded`, so nothing here imports a Node module.

import { AgentdClient, type ConnectOptions } from "./client.js";
import { AgentdError } from "./errors.js";

export {
  AgentdClient,
  connect,
  EventParseError,
  StreamError,
  type ConnectOptions,
  type FetchLike,
  type GetEventsOptions,
  type GetSessionDiffOptions,
  type InstallAgentStreamOptions,
  type RequestOptions,
  type RetryOptions,
  type StreamEventsOptions,
  type StreamOptions,
  type StreamTurnOptions,
} from "./client.js";
export { AgentdError, PROBLEM_TYPE_PREFIX } from "./errors.js";
export { readSse, SseParser, type ReadSseOptions, type SseMessage } from "./sse.js";
export * from "./types.js";

/**
 * The reference SDK's entry point, for scripts written against it:
 * `await SandboxAgent.connect({ baseUrl, token })`. (`SandboxAgent.start`
 * is in `agentd-sdk/embedded`.)
 */
export class SandboxAgent extends AgentdClient {
  static async connect(options: ConnectOptions): Promise<SandboxAgent> {
    return new SandboxAgent(options);
  }
}

/** The reference SDK's name for AgentdError. */
export const SandboxAgentError = AgentdError;
/** The reference SDK's name for AgentdError. */
export type SandboxAgentError = AgentdError;
/** The reference SDK's name for ConnectOptions. */
export type SandboxAgentConnectOptions = ConnectOptions;
