// The generated credentials: `<name>-credentials`, created once when the
// spec names no existing Secret, never updated afterwards (a re-generated
// database password would lock the app out of its own data), never logged.
// Create-only semantics: a POST, and a 409 AlreadyExists means someone (us,
// earlier, or a user preparing it) already made it, which is fine.
import { randomBytes } from 'node:crypto';
import type { Context, KObject, OwnerReference } from './context.ts';
import { childNames } from '../charts/names.ts';
import { SECRET_KEYS as APP_KEYS } from '../charts/rules.ts';
import { classify, isAlreadyExists } from './errors.ts';

/** The app's keys (runtime contract, from the charts' rules) plus a spare random value. */
export const SECRET_KEYS = [APP_KEYS.databasePassword, APP_KEYS.redisPassword, APP_KEYS.cookieSecret, 'random'] as const;

/** The name the stack's pods expect when spec.existingSecret is unset (charts/names.ts). */
export function credentialsName(instance: string): string {
  return childNames(instance).credentials;
}

function generate(): string {
  // 32 random bytes, URL-safe: no quoting trouble in any consumer.
  return randomBytes(32).toString('base64url');
}

/**
 * The Secret object to create. With `owner`, it is garbage-collected with the
 * resource; without (the database volume is kept on delete), it outlives the
 * resource so a re-created one finds the password that matches its data.
 */
export function credentialsSecret(
  namespace: string,
  instance: string,
  labels: Record<string, string>,
  owner: OwnerReference | undefined,
): KObject {
  const data: Record<string, string> = {};
  for (const k of SECRET_KEYS) data[k] = Buffer.from(generate()).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: credentialsName(instance),
      namespace,
      labels,
      ...(owner ? { ownerReferences: [owner] } : {}),
    },
    type: 'Opaque',
    immutable: true,
    data,
  };
}

/**
 * Make sure the credentials exist. Reads the informers' cache first, so a
 * steady state sends nothing. Returns true when it created them.
 */
export async function ensureCredentials(ctx: Context, secret: KObject): Promise<boolean> {
  const ref = { apiVersion: 'v1', kind: 'Secret', namespace: secret.metadata.namespace, name: secret.metadata.name };
  if (ctx.cache.get(ref)) return false;
  try {
    await ctx.kube.create(secret);
    return true;
  } catch (err) {
    if (isAlreadyExists(err)) return false;
    // Never let the object (with its data) reach a log line through the error.
    throw classify(err, `create Secret/${secret.metadata.name}`);
  }
}
