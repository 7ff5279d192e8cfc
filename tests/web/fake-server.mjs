// A stand-in for rcoapd's WebSocket side, for developing and testing the
// browser client and demo page before rcoapd speaks WebSockets. It serves
// web/ over HTTP and accepts WebSocket upgrades at /.well-known/coap with
// subprotocol "coap", speaking just enough CoAP over WebSockets (RFC 8323
// §4) for rcoapd's demo resources: /.well-known/core, /hello, /time, /echo,
// /store/..., /sensors/temp (observable unless --no-observe) and /large
// (100 KiB, Block2). It is a dev/test aid only, not a CoAP server to copy.
//
//   node tests/web/fake-server.mjs [--port 8080] [--host 127.0.0.1] [--no-observe] [--quiet]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import {
  encode, decode, describe, decodeUint, decodeBlock, encodeBlock, OPT, CODE,
} from '../../web/rcoap-codec.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WEB_ROOT = path.resolve(HERE, '../../web');
const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json',
};
const BLOCK_SZX = 6; // 1024-byte blocks
const te = new TextEncoder();
const td = new TextDecoder();

function largeBody() {
  const lines = [];
  let n = 0;
  for (let i = 0; n < 100 * 1024; i++) {
    const l = `${String(i).padStart(5, '0')} The quick brown fox jumps over the lazy dog. rcoap block-wise test line.\n`;
    lines.push(l);
    n += l.length;
  }
  return te.encode(lines.join('').slice(0, 100 * 1024));
}

