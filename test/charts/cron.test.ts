// charts/cron.ts against crontab(5)'s rules, with dates worked out by hand
// (2026-12-02 is a Wednesday).
import { describe, expect, it } from 'vitest';
import { CronError, nextRun, parseCron } from '../../charts/cron.ts';
import { parseSpec } from '../../charts/spec.ts';

const next = (expr: string, after: string) => nextRun(parseCron(expr), new Date(after))?.toISOString();

describe('cron schedules (spec.backup.schedule)', () => {
  it('finds the next run strictly after the given time, to the minute, in UTC', () => {
    expect(next('* * * * *', '2026-12-02T06:00:30Z')).toBe('2026-12-02T06:01:00.000Z');
    expect(next('* * * * *', '2026-12-02T06:01:00Z')).toBe('2026-12-02T06:02:00.000Z');
    expect(next('0 3 * * *', '2026-12-02T06:00:00Z')).toBe('2026-12-03T03:00:00.000Z');
    expect(next('*/15 * * * *', '2026-12-02T06:16:00Z')).toBe('2026-12-02T06:30:00.000Z');
    expect(next('5-10/5 8 * * *', '2026-12-02T08:06:00Z')).toBe('2026-12-02T08:10:00.000Z');
    expect(next('30 23 31 12 *', '2026-12-02T00:00:00Z')).toBe('2026-12-31T23:30:00.000Z');
  });

  it('reads day of week with 0 and 7 as Sunday, and either day field when both are restricted', () => {
    expect(next('15 10 * * 1', '2026-12-02T06:00:00Z')).toBe('2026-12-07T10:15:00.000Z');
    expect(next('0 0 * * 7', '2026-12-02T06:00:00Z')).toBe('2026-12-06T00:00:00.000Z');
    // The 1st of the month OR a Sunday: Sunday the 6th comes first.
    expect(next('0 0 1 * 0', '2026-12-02T00:00:00Z')).toBe('2026-12-06T00:00:00.000Z');
    // `*/2` starts with `*`: it does not restrict, so the day of month alone counts.
    expect(next('0 0 10 * */2', '2026-12-02T00:00:00Z')).toBe('2026-12-10T00:00:00.000Z');
  });

  it('skips to the next leap year for 29 February, and finds none for 30 February', () => {
    expect(next('0 0 29 2 *', '2026-03-01T00:00:00Z')).toBe('2028-02-29T00:00:00.000Z');
    expect(next('0 0 30 2 *', '2026-03-01T00:00:00Z')).toBeUndefined();
  });

  it('refuses what crontab refuses, naming the field, and the spec reports it as spec.backup.schedule', () => {
    for (const [expr, message] of [
      ['61 * * * *', 'minute: 61 is outside 0-59'],
      ['* 24 * * *', 'hour: 24 is outside 0-23'],
      ['* * 0 * *', 'day of month: 0 is outside 1-31'],
      ['* * * 13 *', 'month: 13 is outside 1-12'],
      ['* * * * 8', 'day of week: 8 is outside 0-7'],
      ['5-2 * * * *', 'minute: the range 5-2 runs backwards'],
      ['*/0 * * * *', 'minute: the step in */0 must be at least 1'],
      ['* * * *', 'expected five fields (minute hour day-of-month month day-of-week), got 4'],
    ] as const) {
      expect(() => parseCron(expr)).toThrow(new CronError(message));
    }
    expect(parseSpec({ backup: { schedule: '0 25 * * *' } })).toEqual({ ok: false, errors: ['spec.backup.schedule: hour: 25 is outside 0-23'] });
  });
});
