// Events on the SecureVote (core/v1, what `kubectl describe` shows). Best
// effort: an Event that can't be written is logged and forgotten, it never
// fails a reconcile.
import { randomBytes } from 'node:crypto';
import { HttpMethod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { EventRecorder, KObject } from './context.ts';
import type { RawKubeApi } from './kube.ts';

export class KubeEventRecorder implements EventRecorder {
  private readonly raw: RawKubeApi;
  private readonly log: Logger;
  private readonly component: string;
  private readonly instance: string;
  private readonly onRequest: () => void;

  constructor(raw: RawKubeApi, log: Logger, component: string, instance: string, onRequest: () => void = () => {}) {
    this.raw = raw;
    this.log = log;
    this.component = component;
    this.instance = instance;
    this.onRequest = onRequest;
  }

  async publish(regarding: KObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const ns = regarding.metadata.namespace ?? 'default';
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${regarding.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
      involvedObject: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        name: regarding.metadata.name,
        namespace: ns,
        uid: regarding.metadata.uid,
        resourceVersion: regarding.metadata.resourceVersion,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      this.onRequest();
      const path = await this.raw.pathOf({ apiVersion: 'v1', kind: 'Event', namespace: ns }, 'create');
      await this.raw.send(HttpMethod.POST, path, { body: event });
    } catch (err) {
      this.log.warn({ err: (err as Error).message, reason }, 'could not record an event');
    }
  }
}
