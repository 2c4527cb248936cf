// One error type for everything a reconcile can meet. Each failure has a
// class; the class decides the retry (transient ones back off fast,
// permanent ones mark the resource Degraded and retry slowly) and is the
// `class` label of the API-error metric.

export const ErrorClass = {
  /** Network trouble, 5xx, 429, timeouts: retry with backoff. */
  Transient: 'transient',
  /** 409: someone wrote in between; retry soon. */
  Conflict: 'conflict',
  /** The API server refused what we sent (400, 422, admission): Degraded. */
  Rejected: 'rejected',
  /** 403: our RBAC misses a permission: Degraded, slow retry. */
  Forbidden: 'forbidden',
  /** The resource's spec can't be turned into a stack (schema let it through). */
  InvalidSpec: 'invalid-spec',
  /** A bug or an object of a shape we didn't expect. */
  Internal: 'internal',
} as const;
export type ErrorClass = (typeof ErrorClass)[keyof typeof ErrorClass];

const PERMANENT: ReadonlySet<ErrorClass> = new Set([
  ErrorClass.Rejected,
  ErrorClass.Forbidden,
  ErrorClass.InvalidSpec,
  ErrorClass.Internal,
]);

export class ReconcileError extends Error {
  readonly errorClass: ErrorClass;
  /** HTTP status from the API server, when there was one. */
  readonly status: number | undefined;
  /** Human message fit for a condition: the server's own words when it refused. */
  readonly detail: string;

  constructor(errorClass: ErrorClass, detail: string, opts: { status?: number; cause?: unknown } = {}) {
    super(`${errorClass}: ${detail}`, { cause: opts.cause });
    this.name = 'ReconcileError';
    this.errorClass = errorClass;
    this.status = opts.status;
    this.detail = detail;
  }

  get permanent(): boolean {
    return PERMANENT.has(this.errorClass);
  }
}

interface StatusBody {
  message?: unknown;
  reason?: unknown;
}

/** The HTTP status of an error thrown by @kubernetes/client-node (ApiException has `code`). */
export function httpStatus(err: unknown): number | undefined {
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number' && code >= 100 && code < 600) return code;
    const statusCode = (err as { statusCode?: unknown }).statusCode;
    if (typeof statusCode === 'number') return statusCode;
  }
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  return httpStatus(err) === 404 || (err instanceof ReconcileError && err.status === 404);
}

export function isConflict(err: unknown): boolean {
  return httpStatus(err) === 409;
}

export function isAlreadyExists(err: unknown): boolean {
  return httpStatus(err) === 409 && serverReason(err) === 'AlreadyExists';
}

function body(err: unknown): StatusBody | undefined {
  const b = (err as { body?: unknown } | undefined)?.body;
  if (typeof b === 'string') {
    try {
      return JSON.parse(b) as StatusBody;
    } catch {
      return { message: b };
    }
  }
  if (b && typeof b === 'object') return b as StatusBody;
  return undefined;
}

function serverReason(err: unknown): string | undefined {
  const r = body(err)?.reason;
  return typeof r === 'string' ? r : undefined;
}

/** The API server's message (a metav1.Status's `message`), else the error's own. */
export function serverMessage(err: unknown): string {
  const m = body(err)?.message;
  if (typeof m === 'string' && m) return m;
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message;
  return String(err);
}

/** Wrap anything thrown during a reconcile into a classified ReconcileError. */
export function classify(err: unknown, what = ''): ReconcileError {
  if (err instanceof ReconcileError) return err;
  const status = httpStatus(err);
  const prefix = what ? `${what}: ` : '';
  const msg = prefix + serverMessage(err);
  if (status === undefined) {
    // No HTTP status: a socket error is transient; anything else is ours.
    const code = (err as { code?: unknown; cause?: { code?: unknown } } | undefined)?.cause?.code ??
      (err as { code?: unknown } | undefined)?.code;
    const net = typeof code === 'string' && /^(E[A-Z]+|UND_ERR)/.test(code);
    const fetchFailed = err instanceof TypeError && /fetch failed/.test(err.message);
    const aborted = err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
    if (net || fetchFailed || aborted) return new ReconcileError(ErrorClass.Transient, msg, { cause: err });
    return new ReconcileError(ErrorClass.Internal, msg, { cause: err });
  }
  if (status === 409) return new ReconcileError(ErrorClass.Conflict, msg, { status, cause: err });
  if (status === 403) return new ReconcileError(ErrorClass.Forbidden, msg, { status, cause: err });
  if (status === 400 || status === 422 || status === 413) {
    return new ReconcileError(ErrorClass.Rejected, msg, { status, cause: err });
  }
  return new ReconcileError(ErrorClass.Transient, msg, { status, cause: err });
}
