/**
 * A real headless Chromium for the portal's tests (issue #15): Debian's `chromium`
 * (scripts/install-chromium.sh) driven by playwright-core, which downloads no browser of its own.
 */
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export function chromiumPath(): string {
  const found = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && fs.existsSync(p));
  if (!found) throw new Error('no Chromium: run scripts/install-chromium.sh (or set CHROMIUM_PATH)');
  return found;
}

/** One browser per test file; each test opens its own context (its own cookies). */
export function launchBrowser(): Promise<Browser> {
  // --no-sandbox: CI runs as root in a container, where Chromium's sandbox cannot start
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}
