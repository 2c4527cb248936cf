// What `make demo` shows while it works: one line per long step with its
// elapsed time, and a live view of the SecureVote until it settles (phase,
// each component's ready/desired from status, elapsed), which stops at once,
// with what to do, when a pod can't pull its image.
import { execFileSync } from 'node:child_process';
import { COMPONENTS } from '../charts/rules.ts';

const t0 = Date.now();
const secs = (ms: number): string => (ms < 60_000 ? `${(ms / 1000).toFixed(0)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`);

export function say(line: string): void {
  console.log(`==> ${line}`);
}

let planned = 0;
let done = 0;

/** How many long steps this run has (each step's line then says which it is). */
export function plan(steps: number): void {
  planned = steps;
  done = 0;
}

/** Runs one long step: a line when it starts (which of the planned ones), one when it ends with its time and the time since the start. */
export async function step<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  const start = Date.now();
  done++;
  say(planned ? `[${done}/${planned}] ${name}` : name);
  const out = await fn();
  console.log(`    done in ${secs(Date.now() - start)} (${secs(Date.now() - t0)} since the start)`);
  return out;
}

/** Runs a command with its output on ours; throws with its exit code. */
export function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  execFileSync(cmd, args, { stdio: 'inherit', env });
}

interface Status {
  phase?: string;
  observedGeneration?: number;
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string; observedGeneration?: number }>;
  components?: Record<string, { ready?: number; desired?: number; image?: string }>;
}

/** The hint for images a cluster can't pull. */
export const PUBLISH_HINT = [
  'The cluster cannot pull the securevote/* images (they are built here, not published).',
  'Publish them to a registry the cluster can pull from, then point the stack and the operator at it:',
  '  make push REGISTRY=registry.example.com/team     # tags and pushes every image',
  '  spec.<component>.image: registry.example.com/team/securevote/<component>:<tag>   (in the SecureVote)',
  '  OPERATOR_IMAGE=registry.example.com/team/securevote/operator:<tag> make deploy',
  'On kind, `make demo` with no KUBECONFIG loads them into the node itself.',
].join('\n');

export class ImagePullError extends Error {}

/**
 * Polls the SecureVote until Ready and no longer Progressing at its current
 * generation, printing a line each time what it says changes (a single line
 * rewritten in place on a terminal). Throws ImagePullError as soon as the
 * status names an image that can't be pulled, and an Error at the timeout.
 */
export async function watchUntilSettled(get: () => string, timeoutMs: number): Promise<void> {
  const start = Date.now();
  const tty = process.stdout.isTTY === true;
  let last = '';
  for (;;) {
    let line: string;
    let settled = false;
    let pull: string | undefined;
    try {
      const sv = JSON.parse(get()) as { metadata: { generation?: number }; status?: Status };
      const st = sv.status ?? {};
      const gen = sv.metadata.generation ?? 0;
      const at = (t: string) => st.conditions?.find((c) => c.type === t && (c.observedGeneration ?? -1) >= gen);
      const comps = COMPONENTS.filter((c) => st.components?.[c]).map((c) => `${c} ${st.components?.[c]?.ready ?? 0}/${st.components?.[c]?.desired ?? 0}`).join(', ');
      const progressing = at('Progressing');
      const ready = at('Ready');
      settled = ready?.status === 'True' && progressing?.status === 'False';
      const why = ready?.status !== 'True' ? ready?.reason : progressing?.status === 'True' ? progressing.reason : undefined;
      line = `${st.phase ?? 'Pending'}${why ? ` (${why})` : ''}: ${comps || 'no component yet'}`;
      pull = st.conditions?.find((c) => c.reason === 'ImagePullFailed' || /can't be pulled/.test(c.message ?? ''))?.message;
    } catch {
      line = 'waiting for the SecureVote';
    }
    const elapsed = `${Math.round((Date.now() - start) / 1000)} s`;
    if (tty) process.stdout.write(`\r    ${line}, ${elapsed}\x1b[K`);
    else if (line !== last) console.log(`    ${line}, ${elapsed}`);
    last = line;
    if (pull) {
      if (tty) process.stdout.write('\n');
      throw new ImagePullError(`${pull}\n${PUBLISH_HINT}`);
    }
    if (settled) {
      if (tty) process.stdout.write('\n');
      return;
    }
    if (Date.now() - start > timeoutMs) {
      if (tty) process.stdout.write('\n');
      throw new Error(`not Ready after ${Math.round(timeoutMs / 1000)} s: ${line}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
