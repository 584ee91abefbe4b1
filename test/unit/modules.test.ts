import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { MODULES } from '../../src/app/modules';
import { defineAuditEventTypes, AuditEventType } from '../../src/audit/audit-event-types';
import { scopesByField } from '../../src/apikeys/apikey.rules';

const SRC = path.resolve(__dirname, '..', '..', 'src');
// The lint's declaration of the layers and the feature order (eslint-plugin-boundaries).
const layers = require('../../eslint.layers.js') as { FEATURES: string[] };

describe('the feature modules (src/app/modules.ts)', () => {
  it('give the lint its feature order (eslint.layers.js reads the list), named as their folders', () => {
    expect(MODULES.map((m) => m.name)).toEqual(layers.FEATURES);
  });

  it('each live in the folder of their name and export themselves from <feature>.module.ts', () => {
    for (const { name } of MODULES) {
      const files = readdirSync(path.join(SRC, name));
      expect(files.filter((f) => f.endsWith('.module.ts'))).toEqual([`${name}.module.ts`]);
    }
  });

  it('leave no folder of src/ that is neither a layer nor a listed feature', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    const layerFolders = ['core', 'observability', 'infra', 'http', 'app', 'cli'];
    expect(folders.filter((f) => !layerFolders.includes(f)).sort()).toEqual([...layers.FEATURES].sort());
    for (const f of layerFolders) expect(existsSync(path.join(SRC, f))).toBe(true);
  });

  it('declare each audit event type once, and the enum is made of exactly those', () => {
    defineAuditEventTypes(MODULES);
    const declared = MODULES.flatMap((m) => Object.keys(m.auditEvents ?? {}));
    expect(new Set(declared).size).toBe(declared.length);
    expect(Object.keys(AuditEventType).sort()).toEqual([...declared].sort());
    expect(() =>
      defineAuditEventTypes([...MODULES, { name: 'copycat', auditEvents: { LOGIN_FAILED: 'warn' } }]),
    ).toThrow(/LOGIN_FAILED declared by auth and copycat/);
  });

  it('grant API-key scopes only to fields once, and only scopes that exist', () => {
    const byField = scopesByField(MODULES.map((m) => m.apiKeyGrants ?? {}));
    expect(byField).toEqual({
      Query: { me: 'ITEMS_READ', item: 'ITEMS_READ', items: 'ITEMS_READ' },
      Mutation: { createItem: 'ITEMS_WRITE', updateItem: 'ITEMS_WRITE', deleteItem: 'ITEMS_WRITE' },
      Subscription: { itemEvents: 'ITEMS_READ' },
    });
    expect(() => scopesByField([{ ITEMS_READ: { Query: ['me'] } }, { ITEMS_WRITE: { Query: ['me'] } }])).toThrow(
      /granted twice/,
    );
    expect(() => scopesByField([{ ADMIN_EVERYTHING: { Query: ['users'] } }])).toThrow(/unknown scope/);
  });
});
