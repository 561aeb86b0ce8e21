import { P2pdError } from '@p2pd/interface'

/** Stable codes of {@link IdentityError}: keys, key files, signatures and sealed boxes. */
export type IdentityErrorCode =
  | 'IDENTITY_INVALID_SECRET_KEY'
  | 'IDENTITY_INVALID_NODE_ID'
  | 'IDENTITY_INVALID_DOMAIN'
  | 'IDENTITY_KEYFILE_PERMISSIONS'
  | 'IDENTITY_KEYFILE_MALFORMED'
  | 'IDENTITY_KEYFILE_EXISTS'
  | 'IDENTITY_KEYFILE_IO'
  | 'IDENTITY_BOX_MALFORMED'
  | 'IDENTITY_BOX_TOO_LARGE'
  | 'IDENTITY_BOX_VERSION'
  | 'IDENTITY_BOX_DECRYPT'
  | 'IDENTITY_BOX_SIGNATURE'

/** A key, key file, signature domain or sealed box was rejected. */
export class IdentityError extends P2pdError {
  declare readonly code: IdentityErrorCode

  constructor(code: IdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/** Stable codes of {@link ChannelError}: the pre-handshake hello, the Noise handshake, frames. */
export type ChannelErrorCode =
  /** The peer's hello was malformed, or both sides drew the same tie-break nonce. */
  | 'CHANNEL_HELLO'
  /** A handshake message was malformed or failed to decrypt (wrong prologue, tampering, …). */
  | 'CHANNEL_HANDSHAKE'
  /** The peer's signature over its Noise static key did not verify against its node ID. */
  | 'CHANNEL_AUTH'
  /** The peer proved a node ID other than the expected one (or the allow-callback said no). */
  | 'CHANNEL_PEER_MISMATCH'
  /** A frame's length prefix exceeds the limit of the current phase. */
  | 'CHANNEL_FRAME_TOO_LARGE'
  /** A frame is shorter than an AEAD tag, or arrived after the authenticated close. */
  | 'CHANNEL_FRAME_MALFORMED'
  /** A transport frame failed AEAD authentication (tampered, replayed, reordered, wrong key). */
  | 'CHANNEL_DECRYPT'
  /** The byte stream ended mid-frame, or without the authenticated close frame. */
  | 'CHANNEL_TRUNCATED'
  /** The underlying stream closed or failed during the handshake or under the pipe. */
  | 'CHANNEL_CLOSED'
  /** The 64-bit Noise nonce would wrap (never in practice: 2^53 frames). */
  | 'CHANNEL_NONCE_EXHAUSTED'

/** The secure channel failed: handshake, authentication, or a bad transport frame. */
export class ChannelError extends P2pdError {
  declare readonly code: ChannelErrorCode

  constructor(code: ChannelErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}