/** Starts the fake server; resolves to {url, port, close()}. */
export function startFakeServer({ port = 8080, host = '127.0.0.1', observe = true, quiet = false } = {}) {
  const log = quiet ? () => {} : (...a) => console.log(...a);
  const store = new Map(); // path -> {payload, cf}
  const large = largeBody();
  const startTemp = 21.5;
  const tempAt = () => {
    const t = Date.now() / 1000;
    return Math.round((startTemp + 1.5 * Math.sin(t / 20) + 0.2 * Math.sin(t * 1.3)) * 10) / 10;
  };

  const httpServer = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let p = decodeURIComponent(url.pathname);
    if (p === '/') p = '/index.html';
    const file = path.resolve(WEB_ROOT, `.${p}`);
    if (!file.startsWith(WEB_ROOT + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': MIME[path.extname(file)] || 'application/octet-stream',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    res.end(fs.readFileSync(file));
  });

  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has('coap') ? 'coap' : false),
  });
  httpServer.on('upgrade', (req, socket, head) => {
    if (new URL(req.url, 'http://x').pathname !== '/.well-known/coap') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  const links = () => [
    '</hello>;rt="greeting";ct=0;title="Hello world"',
    '</time>;rt="clock";ct=0',
    '</echo>;rt="echo";if="core.p";title="Echoes payload, CoAP POST"',
    '</store>;rt="store";if="core.rp";title="PUT creates, GET reads, DELETE removes"',
    `</sensors/temp>;rt="temperature-c";if="sensor";ct=0${observe ? ';obs' : ''}`,
    `</large>;rt="large";ct=0;sz=${large.length};title="100 KiB, block-wise"`,
    ...[...store.keys()].map((k) => `<${k}>;rt="stored"`),
  ].join(',');

  wss.on('connection', (ws, req) => {
    const peer = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    let gotCsm = false;
    const observers = new Map(); // token hex -> timer
    let seq = 2;
    log(`[${peer}] connected (subprotocol ${ws.protocol})`);
    const send = (msg) => {
      const b = encode(msg);
      log(`[${peer}] -> ${describe(msg)}`);
      ws.send(b);
    };
    // RFC 8323 §3.3: the acceptor MAY wait for the initiator's CSM; we do.
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        ws.close(1003, 'binary frames only');
        return;
      }
      let m;
      try {
        m = decode(new Uint8Array(data));
      } catch (e) {
        send({ code: CODE.ABORT, payload: te.encode(e.message) });
        ws.close();
        return;
      }
      log(`[${peer}] <- ${describe(m)}`);
      if (!gotCsm) {
        if (m.code !== CODE.CSM) {
          send({ code: CODE.ABORT, payload: te.encode('first message must be a CSM') });
          ws.close();
          return;
        }
        gotCsm = true;
        send({ code: CODE.CSM, options: [{ number: 2, value: 8388864 }, { number: 4, value: null }] });
        return;
      }
      if (m.code === CODE.PING) {
        send({ code: CODE.PONG, token: m.token });
        return;
      }
      if (m.code >= 0xe0 || m.code === 0) return;
      if (m.code < 1 || m.code > 31) return;
      handle(m);
    });
    ws.on('close', () => {
      for (const t of observers.values()) clearInterval(t);
      log(`[${peer}] closed`);
    });

    function reply(req, code, { payload, cf, options = [] } = {}) {
      let body = payload ? (typeof payload === 'string' ? te.encode(payload) : payload) : new Uint8Array(0);
      const opts = [...options];
      if (cf !== undefined) opts.push({ number: OPT.CONTENT_FORMAT, value: cf });
      const b2req = req.options.find((o) => o.number === OPT.BLOCK2);
      if ((code >> 5) === 2 && (body.length > 1024 || b2req)) {
        const want = b2req ? decodeBlock(decodeUint(b2req.value)) : { num: 0, szx: BLOCK_SZX };
        const szx = Math.min(want.szx, BLOCK_SZX);
        const size = 1 << (szx + 4);
        const num = b2req ? (want.num * (1 << (want.szx + 4))) / size : 0;
        const start = num * size;
        if (start >= body.length && body.length > 0) {
          send({ code: 0x80, token: req.token, payload: te.encode('block out of range') });
          return;
        }
        const more = start + size < body.length;
        opts.push({ number: OPT.BLOCK2, value: encodeBlock({ num, more, szx }) });
        if (num === 0) opts.push({ number: OPT.SIZE2, value: body.length });
        body = body.subarray(start, start + size);
      }
      send({ code, token: req.token, options: opts, payload: body });
    }

    function handle(m) {
      const segs = m.options.filter((o) => o.number === OPT.URI_PATH).map((o) => td.decode(o.value));
      const p = `/${segs.join('/')}`;
      const cfOpt = m.options.find((o) => o.number === OPT.CONTENT_FORMAT);
      const cf = cfOpt ? decodeUint(cfOpt.value) : undefined;
      const obsOpt = m.options.find((o) => o.number === OPT.OBSERVE);
      const method = m.code;
      const key = Buffer.from(m.token).toString('hex');
      if (p === '/.well-known/core' && method === CODE.GET) return reply(m, 0x45, { payload: links(), cf: 40 });
      if (p === '/hello' && method === CODE.GET) return reply(m, 0x45, { payload: 'Hello, world! (rcoap fake server)', cf: 0 });
      if (p === '/time' && method === CODE.GET) return reply(m, 0x45, { payload: new Date().toISOString(), cf: 0 });
      if (p === '/echo' && method === CODE.POST) return reply(m, 0x44, { payload: m.payload, cf });
      if (p === '/large' && method === CODE.GET) return reply(m, 0x45, { payload: large, cf: 0 });
      if (p === '/sensors/temp' && method === CODE.GET) {
        const body = () => tempAt().toFixed(1);
        if (observe && obsOpt && decodeUint(obsOpt.value) === 0) {
          clearInterval(observers.get(key));
          observers.set(key, setInterval(() => {
            send({ code: 0x45, token: m.token, options: [{ number: OPT.OBSERVE, value: seq++ & 0xffffff }, { number: OPT.CONTENT_FORMAT, value: 0 }], payload: te.encode(body()) });
          }, 1000));
          return reply(m, 0x45, { payload: body(), cf: 0, options: [{ number: OPT.OBSERVE, value: seq++ }] });
        }
        if (obsOpt && decodeUint(obsOpt.value) === 1) {
          clearInterval(observers.get(key));
          observers.delete(key);
        }
        return reply(m, 0x45, { payload: body(), cf: 0 });
      }
      if (p.startsWith('/store/') && segs.length >= 2) {
        if (method === CODE.PUT) {
          const existed = store.has(p);
          store.set(p, { payload: m.payload, cf });
          return reply(m, existed ? 0x44 : 0x41);
        }
        if (method === CODE.GET || method === CODE.FETCH) {
          const e = store.get(p);
          if (!e) return reply(m, 0x84, { payload: `no ${p}` });
          return reply(m, 0x45, { payload: e.payload, cf: e.cf });
        }
        if (method === CODE.DELETE) {
          if (!store.delete(p)) return reply(m, 0x84, { payload: `no ${p}` });
          return reply(m, 0x42);
        }
        return reply(m, 0x85);
      }
      const known = ['/.well-known/core', '/hello', '/time', '/echo', '/large', '/sensors/temp', '/store'];
      return reply(m, known.includes(p) ? 0x85 : 0x84);
    }
  });

  return new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, host, () => {
      const a = httpServer.address();
      const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({
        port: a.port,
        url: `http://${h}:${a.port}/`,
        close: () => new Promise((r) => {
          for (const c of wss.clients) c.terminate();
          wss.close();
          httpServer.close(() => r());
          httpServer.closeAllConnections?.();
        }),
      });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const val = (name, d) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : d;
  };
  const srv = await startFakeServer({
    port: Number(val('--port', 8080)),
    host: val('--host', '127.0.0.1'),
    observe: !args.includes('--no-observe'),
    quiet: args.includes('--quiet'),
  });
  console.log(`fake rcoapd listening on ${srv.url} (coap+ws at /.well-known/coap)`);
  const stop = () => srv.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

