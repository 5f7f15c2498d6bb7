import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, DEFAULT_STALE_TTL_SECONDS, MIN_STALE_TTL_SECONDS, type GatewayMode } from '../config/env.js';
import { loadGatewayRoutes } from '../config/gateway-routes.js';
import { defaultRateLimits } from '../config/limits.js';
import { isAmbiguousCharacter } from '../domain/request-path.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const templateFile = path.join(projectRoot, 'gateway', 'nginx.conf.template');
const edgeTemplateFile = path.join(projectRoot, 'gateway', 'nginx-edge.conf.template');
const luaDir = path.join(projectRoot, 'gateway');

export { DEFAULT_STALE_TTL_SECONDS, gatewayModes, MIN_STALE_TTL_SECONDS, type GatewayMode } from '../config/env.js';

/** Where Debian puts nginx's dynamic modules (NGINX_MODULES_PATH overrides). */
export const nginxModulesDir = () => process.env.NGINX_MODULES_PATH ?? '/usr/lib/nginx/modules';

/** Whether this machine's nginx can run the edge mode: the Lua module and the NDK it needs. */
export function luaModuleAvailable(modulesDir = nginxModulesDir()): boolean {
  return ['ngx_http_lua_module.so', 'ndk_http_module.so'].every((file) => fs.existsSync(path.join(modulesDir, file)));
}

/** GATEWAY_MODE as configured (config/env.ts validates it), or `edge` when the Lua module is there and `auth_request` when not. */
export function resolveGatewayMode(value: GatewayMode | undefined): GatewayMode {
  if (value === 'edge' && !luaModuleAvailable()) {
    throw new ConfigError(`Invalid configuration: GATEWAY_MODE=edge needs nginx's Lua module in ${nginxModulesDir()} (scripts/install-nginx.sh)`);
  }
  return value ?? (luaModuleAvailable() ? 'edge' : 'auth_request');
}

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
  /** auth_request unless said (see resolveGatewayMode for the product's default) */
  mode?: GatewayMode;
  /** edge: seconds cached verdicts are honoured while the feed is lost (GATEWAY_STALE_TTL) */
  staleTtlSeconds?: number;
  /** edge: failed keys per client and minute before the edge answers 429 (the API's default budget) */
  failedKeysPerMinute?: number;
  /** edge: nginx worker processes (their verdicts and counters are shared) */
  workers?: number;
  /** edge: the routes and scopes (gateway/routes.json) */
  routesFile?: string;
}

export class NginxMissing extends Error {}

/** Fills a template's ${…} placeholders (the values both modes share, and `extra`); nginx's own $variables are left alone. */
function renderTemplate(file: string, o: GatewayOptions, extra: Record<string, string> = {}): string {
  if (!/^pat_[0-9A-Za-z]+$/.test(o.gatewayToken)) throw new Error('the gateway token must be an operator token (pat_…)');
  const values: Record<string, string> = {
    GATEWAY_PORT: String(o.port),
    API_UPSTREAM: o.apiUpstream,
    SAMPLE_UPSTREAM: o.upstream,
    GATEWAY_TOKEN: o.gatewayToken,
    RUNTIME_DIR: o.runtimeDir,
    ...extra,
  };
  return fs.readFileSync(file, 'utf8').replace(/\$\{([A-Z_]+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** The auth_request mode's configuration (gateway/nginx.conf.template). */
export function renderNginxConfig(o: GatewayOptions): string {
  return renderTemplate(templateFile, o);
}

/** The edge mode's configuration (gateway/nginx-edge.conf.template); its settings file is edgeSettings(). */
export function renderEdgeNginxConfig(o: GatewayOptions): string {
  return renderTemplate(edgeTemplateFile, o, { MODULES_DIR: nginxModulesDir(), LUA_DIR: luaDir, WORKERS: String(o.workers ?? 1), VERDICT_CACHE_SIZE: '32m' });
}

let ambiguousCodePoints: number[] | undefined;
/** The code points domain/request-path.ts refuses as ambiguous, for the Lua port (computed once, ~80 ms). */
function ambiguousList(): number[] {
  if (!ambiguousCodePoints) {
    const found: number[] = [];
    for (let cp = 0x80; cp <= 0x10ffff; cp++) if ((cp < 0xd800 || cp > 0xdfff) && isAmbiguousCharacter(cp)) found.push(cp);
    ambiguousCodePoints = found;
  }
  return ambiguousCodePoints;
}

/** What gateway/partner_edge.lua reads at start-up (written 0600 beside nginx.conf: it holds the gateway token). */
export function edgeSettings(o: GatewayOptions) {
  const routes = loadGatewayRoutes(o.routesFile ?? path.join(projectRoot, 'gateway', 'routes.json'));
  const staleTtl = o.staleTtlSeconds ?? DEFAULT_STALE_TTL_SECONDS;
  if (!Number.isFinite(staleTtl) || staleTtl < MIN_STALE_TTL_SECONDS) throw new ConfigError(`Invalid configuration: GATEWAY_STALE_TTL must be at least ${MIN_STALE_TTL_SECONDS} seconds`);
  return {
    apiUpstream: o.apiUpstream,
    gatewayToken: o.gatewayToken,
    environment: routes.environment,
    routes: routes.routes,
    staleTtl,
    failedKeysPerMinute: o.failedKeysPerMinute ?? defaultRateLimits.introspectionFailuresPerMinute,
    // a probe waits at most this long for the feed to reach the API's answer before asking the cache
    probeWaitSeconds: 2,
    ambiguousCodePoints: ambiguousList(),
  };
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
  const edge = o.mode === 'edge' && !o.render;
  if (edge) fs.writeFileSync(path.join(o.runtimeDir, 'edge-settings.json'), JSON.stringify(edgeSettings(o)), { mode: 0o600 });
  fs.writeFileSync(conf, (o.render ?? (edge ? renderEdgeNginxConfig : renderNginxConfig))(o), { mode: 0o600 });
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
