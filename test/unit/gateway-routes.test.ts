import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gatewayRoutesSchema, loadGatewayRoutes, requiredScope } from '../../config/gateway-routes.js';
import { normalizeRequestPath, type CanonicalPath } from '../../domain/request-path.js';

const config = loadGatewayRoutes(path.resolve(import.meta.dirname, '../../gateway/routes.json'));
const canonical = (raw: string): CanonicalPath => {
  const n = normalizeRequestPath(raw);
  if (!n.ok) throw new Error(`${raw}: ${n.reason}`);
  return n.path;
};

describe('requiredScope (gateway/routes.json)', () => {
  it('a prefix route matches whole segments only', () => {
    expect(requiredScope(config, 'GET', canonical('/orders'))).toBe('orders:read');
    expect(requiredScope(config, 'GET', canonical('/orders/'))).toBe('orders:read');
    expect(requiredScope(config, 'GET', canonical('/orders/42/lines'))).toBe('orders:read');
    expect(requiredScope(config, 'GET', canonical('/ordersX/1'))).toBeUndefined();
    expect(requiredScope(config, 'GET', canonical('/orders-export'))).toBeUndefined();
    expect(requiredScope(config, 'GET', canonical('/'))).toBeUndefined();
  });

  it('decides on the normalised path: every spelling of /payments needs payments:read', () => {
    for (const raw of ['/orders/../payments/1', '/orders/%2e%2e/payments/1', '//payments/1', '/./payments/1', '/pay%6dents/1'])
      expect(requiredScope(config, 'GET', canonical(raw)), raw).toBe('payments:read');
  });

  it('the method picks the route; HEAD is GET; unknown methods match nothing', () => {
    expect(requiredScope(config, 'POST', canonical('/orders/1'))).toBe('orders:write');
    expect(requiredScope(config, 'HEAD', canonical('/orders/1'))).toBe('orders:read');
    expect(requiredScope(config, 'OPTIONS', canonical('/orders/1'))).toBeUndefined();
  });

  it('the longest route wins, and an exact route matches only itself', () => {
    const routes = gatewayRoutesSchema.parse({
      environment: 'sandbox',
      routes: [
        { method: 'GET', path: '/orders/', scope: 'orders:read' },
        { method: 'GET', path: '/orders/export/', scope: 'reports:read' },
        { method: 'GET', path: '/status', scope: 'catalog:read' },
      ],
    });
    expect(requiredScope(routes, 'GET', canonical('/orders/export/2026'))).toBe('reports:read');
    expect(requiredScope(routes, 'GET', canonical('/orders/exports'))).toBe('orders:read');
    expect(requiredScope(routes, 'GET', canonical('/status'))).toBe('catalog:read');
    expect(requiredScope(routes, 'GET', canonical('/status/x'))).toBeUndefined();
  });

  it('a route path that is not canonical is refused when the file is read', () => {
    for (const bad of ['orders/', '/orders//', '/orders/../payments/', '/ord%65rs/', '/orders;v=1/', '/orders/?x=1']) {
      const parsed = gatewayRoutesSchema.safeParse({ environment: 'sandbox', routes: [{ method: 'GET', path: bad, scope: 'orders:read' }] });
      expect(parsed.success, bad).toBe(false);
    }
  });
});
