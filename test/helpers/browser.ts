/**
 * A real headless Chromium for the portal's tests (issue #15): Debian's `chromium`
 * (scripts/install-chromium.sh) driven by playwright-core, which downloads no browser of its own.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

const find = () => [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && fs.existsSync(p));

/** The browser's binary; with `autoInstall`, installed when missing (the test run's global setup asks so, as for nginx). */
export function chromiumPath(opts: { autoInstall?: boolean } = {}): string {
  const found = find();
  if (found) return found;
  if (opts.autoInstall) {
    spawnSync('bash', [path.resolve(import.meta.dirname, '../../scripts/install-chromium.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    const installed = find();
    if (installed) return installed;
  }
  throw new Error('no Chromium: run scripts/install-chromium.sh (or set CHROMIUM_PATH)');
}

/** One browser per test file; each test opens its own context (its own cookies). */
export function launchBrowser(): Promise<Browser> {
  // --no-sandbox: CI runs as root in a container, where Chromium's sandbox cannot start
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}
