// The condition gauge (securevote_status_condition), as Prometheus scrapes
// it: kube-state-metrics' shape, one series per condition type and status,
// 1 for the status the type has now and 0 for the others, gone with the
// resource. Its series are written at scrape time from one record per
// SecureVote (operator/metrics.ts).
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../operator/metrics.ts';

const series = async (m: Metrics): Promise<string[]> =>
  (await m.registry.getSingleMetricAsString('securevote_status_condition')).split('\n').filter((l) => !l.startsWith('#')).sort();

describe('the condition gauge', () => {
  it('has three series per condition type, 1 for its status now, and follows a change', async () => {
    const m = new Metrics();
    m.setConditions('shop', 'ballot', [{ type: 'Ready', status: 'False' }, { type: 'Degraded', status: 'Unknown' }]);
    expect(await series(m)).toEqual([
      'securevote_status_condition{namespace="shop",securevote="ballot",type="Degraded",status="False"} 0',
      'securevote_status_condition{namespace="shop",securevote="ballot",type="Degraded",status="True"} 0',
      'securevote_status_condition{namespace="shop",securevote="ballot",type="Degraded",status="Unknown"} 1',
      'securevote_status_condition{namespace="shop",securevote="ballot",type="Ready",status="False"} 1',
      'securevote_status_condition{namespace="shop",securevote="ballot",type="Ready",status="True"} 0',
      'securevote_status_condition{namespace="shop",securevote="ballot",type="Ready",status="Unknown"} 0',
    ]);
    // Ready now True; Degraded no longer reported: its series go.
    m.setConditions('shop', 'ballot', [{ type: 'Ready', status: 'True' }]);
    expect(await series(m)).toEqual([
      'securevote_status_condition{namespace="shop",securevote="ballot",type="Ready",status="False"} 0',
      'securevote_status_condition{namespace="shop",securevote="ballot",type="Ready",status="True"} 1',
      'securevote_status_condition{namespace="shop",securevote="ballot",type="Ready",status="Unknown"} 0',
    ]);
  });

  it('drops a deleted resource’s series and only its own', async () => {
    const m = new Metrics();
    m.setConditions('shop', 'ballot', [{ type: 'Ready', status: 'True' }]);
    m.setConditions('shop', 'poll', [{ type: 'Ready', status: 'True' }]);
    m.setConditions('other', 'ballot', [{ type: 'Ready', status: 'False' }]);
    m.setConditions('shop', 'ballot', undefined);
    const text = await series(m);
    expect(text).toHaveLength(6);
    expect(text.filter((l) => l.includes('namespace="shop",securevote="ballot"'))).toEqual([]);
    expect(text).toContain('securevote_status_condition{namespace="other",securevote="ballot",type="Ready",status="False"} 1');
    expect(text).toContain('securevote_status_condition{namespace="shop",securevote="poll",type="Ready",status="True"} 1');
    // Label values are escaped as prom-client escapes any other series'.
    m.setConditions('shop', 'x"y', [{ type: 'Ready', status: 'True' }]);
    expect(await series(m)).toContain('securevote_status_condition{namespace="shop",securevote="x\\"y",type="Ready",status="True"} 1');
  });
});
