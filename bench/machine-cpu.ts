// The machine's busy CPU seconds, for the benchmarks to set an operator's
// (or a client's) share beside the whole machine's.
import { readFileSync } from 'node:fs';

/** CPU seconds the whole machine spent busy since boot (/proc/stat: all but idle and iowait). */
export function machineCpuSeconds(): number {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) / 100;
}
