// A pod gone before kube-proxy has dropped it from a Service's rules (a
// kube-proxy behind on a busy node: paused here, for real, with SIGSTOP).
// New connections enter on the control plane's node (kind maps the NodePort
// there) and are still sent to the dead pod's address; on the pod's node they
// must fail at once (the CNI answers an address no pod holds with a TCP
// reset), so the voter's retry (1, 2, 4 s later, as the page retries) finds a
// live pod once kube-proxy catches up. Answered by the routing error's ICMP
// alone, which the kernel sends about once a second to each source, most
// connections from another node waited out their SYN retransmits instead. Before the node had that route
// they followed its default route off the node, and whatever answered there
// (this machine's egress proxy: "403 resolve_deny") answered votes.
import { expect, it } from 'vitest';
import { checkStoredOk, describeScenario, figures, podsOf, underLoad, waitReady } from './stack.ts';

describeScenario('a proxy pod gone while kube-proxy still routes to it', (stack) => {
  it('answers no vote from off the node: retried votes land, none fails, every acknowledged vote is stored once', async () => {
    const s = stack();
    await waitReady(s);
    const [old] = await podsOf(s, 'proxy');
    expect(old, 'a proxy pod runs').toBeDefined();
    const [ip, node] = (await s.kubectl(['-n', s.namespace, 'get', 'pod', old!.name, '-o', 'jsonpath={.status.podIP} {.spec.nodeName}'])).split(' ');
    // The route that keeps a dead pod's address on its node, as the CNI writes it (the node's pod range).
    expect(await s.onNode('ip route show type unreachable', node)).toMatch(/^unreachable 10\.244\.\d+\.0\/24/m);
    let resumed = false;
    const resume = async (): Promise<void> => {
      if (!resumed) await s.onNode('pkill -CONT -x kube-proxy');
      resumed = true;
    };
    try {
      const r = await underLoad(s, async () => {
        await s.onNode('pkill -STOP -x kube-proxy');
        // Deleted and gone (its address released) while the rules still name it.
        await s.kubectl(['-n', s.namespace, 'delete', 'pod', old!.name, '--wait=true', '--timeout=120s'], { timeoutMs: 130_000 });
        // The fault is real: the node's rules still send new connections there.
        const stale = await s.onNode(`iptables-save -t nat | grep -c -- "--to-destination ${ip}:" || true`);
        await new Promise((r) => setTimeout(r, 5_000));
        await resume();
        await waitReady(s);
        return Number(stale);
      });
      console.log(`${figures('proxy pod gone under a paused kube-proxy', r.load)}; retried ${JSON.stringify(r.load.retries)}`);
      expect(r.value, `kube-proxy's rules named ${ip} after its pod was gone`).toBeGreaterThan(0);
      expect(r.load.failures).toEqual({});
      expect(r.stored).toEqual(checkStoredOk);
    } finally {
      await resume();
    }
  }, 600_000);
});
