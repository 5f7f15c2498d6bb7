import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import type { AppConfig } from '../config/env.js';
import { generateDataKey, parseDataKey } from '../domain/sealed-box.js';
import { ensurePrivateDir, tightenIfExists } from './private-files.js';
import { AuditCheckpoints } from '../schema/audit-checkpoints.js';
import { generatePayloadKeys, payloadKeyring, type PayloadKeyring } from './payload-codec.js';

/**
 * The AES key sealing pickup copies: PICKUP_KEY, or a key file under the data dir created on
 * first run (0600). Worker and API must share it.
 */
export function loadPickupKey(config: AppConfig): Buffer {
  return loadDataKey(config.pickupKey, config.pickupKeyFile);
}

/**
 * The key signing audit checkpoints: AUDIT_CHECKPOINT_KEY, or a key file under the data dir
 * created on first run (0600). Never in the database: whoever can write the database must not be
 * able to sign a checkpoint.
 */
export function loadAuditCheckpoints(config: AppConfig): AuditCheckpoints {
  return new AuditCheckpoints(config.auditCheckpoints.file, loadDataKey(config.auditCheckpoints.key, config.auditCheckpoints.keyFile));
}

/**
 * The Temporal payload codec's keys: PAYLOAD_KEYS, or a key file under the data dir created on
 * first run (0600) — what `npm start` uses. Every client and worker of a deployment must hold the
 * same keys (processes on other machines: set PAYLOAD_KEYS).
 */
export function loadPayloadKeyring(config: AppConfig): PayloadKeyring {
  const { keys, keysFile, acceptPlaintext } = config.payloadCodec;
  return payloadKeyring(keys ?? readOrCreatePrivateFile(keysFile, generatePayloadKeys), acceptPlaintext);
}

/** The content of `file`, created 0600 with `make()` on first use (another process may make it first). */
function readOrCreatePrivateFile(file: string, make: () => string): string {
  if (!fs.existsSync(file)) {
    ensurePrivateDir(path.dirname(file));
    try {
      fs.writeFileSync(file, `${make()}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process of this machine made it first
    }
  }
  tightenIfExists(file); // a key file left readable by an older release or by hand
  return fs.readFileSync(file, 'utf8');
}

/** A configured 32-byte key, or the one in `file` (created 0600 on first use). */
function loadDataKey(configured: string | undefined, file: string): Buffer {
  return parseDataKey(configured ?? readOrCreatePrivateFile(file, generateDataKey));
}

/** Structured JSON logs; anything that could carry a secret is redacted by path. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: {
        paths: ['apiKey', '*.apiKey', 'requestToken', '*.requestToken', 'token', '*.token', 'authorization', '*.authorization', 'req.headers.authorization', 'req.headers["x-api-key"]'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
