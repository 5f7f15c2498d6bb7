import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const templateFile = path.join(projectRoot, 'gateway', 'nginx.conf.template');

export interface GatewayOptions {
  port: number;
  /** host:port of the partner-access API */
  apiUpstream: string;
  /** host:port of the service behind the gateway */
  upstream: string;
  /** an operator token with the gateway role */
  gatewayToken: string;
  runtimeDir: string;
  /** how the configuration is written (the benchmark's auth-less baseline derives its own) */
  render?: (o: GatewayOptions) => string;
}

export class NginxMissing extends Error {}

/** Fills the template's ${…} placeholders; nginx's own $variables are left alone. */
export function renderNginxConfig(o: GatewayOptions): string {
  if (!/^pat_[0-9A-Za-z]+$/.test(o.gatewayToken)) throw new Error('the gateway token must be an operator token (pat_…)');
  const values: Record<string, string> = {
    GATEWAY_PORT: String(o.port),
    API_UPSTREAM: o.apiUpstream,
    SAMPLE_UPSTREAM: o.upstream,
    GATEWAY_TOKEN: o.gatewayToken,
    RUNTIME_DIR: o.runtimeDir,
  };
  return fs.readFileSync(templateFile, 'utf8').replace(/\$\{([A-Z_]+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/**
 * The benchmark's baseline: the same configuration with no auth_request, so nginx forwards the
 * client's URI straight to the upstream (the guarded config forwards only the target the auth
 * endpoint names, and nothing without one). Never a gateway: it checks nothing.
 */
export function renderDirectNginxConfig(o: GatewayOptions): string {
  const guarded = renderNginxConfig(o);
  const direct = guarded
    .replace(/^\s*auth_request\s+\/.*$/m, '')
    .replace(/^(\s*)proxy_pass http:\/\/\$partner_upstream\$upstream_target;$/m, '$1proxy_pass http://partner_api_upstream;');
  if (/^\s*auth_request\s/m.test(direct) || !direct.includes('proxy_pass http://partner_api_upstream;')) {
    throw new Error('gateway/nginx.conf.template changed: update renderDirectNginxConfig');
  }
  return direct;
}

/**
 * nginx: NGINX_PATH, Debian's /usr/sbin/nginx, then PATH; with `autoInstall`, the project's install
 * script (Debian's nginx-light) runs once when none is found, as the Temporal CLI's does.
 */
export function nginxBinary(opts: { autoInstall?: boolean } = {}): string {
  const find = () =>
    [process.env.NGINX_PATH, '/usr/sbin/nginx', ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'nginx'))].find(
      (candidate) => candidate && fs.existsSync(candidate),
    );
  const found = find();
  if (found) return found;
  if (opts.autoInstall) {
    spawnSync('bash', [path.join(projectRoot, 'scripts', 'install-nginx.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    const installed = find();
    if (installed) return installed;
  }
  throw new NginxMissing('nginx is not installed: run scripts/install-nginx.sh (apt-get install nginx-light)');
}

async function waitForPort(port: number, timeoutMs: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited()) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not open port ${port}`);
}

/** Runs nginx in the foreground as our child; stop() drains it (SIGQUIT) and waits. */
export async function startGateway(o: GatewayOptions): Promise<{ url: string; process: ChildProcess; stop(): Promise<void> }> {
  fs.mkdirSync(path.join(o.runtimeDir, 'tmp'), { recursive: true });
  const conf = path.join(o.runtimeDir, 'nginx.conf');
  fs.writeFileSync(conf, (o.render ?? renderNginxConfig)(o), { mode: 0o600 });
  const child = spawn(nginxBinary(), ['-p', o.runtimeDir, '-c', conf, '-e', path.join(o.runtimeDir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPort(o.port, 10_000, () => child.exitCode !== null);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}: ${stderr.trim()}`);
  }
  return {
    url: `http://127.0.0.1:${o.port}`,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGQUIT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
