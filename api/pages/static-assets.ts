import { readFileSync } from 'node:fs';
import type { Context } from 'hono';
import { staticAssetCaching } from '../headers.js';
import { Problem } from '../problem.js';

/**
 * The files the pages and the API reference load (our stylesheet and scripts, Swagger UI's bundle),
 * served by us from the repository and node_modules: nothing comes from a CDN. Each file is read
 * once, when the routes are built, and served with the one caching rule of static assets
 * (`staticAssetCaching`: public, an hour; every other response is no-store).
 */

const contentTypes: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

const contentTypeOf = (name: string): string => {
  const type = contentTypes[name.slice(name.lastIndexOf('.'))];
  // a programming error at start, not a request's: only the kinds above are ever served
  if (!type) throw new Error(`no content type for the asset ${name}`);
  return type;
};

/**
 * A handler for `GET …/:name` serving the named files (name as requested → where it is read from);
 * any other name is a 404 problem.
 */
export function serveAssets(files: Readonly<Record<string, string | URL>>) {
  const assets = new Map(Object.entries(files).map(([name, from]) => [name, { body: readFileSync(from, 'utf8'), type: contentTypeOf(name) }]));
  return (c: Context) => {
    const asset = assets.get(c.req.param('name') ?? '');
    if (!asset) throw new Problem(404, 'Not Found', 'no such asset');
    return c.body(asset.body, 200, { 'Content-Type': asset.type, 'Cache-Control': staticAssetCaching });
  };
}
