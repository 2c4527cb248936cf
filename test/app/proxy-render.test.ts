// renderNginxConf as a pure function: what each option puts in the config and
// every validation rule. (test/app/proxy.test.ts runs the result in nginx.)
import { describe, expect, it } from 'vitest';
import { renderNginxConf } from '../../app/proxy/render.ts';

const base = { frontend: { host: 'frontend', port: 3000 }, backend: { host: 'backend', port: 5000 } };

describe('renderNginxConf', () => {
  it('fills every placeholder with container defaults', () => {
    const conf = renderNginxConf(base);
    expect(conf).not.toMatch(/\{\{/);
    expect(conf).toContain('listen 0.0.0.0:8080;');
    expect(conf).toContain('pid /tmp/nginx/nginx.pid;');
    expect(conf).toContain('client_body_temp_path /tmp/nginx/client_body;');
    // One address: listed several times, never marked down, so a request that reached no pod has a next peer.
    expect(conf.match(/server frontend:3000 max_fails=0;/g)).toHaveLength(3);
    expect(conf.match(/server backend:5000 max_fails=0;/g)).toHaveLength(3);
    expect(conf).toContain('proxy_next_upstream error timeout;');
    expect(conf).toContain('worker_shutdown_timeout 20s;');
    expect(conf).toMatch(/keepalive \d+;/);
    expect(conf).toContain('server_tokens off;');
    expect(conf).toContain('client_max_body_size 16k;');
    expect(conf).toContain('access_log /dev/stdout securevote_json;');
    expect(conf).toContain('worker_processes 1;');
    expect(conf).not.toContain('resolver');
    expect(conf).not.toContain('location /static/');
    expect(conf).not.toContain('proxy_cache');
  });

  it('several addresses: each once, with the passive check; upstreamCopies and the shutdown timeout are bounded', () => {
    const conf = renderNginxConf({ ...base, backend: [{ host: 'b1', port: 5000 }, { host: 'b2', port: 5001 }], upstreamCopies: 2, shutdownTimeoutSeconds: 7 });
    expect(conf).toMatch(/upstream securevote_backend \{\n\s+server b1:5000;\n\s+server b2:5001;\n/);
    expect(conf.match(/server frontend:3000 max_fails=0;/g)).toHaveLength(2);
    expect(conf).toContain('worker_shutdown_timeout 7s;');
    expect(() => renderNginxConf({ ...base, upstreamCopies: 0 })).toThrow(/upstreamCopies/);
    expect(() => renderNginxConf({ ...base, backend: [] })).toThrow(/at least one/);
    expect(() => renderNginxConf({ ...base, shutdownTimeoutSeconds: 0 })).toThrow(/shutdownTimeoutSeconds/);
  });

  it('micro-caches /api/results only when asked', () => {
    const conf = renderNginxConf({ ...base, resultsCacheSeconds: 1, tempDir: '/var/cache/nginx' });
    expect(conf).toContain('proxy_cache_path /var/cache/nginx/cache ');
    expect(conf).toContain('location = /api/results {');
    expect(conf).toContain('proxy_cache_valid 200 1s;');
  });

  it('uses the given port, host, paths and workers', () => {
    const conf = renderNginxConf({
      ...base, listenPort: 18080, listenHost: '127.0.0.1', pidPath: '/run/x/nginx.pid', tempDir: '/var/cache/nginx/',
      workerProcesses: 'auto', accessLog: 'off', staticRoot: '/srv/static',
    });
    expect(conf).toContain('listen 127.0.0.1:18080;');
    expect(conf).toContain('pid /run/x/nginx.pid;');
    expect(conf).toContain('proxy_temp_path /var/cache/nginx/proxy;');
    expect(conf).toContain('worker_processes auto;');
    expect(conf).toContain('access_log off;');
    expect(conf).toContain('alias /srv/static/;');
  });

  it('with a resolver, resolves upstream names per request and has no upstream block', () => {
    const conf = renderNginxConf({ ...base, resolver: 'kube-dns.kube-system.svc.cluster.local' });
    expect(conf).toContain('resolver kube-dns.kube-system.svc.cluster.local valid=10s ipv6=off;');
    expect(conf).not.toMatch(/upstream securevote_/);
    expect(conf).toContain('proxy_pass $securevote_backend;');
    expect(conf).toContain('default "http://frontend:3000"');
  });

  it('is deterministic (same options, same text: the ConfigMap does not churn)', () => {
    expect(renderNginxConf(base)).toBe(renderNginxConf({ ...base }));
  });

  it.each([
    [{ listenPort: 0 }, /listenPort must be an integer 1-65535, got 0/],
    [{ listenPort: 70000 }, /listenPort must be an integer 1-65535, got 70000/],
    [{ listenHost: '0.0.0.0; evil' }, /listenHost is not a host name/],
    [{ frontend: { host: 'a b', port: 3000 } }, /frontend.host is not a host name/],
    [{ backend: { host: 'backend', port: 1.5 } }, /backend.port must be an integer/],
    [{ pidPath: 'relative/nginx.pid' }, /pidPath must be an absolute path/],
    [{ tempDir: '/tmp/x;y' }, /tempDir must be an absolute path/],
    [{ resolver: '10.0.0.1 evil' }, /resolver is not a host name/],
    [{ workerProcesses: 0 }, /workerProcesses must be 'auto' or an integer 1-64, got 0/],
    [{ staticRoot: '/srv/{x}' }, /staticRoot must be an absolute path/],
    [{ accessLog: 'stdout' }, /accessLog must be an absolute path/],
    [{ resultsCacheSeconds: -1 }, /resultsCacheSeconds must be an integer 0-60, got -1/],
  ])('rejects %j', (bad, message) => {
    expect(() => renderNginxConf({ ...base, ...bad })).toThrow(message);
  });
});
