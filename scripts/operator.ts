/**
 * `npm run operator -- create --name alice --roles approver` (prints the token once, on the last
 * line), `list`, `revoke --name alice`.
 */
import { parseArgs } from 'node:util';
import { bootData, main } from '../runtime/boot.js';
import { createOperator, OperatorError, parseRoles, revokeOperator } from '../runtime/operators.js';
import { listOperators } from '../schema/repositories/operators.js';

await main(async () => {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { name: { type: 'string' }, roles: { type: 'string' } },
  });
  const command = positionals[0];
  const { db } = await bootData();
  try {
    if (command === 'create') {
      if (!values.name || !values.roles) throw new OperatorError('usage: operator create --name <name> --roles <role,role>');
      const token = await createOperator(db, values.name, parseRoles(values.roles));
      process.stdout.write(`created operator ${values.name}; its token is shown once:\n${token}\n`);
    } else if (command === 'list') {
      for (const op of await listOperators(db)) {
        process.stdout.write(`${op.name}\t${op.roles.join(',')}\t${op.revokedAt ? `revoked ${op.revokedAt}` : 'active'}\n`);
      }
    } else if (command === 'revoke') {
      if (!values.name) throw new OperatorError('usage: operator revoke --name <name>');
      await revokeOperator(db, values.name);
      process.stdout.write(`revoked operator ${values.name}\n`);
    } else {
      throw new OperatorError('usage: operator create --name <name> --roles <role,role> | list | revoke --name <name>');
    }
  } finally {
    await db.destroy();
  }
});
