import { createHash, Hash } from 'node:crypto';
import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import { parse, type DocumentNode } from 'graphql';
import { loadConfig } from '../../config';
import { DOCUMENT_STORE_MAX_ESTIMATED_BYTES, graphqlOptions } from './graphql-options';

describe('Apollo options', () => {
  it('bound the store of parsed documents, which clients that inline values would fill', async () => {
    const store = graphqlOptions(loadConfig({})).documentStore as InMemoryLRUCache<DocumentNode>;
    expect(store).toBeInstanceOf(InMemoryLRUCache);
    // 20,000 distinct documents with inlined values (about 2.4 MB by the store's estimate each 1,000).
    for (let i = 0; i < 20_000; i += 1) {
      const query = `mutation { decryptData(input: { keyId: "k-${i}", encryptedData: "${'A'.repeat(344)}" }) { keyId data } }`;
      await store.set(`doc-${i}`, parse(query));
    }
    const held = (store as unknown as { cache: { size: number; calculatedSize: number } }).cache;
    expect(held.calculatedSize).toBeLessThanOrEqual(DOCUMENT_STORE_MAX_ESTIMATED_BYTES);
    expect(held.size).toBeLessThan(2_000);
    expect(await store.get('doc-19999')).toBeDefined();
    expect(await store.get('doc-0')).toBeUndefined();
  });

  it('turn off the per-request plugins Apollo would install by itself: cache control and inline traces', () => {
    const ids = (graphqlOptions(loadConfig({})).plugins ?? []).map((plugin) => (plugin as { __internal_plugin_id__?: string }).__internal_plugin_id__);
    expect(ids).toEqual(expect.arrayContaining(['CacheControl', 'InlineTrace']));
  });

  it('have Apollo hash queries with node:crypto, to the same digests', () => {
    graphqlOptions(loadConfig({}));
    const path = require.resolve('@apollo/utils.createhash', { paths: [require.resolve('@apollo/server')] });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createHash: apolloHash } = require(path) as { createHash: (kind: string) => Hash };
    expect(apolloHash('sha256')).toBeInstanceOf(Hash);
    expect(apolloHash('sha256').update('{ __typename }').digest('hex')).toBe(createHash('sha256').update('{ __typename }').digest('hex'));
  });
});
