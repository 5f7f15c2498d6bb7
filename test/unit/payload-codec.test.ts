/**
 * The payload codec's rules (runtime/payload-codec.ts) without a server: what it writes is
 * ciphertext bound to its key and workflow; what it cannot authenticate decodes to the quarantine
 * marker (never an error: that would wedge the workflow), and rotation keeps old payloads readable.
 */
import { describe, expect, it } from 'vitest';
import type { Payload } from '@temporalio/common';
import { PayloadKeysError, parsePayloadKeys } from '../../domain/payload-keys.js';
import { AesGcmPayloadCodec, decryptPayload, encryptPayload, generatePayloadKeys, payloadKeyring } from '../../runtime/payload-codec.js';
import { unauthenticatedMarker } from '../../workflows/command-authentication.js';

const json = (value: unknown): Payload => ({ metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new TextEncoder().encode(JSON.stringify(value)) });
const valueOf = (p: Payload) => JSON.parse(Buffer.from(p.data!).toString('utf8'));
const context = (workflowId: string) => ({ type: 'workflow' as const, namespace: 'default', workflowId });
const quarantineReason = (p: Payload): string | undefined => valueOf(p)[unauthenticatedMarker];

describe('payload codec', () => {
  const keys = generatePayloadKeys();
  const ring = payloadKeyring(keys);
  const command = { decision: 'approve', reason: 'a reason only the key reads', actor: { kind: 'operator', name: 'alice', roles: ['approver'] } };

  it('every payload gets an IV of its own, also across the random draws it takes them from', () => {
    // 4 KiB per draw holds 341 IVs of 12 bytes: 2 000 payloads cross several draws
    const ivs = Array.from({ length: 2000 }, () => Buffer.from(encryptPayload(ring, json(command), 'partner-a').data!.subarray(0, 12)).toString('hex'));
    expect(new Set(ivs).size).toBe(2000);
    const wire = encryptPayload(ring, json(command), 'partner-a');
    expect(valueOf(decryptPayload(ring, wire, context('partner-a')))).toEqual(command);
  });

  it('round-trips through the codec; the wire form holds no plaintext', async () => {
    const codec = new AesGcmPayloadCodec(ring);
    const [wire] = await codec.encode([json(command)], context('partner-a'));
    expect(Buffer.from(wire!.data!).toString('latin1')).not.toContain('a reason only the key reads');
    expect(Buffer.from(wire!.metadata!.encoding!).toString()).toBe('binary/encrypted');
    const [back] = await codec.decode([wire!], context('partner-a'));
    expect(valueOf(back!)).toEqual(command);
  });

  it('quarantines (never throws) plaintext, another key, altered bytes, another workflow', () => {
    const wire = encryptPayload(ring, json(command), 'partner-a');
    expect(quarantineReason(decryptPayload(ring, json(command), context('partner-a')))).toMatch(/not encrypted/);
    expect(quarantineReason(decryptPayload(payloadKeyring(generatePayloadKeys(new Date(0))), wire, context('partner-a')))).toMatch(/does not hold/);
    const flipped = new Uint8Array(wire.data!);
    flipped[20]! ^= 1;
    expect(quarantineReason(decryptPayload(ring, { ...wire, data: flipped }, context('partner-a')))).toMatch(/not authentic/);
    expect(quarantineReason(decryptPayload(ring, wire, context('partner-b')))).toMatch(/another workflow/);
    // relabelled to the other workflow: the tag covers the binding
    const relabelled = { ...wire, metadata: { ...wire.metadata, 'encryption-workflow-id': new TextEncoder().encode('partner-b') } };
    expect(quarantineReason(decryptPayload(ring, relabelled, context('partner-b')))).toMatch(/not authentic/);
    // the codec endpoint decodes without context: the payload's own binding is checked
    expect(valueOf(decryptPayload(ring, wire))).toEqual(command);
  });

  it('rotation: the new key (first) encrypts, the old one still decrypts; plaintext only in migration mode', () => {
    const old = encryptPayload(ring, json(command), 'partner-a');
    const rotated = payloadKeyring(`${generatePayloadKeys(new Date('2027-01-01'))},${keys}`);
    expect(valueOf(decryptPayload(rotated, old, context('partner-a')))).toEqual(command);
    const fresh = encryptPayload(rotated, json(command), 'partner-a');
    expect(Buffer.from(fresh.metadata!['encryption-key-id']!).toString()).toBe('k20270101');
    expect(valueOf(decryptPayload(payloadKeyring(keys, true), json(command), context('partner-a')))).toEqual(command);
  });

  it('PAYLOAD_KEYS: ids, 32-byte keys in base64 or hex, no duplicates; errors never show a key', () => {
    const hex = 'ab'.repeat(32);
    expect(parsePayloadKeys(`k2:${hex}, k1:${Buffer.alloc(32, 7).toString('base64')}`).map((k) => k.id)).toEqual(['k2', 'k1']);
    for (const bad of ['', `:${hex}`, `k 1:${hex}`, 'k1:short', `k1:${hex},k1:${hex}`]) {
      expect(() => parsePayloadKeys(bad)).toThrow(PayloadKeysError);
      try {
        parsePayloadKeys(bad);
      } catch (err) {
        expect((err as Error).message).not.toContain(hex);
      }
    }
  });
});
