/**
 * Backups of the votes of record, and restores from them: what the backup
 * Job and the restore init container run (charts/backup.sh,
 * charts/restore.sh, shipped in the instance's scripts ConfigMap) and the
 * one query both use to record and to check the votes.
 */
import { readFileSync } from 'node:fs';

/**
 * "COUNT MD5" over every vote row: every column (row_to_json, whatever the
 * schema's version), in key order, timestamps in UTC (the scripts set
 * PGTZ). The backup records it from its own snapshot; the verification and
 * the restore compute it again on the restored data and must find the same.
 */
export const VOTES_SUM_SQL =
  "SELECT count(*) || ' ' || md5(coalesce(string_agg(row_to_json(v)::text, E'\\n' ORDER BY v.voter_id), '')) FROM votes v;";

/** The scripts, read beside this module (the operator's bundle copies them beside itself). */
export function backupScripts(): { 'backup.sh': string; 'restore.sh': string } {
  const read = (f: string) => readFileSync(new URL(`./${f}`, import.meta.url), 'utf8');
  return { 'backup.sh': read('backup.sh'), 'restore.sh': read('restore.sh') };
}
