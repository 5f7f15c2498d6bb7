import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/env.js';

const fileWith = (content: unknown) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pa-webhooks-')), 'webhooks.json');
  fs.writeFileSync(file, JSON.stringify(content));
  return file;
};
const endpoint = { name: 'siem', url: 'https://siem.example/hooks', secretEnv: 'SIEM_SECRET', events: ['revocation.*', 'partner.revoked'] };

describe('WEBHOOKS_FILE', () => {
  it('gives each endpoint its filter and the secret of the variable it names, beside WEBHOOK_URL as "default"', () => {
    const config = loadConfig(
      { WEBHOOKS_FILE: fileWith({ endpoints: [endpoint], retryFor: '6 hours', firstRetry: '10s' }), SIEM_SECRET: 's'.repeat(24), WEBHOOK_URL: 'https://hooks.example/pa', WEBHOOK_SECRET: 'w'.repeat(24) },
      '/srv/pa',
    );
    expect(config.webhooks.endpoints.map((e) => [e.name, e.events, e.secret.length])).toEqual([
      ['default', ['*'], 24],
      ['siem', ['revocation.*', 'partner.revoked'], 24],
    ]);
    expect(config.webhooks.retry).toMatchObject({ retryForMs: 6 * 3600_000, firstRetryMs: 10_000 });
  });

  it('refuses a missing or short secret by naming its variable, never a value', () => {
    const file = fileWith({ endpoints: [endpoint] });
    expect(() => loadConfig({ WEBHOOKS_FILE: file }, '/srv/pa')).toThrow(/SIEM_SECRET must hold a secret/);
    expect(() => loadConfig({ WEBHOOKS_FILE: file, SIEM_SECRET: 'short-value' }, '/srv/pa')).toThrow(/^(?!.*short-value).*SIEM_SECRET/);
  });

  it('refuses bad filters, duplicate names, secrets inline and unreadable files', () => {
    const env = { SIEM_SECRET: 's'.repeat(24) };
    expect(() => loadConfig({ ...env, WEBHOOKS_FILE: fileWith({ endpoints: [{ ...endpoint, events: ['partner.*.x'] }] }) }, '/')).toThrow(/events/);
    expect(() => loadConfig({ ...env, WEBHOOKS_FILE: fileWith({ endpoints: [endpoint, endpoint] }) }, '/')).toThrow(/unique/);
    expect(() => loadConfig({ ...env, WEBHOOKS_FILE: fileWith({ endpoints: [{ ...endpoint, secret: 'inline' }] }) }, '/')).toThrow(/secret/);
    expect(() => loadConfig({ ...env, WEBHOOKS_FILE: '/nonexistent/webhooks.json' }, '/')).toThrow(/WEBHOOKS_FILE/);
  });
});
