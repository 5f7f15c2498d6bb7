import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import type { AppConfig } from '../config/env.js';
import { generateDataKey, parseDataKey } from '../domain/sealed-box.js';
import { ensurePrivateDir, tightenIfExists } from './private-files.js';
import { AuditCheckpoints } from '../schema/audit-checkpoints.js';

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

/** A configured 32-byte key, or the one in `file` (created 0600 on first use). */
function loadDataKey(configured: string | undefined, file: string): Buffer {
  if (configured) return parseDataKey(configured);
  if (!fs.existsSync(file)) {
    ensurePrivateDir(path.dirname(file));
    try {
      fs.writeFileSync(file, `${generateDataKey()}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process of this machine made it first
    }
  }
  tightenIfExists(file); // a key file left readable by an older release or by hand
  return parseDataKey(fs.readFileSync(file, 'utf8'));
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
