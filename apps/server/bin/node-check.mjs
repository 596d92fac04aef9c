// Plain JavaScript on purpose: it has to run on any Node version, including ones too old to load
// the TypeScript sources, so it can say which version Boxoffice needs and what to run instead.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 17)) {
  console.error(
    [
      `Boxoffice needs Node.js 22.17 or newer; this is ${process.version} (${process.execPath}).`,
      'Run `bash scripts/start.sh` (or `bash scripts/test.sh`): it installs Node 24 into /usr/local when needed.',
      'If Node 24 is installed already, put it first on PATH: export PATH="/usr/local/bin:$PATH"',
    ].join('\n'),
  );
  process.exit(1);
}
