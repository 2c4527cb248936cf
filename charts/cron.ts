/**
 * Five-field cron schedules (minute hour day-of-month month day-of-week, in
 * UTC), as crontab(5) reads them: `*`, numbers, ranges `a-b`, steps `/n`,
 * lists `,`; day-of-week 0-7 (0 and 7 are Sunday); when both day fields are
 * restricted, a day matching either runs. No names, no seconds, no `?`.
 *
 * Hand-written rather than a library: an npm dependency is an input of every
 * Node image (charts/image-inputs.ts), so adding one re-tags the app images
 * for the operator's sake. This is the whole of what spec.backup.schedule
 * needs: validation with a message naming the field, and the next run.
 */

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

export interface CronSchedule {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0-6, Sunday 0 (7 folded into 0). */
  readonly weekdays: ReadonlySet<number>;
  readonly dayRestricted: boolean;
  readonly weekdayRestricted: boolean;
}

export class CronError extends Error {}

function parseField(text: string, f: (typeof FIELDS)[number]): Set<number> {
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
    if (!m) throw new CronError(`${f.name}: "${item}" is not *, a number, a range a-b or a step /n`);
    const star = m[1] === '*';
    const from = star ? f.min : Number(m[2]);
    // `a/n` runs from a to the field's end, as crontab does.
    const to = star ? f.max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? f.max : from;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (from < f.min || to > f.max) throw new CronError(`${f.name}: ${item} is outside ${f.min}-${f.max}`);
    if (from > to) throw new CronError(`${f.name}: the range ${item} runs backwards`);
    if (step < 1) throw new CronError(`${f.name}: the step in ${item} must be at least 1`);
    for (let v = from; v <= to; v += step) out.add(v);
  }
  return out;
}

/** Parses a schedule; throws CronError naming the field at fault. */
export function parseCron(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) throw new CronError(`expected five fields (minute hour day-of-month month day-of-week), got ${parts.length}`);
  const [minutes, hours, days, months, weekdays] = parts.map((p, i) => parseField(p, FIELDS[i]!)) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (weekdays.delete(7)) weekdays.add(0);
    // crontab's rule: a day field starting with `*` (`*`, `*/2`) does not restrict.
  return { minutes, hours, days, months, weekdays, dayRestricted: !parts[2]!.startsWith('*'), weekdayRestricted: !parts[4]!.startsWith('*') };
}

function dayMatches(s: CronSchedule, d: Date): boolean {
  const day = s.days.has(d.getUTCDate());
  const weekday = s.weekdays.has(d.getUTCDay());
  if (s.dayRestricted && s.weekdayRestricted) return day || weekday;
  return day && weekday;
}

/** The first run strictly after `after` (to the minute), or undefined if none within five years (e.g. 30 February). */
export function nextRun(s: CronSchedule, after: Date): Date | undefined {
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  const limit = after.getTime() + 5 * 366 * 24 * 3600 * 1000;
  while (t.getTime() <= limit) {
    if (!s.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0);
    } else if (!dayMatches(s, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0);
    } else if (!s.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0);
    } else if (!s.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1);
    } else {
      return t;
    }
  }
  return undefined;
}
