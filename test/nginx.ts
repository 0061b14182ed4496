/**
 * A throwaway nginx in front of several mains: a generated config on loopback
 * ports in a folder of the caller's, started with -p/-c (never a system
 * nginx), stopped with SIGTERM (a SIGKILLed master leaves its workers
 * running). The same config the README gives, plus temp paths.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort } from './postgres.ts'

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(p => existsSync(p))
/** nginx starts in milliseconds; a loaded machine is given far longer. */
const NGINX_START_TIMEOUT_MS = 30_000
/** How long a SIGTERMed nginx is given to stop its workers. */
const NGINX_STOP_TIMEOUT_MS = 10_000

export interface Nginx {
  url: string
  child: ChildProcess
  stop: () => Promise<void>
}

export function nginxConf (dir: string, listen: number, upstreams: number[], keepalive = 16): string {
  const asRoot = process.getuid?.() === 0
  return `${asRoot ? 'user root root;\n' : ''}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream reelnet_main {
${upstreams.map(p => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive ${keepalive};
  }
  server {
    listen 127.0.0.1:${listen};
    client_max_body_size 0;
    location / {
      proxy_pass http://reelnet_main;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_next_upstream error timeout http_502;
      proxy_connect_timeout 2s;
    }
  }
}
`
}

/** Start nginx balancing over 127.0.0.1:`upstreams`; resolves once it answers /healthz (through to a main). */
export async function startNginx (dir: string, upstreams: number[], keepalive?: number): Promise<Nginx> {
  if (NGINX === undefined) throw new Error('nginx is not installed (.ci/run installs Debian\'s nginx)')
  await mkdir(dir, { recursive: true })
  const listen = await freePort()
  await writeFile(join(dir, 'nginx.conf'), nginxConf(dir, listen, upstreams, keepalive))
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
  const url = `http://127.0.0.1:${listen}`
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const gone = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGTERM')
    await Promise.race([gone, new Promise(resolve => setTimeout(resolve, NGINX_STOP_TIMEOUT_MS))])
  }
  const end = Date.now() + NGINX_START_TIMEOUT_MS
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${stderr}`)
    const ok = await fetch(`${url}/healthz`).then(r => r.ok, () => false)
    if (ok) return { url, child, stop }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  await stop()
  throw new Error(`nginx did not answer within ${NGINX_START_TIMEOUT_MS} ms: ${stderr}`)
}
