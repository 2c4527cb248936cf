// A SecureVote for the reconcile's pure parts (rendering, its cache), and
// its spec parsed as the operator parses it.
import { parseSpec, type SecureVoteSpec } from '../../charts/spec.ts';
import type { KObject } from '../../operator/context.ts';

/** A SecureVote as the API server hands it over. */
export const sv = (spec: unknown = {}, generation = 1, name = 'demo'): KObject => ({
  apiVersion: 'securevote.dev/v1alpha1',
  kind: 'SecureVote',
  metadata: { name, namespace: 'ns1', uid: 'uid-1', generation },
  spec,
});

/** The spec parsed, or the test fails naming why. */
export const parsed = (spec: unknown): SecureVoteSpec => {
  const r = parseSpec(spec);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.spec;
};
