/**
 * Every error protocol/ throws, each a class with a stable `name`. Callers
 * map names to HTTP statuses (main/) and to peer penalties (node/) in one
 * place each; nothing here throws anything but these (and TypeError /
 * RangeError for programming mistakes at an API boundary).
 */

export class ProtocolError extends Error {
  name = 'ProtocolError'
  /** A stable machine-readable code, also used in wire error frames and HTTP bodies. */
  code: string = 'protocol_error'
}

/** Bytes that do not decode to a well-formed value of the expected shape. */
export class MalformedError extends ProtocolError {
  name = 'MalformedError'
  code = 'malformed'
}

/** Input larger than the named bound that protects the decoder. */
export class TooLargeError extends ProtocolError {
  name = 'TooLargeError'
  code = 'too_large'
}

export class InvalidSignatureError extends ProtocolError {
  name = 'InvalidSignatureError'
  code = 'invalid_signature'
}

export class WrongTypeError extends ProtocolError {
  name = 'WrongTypeError'
  code = 'wrong_type'
}

export class ExpiredError extends ProtocolError {
  name = 'ExpiredError'
  code = 'expired'
}

export class NotYetValidError extends ProtocolError {
  name = 'NotYetValidError'
  code = 'not_yet_valid'
}

/** Rules older than (or, with other bytes, equal to) the version already held: a rollback or freeze attempt. */
export class OlderVersionError extends ProtocolError {
  name = 'OlderVersionError'
  code = 'older_version'
}

export class UnknownKeyError extends ProtocolError {
  name = 'UnknownKeyError'
  code = 'unknown_key'
}

/** A document that verifies but does not fit its context (another item, another peer, another rules version). */
export class MismatchError extends ProtocolError {
  name = 'MismatchError'
  code = 'mismatch'
}

/** A chunk whose SHA-256 does not match the manifest, or a proof that does not lead to the root. */
export class ChunkHashMismatchError extends ProtocolError {
  name = 'ChunkHashMismatchError'
  code = 'chunk_hash_mismatch'
}
