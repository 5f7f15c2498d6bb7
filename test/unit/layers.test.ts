/**
 * The layer boundaries of docs/ARCHITECTURE.md are enforced by ESLint (eslint.config.js): these
 * tests lint small files placed in each layer and prove each rule bites, and that what is allowed
 * passes.
 */
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
// The project's own configuration; the probes are not files of the TypeScript project, so they are
// parsed without type information and the two type-aware rules are off for them.
const eslint = new ESLint({
  cwd: root,
  overrideConfig: {
    languageOptions: { parserOptions: { projectService: false, project: null } },
    rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/no-misused-promises': 'off' },
  },
});

/** The messages of the layer rules (restricted imports, restricted syntax) for `code` as if it were the file `file`. */
async function refusals(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax').map((m) => m.message);
}

describe('layer boundaries', () => {
  it.each([
    ['domain/probe.ts', "import { createApp } from '../api/app.js';\nexport const x = createApp;\n", /bottom layer/],
    ['domain/probe.ts', "import { openDatabase } from '../schema/db.js';\nexport const x = openDatabase;\n", /bottom layer/],
    ['domain/probe.ts', "import { Kysely } from 'kysely';\nexport const x = Kysely;\n", /no I\/O libraries/],
    ['api/probe.ts', "import { createActivities } from '../activities/index.js';\nexport const x = createActivities;\n", /must not import activities/],
    ['api/routes/probe.ts', "import { applyTransition } from '../../activities/transitions.js';\nexport const x = applyTransition;\n", /must not import activities/],
    ['api/routes/probe.ts', "export const x = (db: any) => db.selectFrom('partners').selectAll().execute();\n", /live in schema\/repositories/],
    ['api/probe.ts', "export const x = (db: any) => db.transaction().execute(async () => 1);\n", /live in schema\/repositories/],
    ['api/probe.ts', "import { sql } from 'kysely';\nexport const x = sql`select 1`;\n", /live in schema\/repositories/],
    ['activities/probe.ts', "export const x = (db: any) => db.updateTable('credentials').set({ status: 'revoked' }).execute();\n", /live in schema\/repositories/],
    ['workflows/probe.ts', "import fs from 'node:fs';\nexport const x = fs;\n", /deterministic/],
    ['workflows/probe.ts', "import { Client } from '@temporalio/client';\nexport const x = Client;\n", /no I\/O libraries/],
  ])('%s: %s is refused', async (file, code, message) => {
    const found = await refusals(file, code);
    expect(found.length, found.join('; ')).toBeGreaterThan(0);
    expect(found.join('\n')).toMatch(message);
  });

  it.each([
    ['domain/probe.ts', "import { createHash } from 'node:crypto';\nimport { isLive } from './partner-states.js';\nexport const x = [createHash, isLive];\n"],
    ['api/probe.ts', "import { appendAudit } from '../schema/repositories/audit.js';\nimport { mayDecideStage } from '../domain/access-rules.js';\nexport const x = [appendAudit, mayDecideStage];\n"],
    ['workflows/probe.ts', "import { isLive } from '../domain/partner-states.js';\nexport const x = isLive;\n"],
    ['activities/probe.ts', "import { findPartner } from '../schema/repositories/partners.js';\nexport const x = findPartner;\n"],
    ['schema/repositories/probe.ts', "export const x = (db: any) => db.selectFrom('partners').selectAll().execute();\n"],
  ])('%s: allowed imports pass', async (file, code) => {
    expect(await refusals(file, code)).toEqual([]);
  });
});
