import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import type { AppConfig } from '../config/env.js';
import { generateDataKey, parseDataKey } from '../domain/sealed-box.js';
import { ensurePrivateDir, tightenIfExists } from './private-files.js';

/**
 * The AES key sealing pickup copies: PICKUP_KEY, or a key file under the data dir created on
 * first run (0600). Worker and API must share it.
 */
export function loadPickupKey(config: AppConfig): Buffer {
  if (config.pickupKey) return parseDataKey(config.pickupKey);
  if (!fs.existsSync(config.pickupKeyFile)) {
    ensurePrivateDir(path.dirname(config.pickupKeyFile));
    fs.writeFileSync(config.pickupKeyFile, `${generateDataKey()}\n`, { mode: 0o600, flag: 'wx' });
  }
  tightenIfExists(config.pickupKeyFile); // a key file left readable by an older release or by hand
  return parseDataKey(fs.readFileSync(config.pickupKeyFile, 'utf8'));
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
