// Prints the proxy's nginx.conf for a container, from the ONE template
// (app/proxy/nginx.conf.template via renderNginxConf). Used by
// app/proxy/Dockerfile at build time; settings come from the environment:
//   PROXY_FRONTEND=host:port  PROXY_BACKEND=host:port  PROXY_RESOLVER=ip|''
import { renderNginxConf, type Upstream } from '../../app/proxy/render.ts';

function upstream(name: string, fallback: string): Upstream {
  const value = process.env[name] || fallback;
  const m = /^([^:]+):(\d+)$/.exec(value);
  if (m === null) throw new Error(`${name} must be host:port, got ${JSON.stringify(value)}`);
  return { host: m[1] as string, port: Number(m[2]) };
}

const resolver = process.env.PROXY_RESOLVER;
process.stdout.write(renderNginxConf({
  listenPort: 8080,
  frontend: upstream('PROXY_FRONTEND', 'frontend:3000'),
  backend: upstream('PROXY_BACKEND', 'backend:5000'),
  pidPath: '/tmp/nginx/nginx.pid',
  tempDir: '/tmp/nginx',
  ...(resolver ? { resolver } : {}),
}));
