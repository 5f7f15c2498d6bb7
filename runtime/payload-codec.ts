/**
 * Temporal payloads encrypted and authenticated (AES-256-GCM), on every client and worker of a
 * deployment: history holds no plaintext reason, evidence or contact data, and a command written
 * to Temporal by anyone without the key (the Temporal CLI, a raw gRPC call) is never believed.
 *
 * A payload that is not ours — plaintext, encrypted under a key id we do not hold, altered, or
 * copied from another partner's workflow — is NOT a decode error: a codec that throws fails the
 * workflow task, which Temporal retries forever, so one forged command would wedge the partner.
 * It decodes to the quarantine marker instead (`unauthenticatedMarker`), which the workflow's
 * interceptor (workflows/command-authentication.ts) refuses: an Update is rejected before it is
 * accepted (nothing in history), a signal is dropped, a forged start fails.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { parsePayloadKeys, type PayloadKey } from '../domain/payload-keys.js';
import { unauthenticatedMarker } from '../workflows/command-authentication.js';

const ENCODING = 'binary/encrypted';
const CIPHER = 'AES256GCM';
const ivBytes = 12;
const tagBytes = 16;

/** The keys of a deployment: the first encrypts, every one decrypts (rotation). */
export interface PayloadKeyring {
  current: PayloadKey;
  byId: ReadonlyMap<string, Buffer>;
  /**
   * Migration only (PAYLOAD_CODEC_ACCEPT_PLAINTEXT): payloads without encryption pass through, so
   * workflows started before the codec still replay — and so does a forged plaintext command.
   */
  acceptPlaintext: boolean;
}

/** PAYLOAD_KEYS' text as a keyring (throws PayloadKeysError, which never shows a key). */
export function payloadKeyring(text: string, acceptPlaintext = false): PayloadKeyring {
  const keys = parsePayloadKeys(text);
  return { current: keys[0]!, byId: new Map(keys.map((k) => [k.id, k.key])), acceptPlaintext };
}

/** A fresh keyring's text: one key, its id naming the day it was made (rotation prepends the next). */
export function generatePayloadKeys(now = new Date()): string {
  return `k${now.toISOString().slice(0, 10).replaceAll('-', '')}:${randomBytes(32).toString('base64')}`;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('utf8');

/** The workflow a payload belongs to, when the SDK says (client calls and worker tasks do). */
const workflowOf = (context: SerializationContext | undefined) => context?.workflowId ?? '';

/** What the authentication tag covers besides the bytes: the format, the key id and the workflow. */
const associatedData = (keyId: string, workflowId: string) => Buffer.from(`partner-access/payload/v1\n${keyId}\n${workflowId}`, 'utf8');

/** Payload ⇄ bytes: the metadata and data of the plaintext payload, as JSON (no protobuf needed). */
function serialize(payload: Payload): Buffer {
  const metadata = Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]));
  return Buffer.from(JSON.stringify({ metadata, data: Buffer.from(payload.data ?? []).toString('base64') }), 'utf8');
}

function deserialize(bytes: Buffer): Payload {
  const parsed = JSON.parse(bytes.toString('utf8')) as { metadata: Record<string, string>; data: string };
  return {
    metadata: Object.fromEntries(Object.entries(parsed.metadata).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
    data: new Uint8Array(Buffer.from(parsed.data, 'base64')),
  };
}

/** The payload the workflow refuses (see workflows/command-authentication.ts); `why` is for its log, never a secret. */
export function quarantined(why: string): Payload {
  return { metadata: { encoding: utf8('json/plain') }, data: utf8(JSON.stringify({ [unauthenticatedMarker]: why })) };
}

/**
 * Each payload's IV: 12 fresh random bytes, never used twice, taken from a 4 KiB draw of the
 * CSPRNG instead of one draw per payload (the per-call draw showed in the worker's profile).
 */
let ivPool = Buffer.alloc(0);
let ivOffset = 0;
function freshIv(): Buffer {
  if (ivOffset + ivBytes > ivPool.length) {
    ivPool = randomBytes(4096);
    ivOffset = 0;
  }
  ivOffset += ivBytes;
  return ivPool.subarray(ivOffset - ivBytes, ivOffset);
}

export function encryptPayload(keyring: PayloadKeyring, payload: Payload, workflowId: string): Payload {
  const { id, key } = keyring.current;
  const iv = freshIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(associatedData(id, workflowId));
  const sealed = Buffer.concat([iv, cipher.update(serialize(payload)), cipher.final(), cipher.getAuthTag()]);
  return {
    metadata: {
      encoding: utf8(ENCODING),
      'encryption-cipher': utf8(CIPHER),
      'encryption-key-id': utf8(id),
      // in clear so a reader without context (the Web UI's codec endpoint) can check the tag; the tag covers it
      ...(workflowId ? { 'encryption-workflow-id': utf8(workflowId) } : {}),
    },
    data: new Uint8Array(sealed),
  };
}

/**
 * The plaintext payload, or the quarantine marker when the payload is not ours. `context` is the
 * workflow the SDK decodes for: a payload bound to another workflow (copied from its history) is
 * quarantined too; without context (the codec endpoint), the payload's own binding is checked.
 */
export function decryptPayload(keyring: PayloadKeyring, payload: Payload, context?: SerializationContext): Payload {
  if (text(payload.metadata?.encoding) !== ENCODING) {
    return keyring.acceptPlaintext ? payload : quarantined('payload not encrypted');
  }
  const keyId = text(payload.metadata?.['encryption-key-id']);
  const key = keyring.byId.get(keyId);
  if (!key || text(payload.metadata?.['encryption-cipher']) !== CIPHER) return quarantined('payload encrypted under a key this deployment does not hold');
  const boundTo = text(payload.metadata?.['encryption-workflow-id']);
  const expected = workflowOf(context);
  if (expected && boundTo !== expected) return quarantined('payload bound to another workflow');
  const data = Buffer.from(payload.data ?? []);
  if (data.length < ivBytes + tagBytes) return quarantined('payload not authentic');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, ivBytes));
    decipher.setAAD(associatedData(keyId, boundTo));
    decipher.setAuthTag(data.subarray(data.length - tagBytes));
    return deserialize(Buffer.concat([decipher.update(data.subarray(ivBytes, data.length - tagBytes)), decipher.final()]));
  } catch {
    return quarantined('payload not authentic');
  }
}

/** The codec every client and worker of a deployment uses (dataConverter.payloadCodecs). */
export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(private readonly keyring: PayloadKeyring) {}

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return payloads.map((p) => encryptPayload(this.keyring, p, workflowOf(context)));
  }

  async decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return payloads.map((p) => decryptPayload(this.keyring, p, context));
  }
}

/** The data converter for a client or worker: the codec, the SDK's default payload converter. */
export const payloadDataConverter = (keyring: PayloadKeyring) => ({ payloadCodecs: [new AesGcmPayloadCodec(keyring)] });
