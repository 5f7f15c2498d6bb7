import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/env.js';

describe('loadConfig', () => {
  it('defaults to the embedded stack under data/ with the public rate limits', () => {
    const config = loadConfig({}, '/srv/pa');
    expect(config.temporal.address).toBeUndefined();
    expect(config.database).toEqual({ kind: 'sqlite', file: path.join('/srv/pa', 'data', 'app.db') });
    expect(config.temporal.devDbFile).toBe(path.join('/srv/pa', 'data', 'temporal.db'));
    expect(config.limits).toEqual({ onboardingPerMinute: 10, decisionsPerMinute: 60, introspectionFailuresPerMinute: 600, authFailuresPerMinute: 30 });
    // no proxy is trusted: X-Forwarded-For is ignored
    expect(config.trustedProxies.check('127.0.0.1', 'ipv4')).toBe(false);
  });

  it('reads a cluster address, a sqlite URL and raised limits', () => {
    const config = loadConfig(
      {
        TEMPORAL_ADDRESS: 'temporal.internal:7233',
        DATABASE_URL: 'sqlite:/var/lib/pa/app.db',
        RATE_LIMIT_ONBOARDING_PER_MINUTE: '500',
        RATE_LIMIT_DECISIONS_PER_MINUTE: '120',
        RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '5',
        TRUSTED_PROXIES: '10.0.0.0/8, 2001:db8::1',
      },
      '/srv/pa',
    );
    expect(config.temporal.address).toBe('temporal.internal:7233');
    expect(config.database).toEqual({ kind: 'sqlite', file: '/var/lib/pa/app.db' });
    expect(config.limits.onboardingPerMinute).toBe(500);
    expect(config.limits.decisionsPerMinute).toBe(120);
    expect(config.limits.authFailuresPerMinute).toBe(5);
    expect(config.trustedProxies.check('10.1.2.3', 'ipv4')).toBe(true);
    expect(config.trustedProxies.check('2001:db8::1', 'ipv6')).toBe(true);
    expect(config.trustedProxies.check('2001:db8::2', 'ipv6')).toBe(false);
  });

  it.each([
    ['PORT', 'eighty'],
    ['RATE_LIMIT_ONBOARDING_PER_MINUTE', '0'],
    ['RATE_LIMIT_DECISIONS_PER_MINUTE', 'lots'],
    ['DATABASE_URL', 'mysql://db/pa'],
    ['DATABASE_URL', 'postgres://db/pa?sslmode=requir'],
    ['PGSSLMODE', 'on'],
    ['WEBHOOK_URL', 'ftp://example.com'],
    ['PICKUP_KEY', 'too-short'],
    ['RATE_LIMIT_AUTH_FAILURES_PER_MINUTE', '-3'],
    ['TRUSTED_PROXIES', 'nginx'],
    ['TRUSTED_PROXIES', '10.0.0.0/8,10.0.0.0/40'],
    ['TRUSTED_PROXIES', '0.0.0.0/0'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'],
    ['PAYLOAD_CODEC_ACCEPT_PLAINTEXT', 'yes'],
    ['TEMPORAL_UI_CODEC_PORT', '70000'],
  ])('%s=%s is refused with one line naming the variable', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value }, '/srv/pa');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain(name);
    expect(message.split('\n')).toHaveLength(1);
  });

  it.each([
    ['PICKUP_KEY', 'pak_live_not-a-key-but-secret'],
    ['AUDIT_CHECKPOINT_KEY', 'almost-a-key-0123456789'],
    ['ADMIN_TOKEN', 'pat_short'],
    ['GATEWAY_PROBE_SECRET', 'short-secret'],
    ['PAYLOAD_KEYS', 'k1:c2VjcmV0LWJ1dC10b28tc2hvcnQ='],
    ['PAYLOAD_KEYS', `k1:${'ab'.repeat(32)},k1:${'cd'.repeat(32)}`],
  ])('an invalid secret (%s) is named, never shown', (name, value) => {
    expect(() => loadConfig({ [name]: value }, '/srv/pa')).toThrow(ConfigError);
    try {
      loadConfig({ [name]: value }, '/srv/pa');
    } catch (e) {
      expect((e as Error).message).toContain(name);
      expect((e as Error).message).not.toContain(value);
    }
  });

  it.each(['postgres://pa:s3cret@db.internal:5432/pa?sslmode=verify-full', 'postgresql://db.internal/pa', 'postgres:///pa'])(
    'DATABASE_URL=%s selects Postgres (the PG* variables fill what the URL omits)',
    (url) => {
      expect(loadConfig({ DATABASE_URL: url }, '/srv/pa').database).toEqual({ kind: 'postgres', url });
    },
  );

  it('never repeats the password of a refused DATABASE_URL', () => {
    for (const url of ['postgres://pa:s3cret@db:99999/pa', 'postgres://pa:s3cret@db/pa?sslmode=on']) {
      expect(() => loadConfig({ DATABASE_URL: url }, '/srv/pa')).toThrow(/DATABASE_URL/);
      expect(() => loadConfig({ DATABASE_URL: url }, '/srv/pa')).not.toThrow(/s3cret/);
    }
  });

  it('requires the webhook secret with a webhook URL', () => {
    expect(() => loadConfig({ WEBHOOK_URL: 'https://hooks.example.com/pa' }, '/srv/pa')).toThrow(/WEBHOOK_SECRET/);
  });

  it('reads and checks what `npm run gateway` needs', () => {
    expect(loadConfig({}, '/srv/pa').gateway).toEqual({
      token: undefined,
      port: 8080,
      mode: undefined,
      staleTtlSeconds: 60,
      apiUpstream: '127.0.0.1:3000',
      sampleUpstreamPort: 8081,
      runtimeDir: path.join('/srv/pa', 'data', 'gateway'),
    });
    const set = loadConfig({ GATEWAY_TOKEN: ' pat_x ', GATEWAY_PORT: '9090', GATEWAY_MODE: 'auth_request', GATEWAY_STALE_TTL: '45', API_UPSTREAM: 'api.internal:3000', SAMPLE_UPSTREAM_PORT: '0' }, '/srv/pa');
    expect(set.gateway).toMatchObject({ token: 'pat_x', port: 9090, mode: 'auth_request', staleTtlSeconds: 45, apiUpstream: 'api.internal:3000', sampleUpstreamPort: 0 });
    expect(loadConfig({ GATEWAY_MODE: ' ' }, '/srv/pa').gateway.mode).toBeUndefined();
    expect(() => loadConfig({ GATEWAY_MODE: 'lua' }, '/srv/pa')).toThrow(/^Invalid configuration: GATEWAY_MODE="lua"/);
    expect(() => loadConfig({ GATEWAY_STALE_TTL: '10' }, '/srv/pa')).toThrow(/GATEWAY_STALE_TTL="10": must be at least 30 seconds/);
    expect(() => loadConfig({ GATEWAY_STALE_TTL: 'soon' }, '/srv/pa')).toThrow(/GATEWAY_STALE_TTL/);
    expect(() => loadConfig({ API_UPSTREAM: 'http://api:3000' }, '/srv/pa')).toThrow(/API_UPSTREAM.*must be host:port/);
    expect(() => loadConfig({ GATEWAY_PORT: '70000' }, '/srv/pa')).toThrow(/GATEWAY_PORT/);
  });
});
