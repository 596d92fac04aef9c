/**
 * A published package's manifest carries what its users install and nothing of how it is built
 * here: the development dependencies (for the SDK, the server it types itself from) and the
 * scripts stay in the repository.
 */
function beforePacking(pkg) {
  delete pkg.devDependencies;
  delete pkg.scripts;
  return pkg;
}

export const hooks = { beforePacking };
