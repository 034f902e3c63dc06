import type { ErrorDetail, ErrorType, ProblemDetails } from "./types.js";

/** The prefix of every agentd problem `type`. */
export const PROBLEM_TYPE_PREFIX = "urn:sandbox-agent:error:";

/**
 * An error response from agentd. Daemon errors are RFC 9457 problems
 * (`application/problem+json`); their fields are copied onto the error.
 * A response without a problem body (a proxy's 502, a plain-text
 * framework rejection) still becomes an AgentdError, with `type`
 * `"about:blank"`, the HTTP status, and the body text as `detail`.
 *
 * Network failures are not AgentdErrors: they surface as the fetch
 * implementation's own error (a `TypeError` in Node and browsers).
 */
export class AgentdError extends Error {
  /** Problem type URI, e.g. `urn:sandbox-agent:error:session_not_found`. */
  readonly type: string;
  readonly title: string;
  /** HTTP status code. */
  readonly status: number;
  readonly detail?: string;
  /** The session the error is about, when there is one. */
  readonly sessionId?: string;
  /** The agent the error is about, when there is one. */
  readonly agent?: string;
  /** Extra, kind-specific information (e.g. `{ mode }` for mode_not_supported). */
  readonly details?: Record<string, unknown>;
  /** Field-level validation errors (422). */
  readonly errors?: ErrorDetail[];
  readonly instance?: string;
  /** The problem as received (or as synthesised for a non-problem body). */
  readonly problem: ProblemDetails;
  /** The HTTP response, when there was one. Its body has been read. */
  readonly response?: Response;

  constructor(problem: ProblemDetails, response?: Response) {
    super(describe(problem));
    this.name = "AgentdError";
    this.problem = problem;
    this.response = response;
    this.type = problem.type;
    this.title = problem.title;
    this.status = problem.status;
    this.detail = problem.detail;
    this.sessionId = problem.sessionId;
    this.agent = problem.agent;
    this.details = problem.details;
    this.errors = problem.errors ?? undefined;
    this.instance = problem.instance;
  }

  /**
   * The error kind without the URN prefix (`"session_not_found"`), or
   * undefined for a problem that is not one of agentd's.
   */
  get kind(): ErrorType | undefined {
    return this.type.startsWith(PROBLEM_TYPE_PREFIX)
      ? (this.type.slice(PROBLEM_TYPE_PREFIX.length) as ErrorType)
      : undefined;
  }

  /** Builds the error for a non-2xx response whose body was already read. */
  static fromResponse(response: Response, body: unknown): AgentdError {
    return new AgentdError(toProblem(response, body), response);
  }
}

function describe(p: ProblemDetails): string {
  const what = p.detail || p.title || "request failed";
  const kind = p.type.startsWith(PROBLEM_TYPE_PREFIX) ? ` ${p.type.slice(PROBLEM_TYPE_PREFIX.length)}` : "";
  return `${what} (${p.status}${kind})`;
}

function toProblem(response: Response, body: unknown): ProblemDetails {
  if (isProblem(body)) {
    return { ...body, status: typeof body.status === "number" ? body.status : response.status };
  }
  const text = typeof body === "string" ? body.trim() : body === undefined ? "" : JSON.stringify(body);
  return {
    type: "about:blank",
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    ...(text ? { detail: text } : {}),
  };
}

function isProblem(body: unknown): body is ProblemDetails {
  return (
    typeof body === "object" &&
    body !== null &&
    typeof (body as { type?: unknown }).type === "string" &&
    typeof (body as { title?: unknown }).title === "string"
  );
}
