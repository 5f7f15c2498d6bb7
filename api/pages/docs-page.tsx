import type { FC } from 'hono/jsx';
import { documentOf, Layout } from './layout.js';

/**
 * The /docs page (api/routes/docs.ts): the interactive reference (Swagger UI, from its npm package,
 * served by us) in the portal's frame, with the plain table of operations as the fallback when
 * JavaScript is off.
 */

export interface ReferenceDocument {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, { summary?: string }>>;
}

const Operations: FC<{ doc: ReferenceDocument }> = ({ doc }) => (
  <div class="table-wrap">
    <table>
      <thead>
        <tr>
          <th scope="col">Method</th>
          <th scope="col">Path</th>
          <th scope="col">What it does</th>
        </tr>
      </thead>
      <tbody>
        {Object.entries(doc.paths).flatMap(([path, ops]) =>
          Object.entries(ops).map(([method, op]) => (
            <tr>
              <td>
                <code>{method.toUpperCase()}</code>
              </td>
              <td>
                <code>{path}</code>
              </td>
              <td>{op.summary ?? ''}</td>
            </tr>
          )),
        )}
      </tbody>
    </table>
  </div>
);

export function docsPage(doc: ReferenceDocument): string {
  return documentOf(
    <Layout title={`${doc.info.title} API reference`} area="portal" path="/docs" principal={{ kind: 'anonymous' }} csrfToken="">
      <p>
        {doc.info.description ?? ''} Version {doc.info.version}. Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Errors are{' '}
        <code>application/problem+json</code> (RFC 9457). Credentials go in the <code>Authorization: Bearer</code> header, never in a URL.
      </p>
      <link rel="stylesheet" href="/docs/assets/swagger-ui.css" />
      <div id="swagger-ui" class="reference"></div>
      <noscript>
        <Operations doc={doc} />
      </noscript>
      <script src="/docs/assets/swagger-ui-bundle.js" defer></script>
      <script src="/docs/assets/docs-init.js" defer></script>
    </Layout>,
  );
}
