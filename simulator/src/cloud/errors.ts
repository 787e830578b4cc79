import { STATUS_CODES } from 'node:http';

/**
 * A refusal that carries its HTTP status, thrown by the state model and the API handlers and
 * told by each API in its own wire format (Keystone's `{error}`, Contrail's plain text,
 * Kubernetes' `Status`): no status is ever chosen by reading a message. `reason` is the
 * Kubernetes `StatusReason` word for it.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    /** What the refusal is about, where the API has a place for it (Kubernetes' `Status.details`). */
    readonly details?: Readonly<Record<string, string>>,
  ) {
    super(message);
  }

  /** The status's reason phrase: `Not Found`, `Conflict`. */
  get title(): string {
    return STATUS_CODES[this.status] ?? 'Error';
  }

  /** The same refusal worded otherwise, or about something named. */
  with(change: { message?: string; details?: Readonly<Record<string, string>> }): HttpError {
    return new HttpError(this.status, this.reason, change.message ?? this.message, change.details ?? this.details);
  }
}

/** 400: the request is malformed. */
export class BadRequest extends HttpError {
  constructor(message: string, details?: Readonly<Record<string, string>>) {
    super(400, 'BadRequest', message, details);
  }
}

/** 401: no valid token. */
export class Unauthorized extends HttpError {
  constructor(message: string) {
    super(401, 'Unauthorized', message);
  }
}

/** 404: the object (or its parent, or one it refers to) does not exist. */
export class NotFound extends HttpError {
  constructor(message: string, details?: Readonly<Record<string, string>>) {
    super(404, 'NotFound', message, details);
  }
}

/** 405: the path exists, not with this method. */
export class MethodNotAllowed extends HttpError {
  constructor(message: string) {
    super(405, 'MethodNotAllowed', message);
  }
}

/** 409: the change conflicts with what exists, e.g. deleting what is still referred to. */
export class Conflict extends HttpError {
  constructor(message: string, reason = 'Conflict') {
    super(409, reason, message);
  }
}

/** 409: an object of that name (or id) exists already. */
export class AlreadyExists extends Conflict {
  constructor(message: string) {
    super(message, 'AlreadyExists');
  }
}

/** 415: the body is in a media type the API does not take there. */
export class UnsupportedMediaType extends HttpError {
  constructor(message: string) {
    super(415, 'UnsupportedMediaType', message);
  }
}

/** 422: the object is well-formed but not valid. */
export class Invalid extends HttpError {
  constructor(message: string, details?: Readonly<Record<string, string>>) {
    super(422, 'Invalid', message, details);
  }
}
