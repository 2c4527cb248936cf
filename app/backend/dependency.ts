// Up/down state of a dependency, fed by every call that touches it: updates
// the gauge and logs once per transition (not once per failed request, so an
// outage under load is two log lines, not thousands).
import type { Logger } from './log.ts';
import type { Dependency, Metrics } from './metrics.ts';

export interface DependencyState {
  isUp(): boolean;
  set(up: boolean, reason?: string): void;
}

export function trackDependency(name: Dependency, log: Logger, metrics: Metrics): DependencyState {
  let up: boolean | undefined;
  return {
    isUp: () => up === true,
    set(next, reason) {
      metrics.setUp(name, next);
      if (next === up) return;
      const first = up === undefined;
      up = next;
      if (next && !first) log.info({ dependency: name }, `${name} is back`);
      else if (!next) log.warn({ dependency: name, reason }, `${name} is unavailable`);
    },
  };
}
