/**
 * The format of the Temporal payload keys (PAYLOAD_KEYS): `<keyId>:<32 bytes as base64 or 64 hex>`,
 * comma-separated; the first encrypts, every one decrypts, so a rotation prepends the new key and
 * drops the old one only when no history still needs it. The cipher is in runtime/payload-codec.ts.
 */
export interface PayloadKey {
  id: string;
  key: Buffer;
}

export class PayloadKeysError extends Error {}

const keyIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/** Parses the keys; a message never contains key material (it reaches a terminal or a log). */
export function parsePayloadKeys(text: string): PayloadKey[] {
  const keys: PayloadKey[] = [];
  for (const [index, entry] of text.split(',').map((e) => e.trim()).filter(Boolean).entries()) {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    if (!keyIdPattern.test(id)) throw new PayloadKeysError(`entry ${index + 1} must be <keyId>:<key> with a key id of letters, digits, '.', '_' or '-'`);
    const material = entry.slice(colon + 1);
    const key = /^[0-9a-fA-F]{64}$/.test(material) ? Buffer.from(material, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(material) ? Buffer.from(material, 'base64') : Buffer.alloc(0);
    if (key.length !== 32) throw new PayloadKeysError(`key ${id} must be 32 bytes, as base64 or 64 hex characters`);
    if (keys.some((k) => k.id === id)) throw new PayloadKeysError(`key id ${id} appears twice`);
    keys.push({ id, key });
  }
  if (keys.length === 0) throw new PayloadKeysError('no key: expected <keyId>:<key>[,<keyId>:<key>…]');
  return keys;
}
