// Layer direction of ARCHITECTURE.md: cli -> (ingest | stages | channels | admin) -> model -> core.
// The four roles never import each other, nothing imports cli, and there are no import cycles.
const roles = ['ingest', 'stages', 'channels', 'admin'];
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    { name: 'core-is-the-bottom', severity: 'error', from: { path: '^src/core/' }, to: { path: '^src/(model|ingest|stages|channels|admin|cli)/' } },
    { name: 'model-only-uses-core', severity: 'error', from: { path: '^src/model/' }, to: { path: '^src/(ingest|stages|channels|admin|cli)/' } },
    ...roles.map((role) => ({
      name: `${role}-is-independent`,
      severity: 'error',
      from: { path: `^src/${role}/` },
      to: { path: `^src/(${roles.filter((r) => r !== role).join('|')}|cli)/` },
    })),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
