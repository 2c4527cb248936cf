// The Prometheus Operator's objects of one SecureVote (charts/monitoring.ts:
// a PodMonitor and a PrometheusRule), applied only where the cluster serves
// monitoring.coreos.com/v1. No informer watches them (a cluster without the
// CRDs has nothing to watch): each pass reads them by name and applies what
// differs, so hand edits are undone at the next pass, as for every child.
// Where the CRDs are absent the SecureVote still gets Ready, and the
// Monitored condition says what was skipped and why. Turning
// spec.monitoring off deletes them.
import type { SecureVoteSpec } from '../charts/spec.ts';
import { idOf, refOf } from './apply.ts';
import type { Context, KObject } from './context.ts';
import { upToDate } from './diff.ts';
import { classify, isNotFound } from './errors.ts';
import { MONITORING_KINDS } from './owned-kinds.ts';

export type MonitoringObservation =
  | { readonly state: 'off' }
  | { readonly state: 'applied'; readonly message: string }
  | { readonly state: 'skipped'; readonly message: string };

const KINDS = MONITORING_KINDS.map((k) => k.kind).join(' and ');

/** Whether the cluster serves every monitoring kind we render. */
async function served(ctx: Context): Promise<boolean> {
  for (const k of MONITORING_KINDS) if (!(await ctx.kube.serves(k.apiVersion, k.kind))) return false;
  return true;
}

/**
 * Apply (or delete, when spec.monitoring is off) the instance's monitoring
 * objects. `objects` are the rendered children of a monitoring kind
 * (operator/owned-kinds.ts MONITORING_KINDS), already owned and hashed.
 */
export async function reconcileMonitoring(ctx: Context, sv: KObject, spec: SecureVoteSpec, objects: readonly KObject[]): Promise<{ observation: MonitoringObservation; applied: string[]; deleted: string[] }> {
  const applied: string[] = [];
  const deleted: string[] = [];
  if (!spec.monitoring.enabled) {
    // Only an instance that had them can have them: its last status says so.
    const had = (sv.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions?.some((c) => c.type === 'Monitored' && c.status === 'True');
    if (had && (await served(ctx))) {
      for (const k of MONITORING_KINDS) {
        const ref = { apiVersion: k.apiVersion, kind: k.kind, namespace: sv.metadata.namespace, name: sv.metadata.name };
        const live = await ctx.kube.get(ref);
        // Ours only: the controller reference names this very resource.
        if (!live || !live.metadata.ownerReferences?.some((o) => o.controller && o.uid === sv.metadata.uid)) continue;
        try {
          await ctx.kube.delete(ref, live.metadata.uid);
          deleted.push(idOf(live));
        } catch (err) {
          if (!isNotFound(err)) throw classify(err, `delete ${idOf(live)}`);
        }
      }
    }
    return { observation: { state: 'off' }, applied, deleted };
  }
  if (!(await served(ctx))) {
    return {
      observation: {
        state: 'skipped',
        message: `skipped the ${KINDS}: the cluster does not serve monitoring.coreos.com/v1 (install the Prometheus Operator's CRDs; they are found within a minute). Metrics are served and the scraper namespace is let in all the same.`,
      },
      applied,
      deleted,
    };
  }
  for (const obj of objects) {
    if (upToDate(await ctx.kube.get(refOf(obj)), obj)) continue;
    try {
      await ctx.kube.apply(obj);
      applied.push(idOf(obj));
    } catch (err) {
      throw classify(err, `apply ${idOf(obj)}`);
    }
  }
  return { observation: { state: 'applied', message: `${objects.map(idOf).join(' and ')} applied` }, applied, deleted };
}
