import { Hono } from 'hono';
import { consoleAreas } from './areas.js';
import { stream } from 'hono/streaming';
import { auditQuerySchema } from '../../../schema/api.js';
import { auditEventsAfter } from '../../../schema/repositories/audit.js';
import { auditChainCheck, auditExportLines } from '../../routes/audit.handlers.js';
import { invalidInput } from '../../validation.js';
import type { PageAppEnv } from '../env.js';
import { FormErrors, formErrors, TextField } from '../forms.js';
import type { PageDeps } from '../index.js';
import { renderPage, requireOperatorPage } from '../render.js';
import { When } from './common.js';

/**
 * The auditor's page: the audit trail with GET /v1/audit's filters (partner, after a sequence
 * number), the chain verification (/v1/audit/verify's check, against the signed checkpoints), and
 * the NDJSON export, served here for the signed-in operator (the JSON route takes a bearer token,
 * which a browser link cannot send). Auditors, admins and security, as those routes.
 */

const auditors = requireOperatorPage(...consoleAreas.audit.roles);

/** A page of the trail on screen; the export takes GET /v1/audit's own limit. */
const PAGE_SIZE = 100;

/** The filters as a query string (only the ones set), for the next page and the export link. */
const queryOf = (q: { partnerId?: string | undefined; afterSeq?: number | undefined; limit?: number }) => {
  const params = new URLSearchParams();
  if (q.partnerId) params.set('partnerId', q.partnerId);
  if (q.afterSeq !== undefined) params.set('afterSeq', String(q.afterSeq));
  if (q.limit !== undefined) params.set('limit', String(q.limit));
  const text = params.toString();
  return text ? `?${text}` : '';
};

export function auditPages({ deps }: PageDeps) {
  const app = new Hono<PageAppEnv>();

  app.get('/audit', auditors, async (c) => {
    const raw = { partnerId: c.req.query('partnerId') || undefined, afterSeq: c.req.query('afterSeq') || undefined };
    const parsed = auditQuerySchema.safeParse({ ...raw, limit: PAGE_SIZE });
    const errors = parsed.success ? undefined : formErrors(invalidInput('query', parsed.error));
    const q = parsed.success ? parsed.data : { limit: PAGE_SIZE, partnerId: undefined, afterSeq: undefined };
    const [events, chain] = await Promise.all([
      parsed.success ? auditEventsAfter(deps.db, { afterSeq: q.afterSeq ?? 0, partnerId: q.partnerId, limit: PAGE_SIZE }) : Promise.resolve([]),
      auditChainCheck(deps),
    ]);
    const last = events.at(-1)?.seq;
    return renderPage(
      c,
      'console',
      'Audit trail',
      <>
        <section aria-labelledby="chain" class={`card chain ${chain.ok ? 'ok' : 'broken'}`}>
          <h2 id="chain">Chain verification</h2>
          {chain.ok ? (
            <p class="flash ok" role="status">
              The chain is intact: {chain.events} events up to #{chain.headSeq}
              {chain.checkpoint ? `, held against the signed checkpoint at #${chain.checkpoint.seq}` : ''}.
            </p>
          ) : (
            <p class="flash error" role="alert">
              The chain is broken{chain.brokenAt !== undefined ? ` at #${chain.brokenAt}` : ''}: {chain.problem ?? 'it does not verify'}.
            </p>
          )}
        </section>
        <h2>Events</h2>
        <FormErrors errors={errors} />
        <form method="get" action="/console/audit" class="filters">
          <TextField name="partnerId" label="Partner id" errors={errors} value={raw.partnerId} />
          <TextField name="afterSeq" label="After event number" type="text" errors={errors} value={raw.afterSeq} hint="Events after this sequence number, oldest first." />
          <div class="actions">
            <button type="submit">Filter</button>
            <a class="button secondary" href={`/console/audit/export${queryOf({ partnerId: q.partnerId, afterSeq: q.afterSeq })}`} download="audit.ndjson">
              Export NDJSON
            </a>
          </div>
        </form>
        {events.length === 0 ? (
          <p>No events{parsed.success ? '' : ': correct the filters'}.</p>
        ) : (
          <div class="table-wrap">
            <table class="audit">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">At</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Partner</th>
                  <th scope="col">Change</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {events.map((e) => (
                  <tr>
                    <td>{e.seq}</td>
                    <td>
                      <When at={e.at} />
                    </td>
                    <td>{e.actor}</td>
                    <td>
                      <code>{e.action}</code>
                    </td>
                    <td>{e.partner_id ? <a href={`/console/partners/${e.partner_id}`}>{e.partner_id}</a> : ''}</td>
                    <td>{e.before || e.after ? `${e.before ?? '—'} → ${e.after ?? '—'}` : ''}</td>
                    <td>{e.reason ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {events.length === PAGE_SIZE && last !== undefined ? (
          <p>
            <a href={`/console/audit${queryOf({ partnerId: q.partnerId, afterSeq: last })}`}>Next {PAGE_SIZE} events</a>
          </p>
        ) : null}
      </>,
      { status: parsed.success ? 200 : 400 },
    );
  });

  // The export for the session's operator: the same lines as GET /v1/audit (auditExportLines).
  app.get('/audit/export', auditors, (c) => {
    const parsed = auditQuerySchema.safeParse({ partnerId: c.req.query('partnerId') || undefined, afterSeq: c.req.query('afterSeq') || undefined, limit: c.req.query('limit') || undefined });
    if (!parsed.success) throw invalidInput('query', parsed.error);
    c.header('Content-Type', 'application/x-ndjson');
    c.header('Content-Disposition', 'attachment; filename="audit.ndjson"');
    return stream(c, async (out) => {
      for await (const lines of auditExportLines(deps, parsed.data)) await out.write(lines);
    });
  });

  return app;
}
