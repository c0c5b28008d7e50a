import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { minVersion, satisfies } from 'semver';

/**
 * What `npm ci` would warn about, read from the lock file: a package whose `engines`
 * refuses the oldest supported Node (EBADENGINE), and a peer dependency that the
 * installed tree does not satisfy (ERESOLVE). .ci/run also fails on either word in
 * npm's own output.
 */
const root = join(__dirname, '..');
interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
  link?: boolean;
}
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> };
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  engines: { node: string };
  overrides?: Record<string, string | Record<string, string>>;
};
const oldestNode = minVersion(manifest.engines.node)!.version;

/** The package Node would load for `name` from the package at `path` (nearest node_modules up the tree). */
function resolve(path: string, name: string): LockedPackage | undefined {
  for (let dir = path; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
    const found = lock.packages[`${dir ? `${dir}/` : ''}node_modules/${name}`];
    if (found) return found;
    if (!dir) return undefined;
  }
}

/** Packages installed on this platform (optional ones for other systems are left out by npm). */
const installed = Object.entries(lock.packages).filter(
  ([path, entry]) => path !== '' && !entry.link && !(entry.optional && (entry.os || entry.cpu) && !(entry.os ?? [process.platform]).includes(process.platform)),
);

describe('the locked dependency tree', () => {
  it(`runs on the oldest supported Node (${oldestNode}): no package's engines refuse it`, () => {
    const refusing = installed
      .filter(([, entry]) => !Array.isArray(entry.engines) && entry.engines?.node)
      .filter(([, entry]) => !satisfies(oldestNode, (entry.engines as { node: string }).node))
      .map(([path, entry]) => `${path}@${entry.version} wants node ${(entry.engines as { node: string }).node}`);
    expect(refusing).toEqual([]);
  });

  /**
   * `"overrides": { "<package>": { "<peer>": "$<peer>" } }` in package.json: a peer range
   * we decided to override with our own version (npm installs it without a warning).
   */
  const overriddenPeer = (path: string, name: string) => {
    const own = manifest.overrides?.[path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)];
    return typeof own === 'object' && own[name] === `$${name}`;
  };

  it('satisfies every required peer dependency with what is installed, but for the overrides package.json declares', () => {
    const unmet = installed.flatMap(([path, entry]) =>
      Object.entries(entry.peerDependencies ?? {})
        .filter(([name]) => !entry.peerDependenciesMeta?.[name]?.optional && !overriddenPeer(path, name))
        .filter(([name, range]) => {
          const peer = resolve(path, name);
          return !peer?.version || !satisfies(peer.version, range, { includePrerelease: true });
        })
        .map(([name, range]) => `${path}@${entry.version} wants ${name}@${range}, finds ${resolve(path, name)?.version ?? 'nothing'}`),
    );
    expect(unmet).toEqual([]);
  });
});
