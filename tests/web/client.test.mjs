// Tests of web/rcoap.js's RcoapClient against small scripted CoAP-over-WS
// peers written here with the 'ws' package: each test's peer records what
// the client sends and answers exactly as the test says, so the client's
// protocol duties (CSM first, tokens, Block2, observe + cancel, Ping/Pong,
// Abort and Release, 5.01 for requests to it) are checked on the wire.
// Run: node --test tests/web/   (after `npm ci` in tests/web)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer, WebSocket } from 'ws';
import { RcoapClient } from '../../web/rcoap.js';
import {
  CoapError, encode, decode, decodeUint, decodeBlock, encodeBlock, hex, OPT, CODE,
} from '../../web/rcoap-codec.js';

const te = new TextEncoder();
const td = new TextDecoder();

/* A scripted peer. onConnection(peer) runs per connection; peer.next()
 * resolves with the next decoded message from the client (in order),
 * peer.send(msg) encodes and sends, peer.done settles when the script
 * ends. selectCoap false makes it refuse the "coap" subprotocol. */
async function withPeer(onConnection, fn, { selectCoap = true } = {}) {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    path: '/.well-known/coap',
    perMessageDeflate: false,
    handleProtocols: (p) => (selectCoap && p.has('coap') ? 'coap' : false),
  });
  await new Promise((r) => wss.once('listening', r));
  const peers = [];
  const done = [];
  wss.on('connection', (ws, req) => {
    const queue = [];
    const waiters = [];
    const peer = {
      ws,
      req,
      received: [],
      send: (m) => ws.send(encode(m)),
      sendRaw: (b) => ws.send(b),
      next: () => new Promise((res) => (queue.length ? res(queue.shift()) : waiters.push(res))),
      closed: new Promise((res) => ws.on('close', res)),
    };
    ws.on('message', (data) => {
      const m = decode(new Uint8Array(data));
      peer.received.push(m);
      if (waiters.length) waiters.shift()(m);
      else queue.push(m);
    });
    peers.push(peer);
    peer.done = Promise.resolve(onConnection(peer)).catch((e) => e);
    done.push(peer.done);
  });
  const url = `coap+ws://127.0.0.1:${wss.address().port}`;
  try {
    await fn(url, peers);
    const errs = (await Promise.all(done)).filter((e) => e instanceof Error);
    if (errs.length) throw errs[0];
  } finally {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
  }
}

// Every test ends within this, even if a peer script waits for a message that never comes.
const T = { timeout: 10000 };

const opt = (m, n) => m.options.find((o) => o.number === n);
const path = (m) => `/${m.options.filter((o) => o.number === OPT.URI_PATH).map((o) => td.decode(o.value)).join('/')}`;
const CSM_1152 = { code: CODE.CSM, options: [{ number: 2, value: 1152 }, { number: 4, value: null }] };

/* Standard opening on the peer side: expect the client's CSM, send ours. */
async function open(peer, csm = CSM_1152) {
  const first = await peer.next();
  assert.equal(first.code, CODE.CSM, 'first message from the client must be a CSM');
  peer.send(csm);
  return first;
}

function connect(url, opts = {}) {
  return RcoapClient.connect(url, { WebSocket, timeout: 2000, connectTimeout: 2000, ...opts });
}

test('CSM is the first message; connect waits for and records the server CSM', T, async () => {
  let csmSent = false;
  await withPeer(async (peer) => {
    assert.equal(peer.ws.protocol, 'coap');
    assert.equal(peer.req.url, '/.well-known/coap');
    const first = await peer.next();
    assert.equal(first.code, CODE.CSM);
    assert.equal(first.token.length, 0);
    assert.ok(decodeUint(opt(first, 2).value) > 1152, 'client offers a Max-Message-Size');
    assert.ok(opt(first, 4), 'client offers Block-Wise-Transfer');
    await new Promise((r) => setTimeout(r, 30)); // connect must still be pending
    csmSent = true;
    peer.send({ code: CODE.CSM, options: [{ number: 2, value: 4096 }, { number: 4, value: null }] });
    const get = await peer.next();
    peer.send({ code: 0x45, token: get.token });
  }, async (url) => {
    const c = await connect(url);
    assert.equal(csmSent, true, 'connect resolved before the server CSM');
    assert.deepEqual(c.serverCsm, { maxMessageSize: 4096, blockWiseTransfer: true, bert: true });
    assert.equal((await c.get('/x')).codeName, '2.05 Content');
    await c.close();
  });
});

test('a later CSM with a small Max-Message-Size turns BERT off and limits requests', T, async () => {
  await withPeer(async (peer) => {
    await open(peer, { code: CODE.CSM, options: [{ number: 2, value: 8192 }, { number: 4, value: null }] });
    peer.send({ code: CODE.CSM, options: [{ number: 2, value: 100 }] });
    const ping = await peer.next();
    peer.send({ code: CODE.PONG, token: ping.token });
  }, async (url) => {
    const c = await connect(url);
    await c.ping(); // the second CSM arrived before the Pong
    assert.equal(c.serverCsm.maxMessageSize, 100);
    assert.equal(c.serverCsm.bert, false);
    await assert.rejects(c.put('/x', 'a'.repeat(200)), { name: 'CoapError', code: 'RC_ERR_PEER_TOO_LARGE' });
    await c.close();
  });
});

test('concurrent requests are matched by token, answered in reverse order', T, async () => {
  await withPeer(async (peer) => {
    await open(peer);
    const a = await peer.next();
    const b = await peer.next();
    assert.equal(a.token.length, 4);
    assert.notEqual(hex(a.token), hex(b.token));
    for (const m of [b, a]) {
      peer.send({ code: 0x45, token: m.token, options: [{ number: OPT.CONTENT_FORMAT, value: 0 }], payload: te.encode(`you asked ${path(m)}`) });
    }
    const post = await peer.next();
    assert.equal(post.code, CODE.POST);
    assert.equal(decodeUint(opt(post, OPT.CONTENT_FORMAT).value), 50);
    assert.deepEqual(post.options.filter((o) => o.number === OPT.URI_QUERY).map((o) => td.decode(o.value)), ['a=1', 'b c']);
    peer.send({ code: 0x44, token: post.token, options: [{ number: OPT.CONTENT_FORMAT, value: 50 }], payload: post.payload });
  }, async (url) => {
    const c = await connect(url);
    const [ra, rb] = await Promise.all([c.get('/alpha'), c.get('/beta')]);
    assert.equal(ra.text(), 'you asked /alpha');
    assert.equal(rb.text(), 'you asked /beta');
    assert.equal(ra.contentFormat, 0);
    const rp = await c.post('/echo?a=1&b%20c', { hello: 'json' });
    assert.equal(rp.codeName, '2.04 Changed');
    assert.deepEqual(rp.json(), { hello: 'json' });
    await c.close();
  });
});

function blockServer(body, szx, { bert = false } = {}) {
  return async (peer) => {
    await open(peer, { code: CODE.CSM, options: [{ number: 2, value: bert ? 8192 : 1152 }, { number: 4, value: null }] });
    const size = szx === 7 ? 1024 : 1 << (szx + 4);
    const per = bert ? 2 : 1; // BERT: two 1024-byte units per message
    const nums = [];
    for (let i = 0; i < 1000; i++) {
      const m = await peer.next();
      const b2 = opt(m, OPT.BLOCK2);
      const want = b2 ? decodeBlock(decodeUint(b2.value)) : { num: 0 };
      nums.push(want.num);
      const start = want.num * size;
      const end = Math.min(body.length, start + size * per);
      const more = end < body.length;
      peer.send({ code: 0x45, token: m.token, options: [{ number: OPT.ETAG, value: te.encode('v1') }, { number: OPT.BLOCK2, value: encodeBlock({ num: want.num, more, szx }) }], payload: body.subarray(start, end) });
      if (!more) break;
    }
    return nums;
  };
}

test('Block2 GET is reassembled (1024-byte blocks, then BERT)', T, async () => {
  const body = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
  let nums;
  await withPeer(async (peer) => {
    nums = await blockServer(body, 6)(peer);
  }, async (url) => {
    const c = await connect(url);
    const r = await c.get('/large');
    assert.equal(r.payload.length, 5000);
    assert.equal(hex(r.payload), hex(body));
    assert.equal(r.blocks, 5);
    await c.close();
  });
  assert.deepEqual(nums, [0, 1, 2, 3, 4]);
  await withPeer(async (peer) => {
    nums = await blockServer(body, 7, { bert: true })(peer);
  }, async (url) => {
    const c = await connect(url);
    const r = await c.get('/large');
    assert.equal(hex(r.payload), hex(body));
    assert.equal(r.blocks, 3);
    await c.close();
  });
  assert.deepEqual(nums, [0, 2, 4], 'BERT block numbers count 1024-byte units');
});

test('Block2 with a wrong block number is refused', T, async () => {
  await withPeer(async (peer) => {
    await open(peer);
    const m = await peer.next();
    peer.send({ code: 0x45, token: m.token, options: [{ number: OPT.BLOCK2, value: encodeBlock({ num: 0, more: true, szx: 0 }) }], payload: new Uint8Array(16) });
    const m2 = await peer.next();
    peer.send({ code: 0x45, token: m2.token, options: [{ number: OPT.BLOCK2, value: encodeBlock({ num: 5, more: false, szx: 0 }) }], payload: new Uint8Array(3) });
  }, async (url) => {
    const c = await connect(url);
    await assert.rejects(c.get('/x'), { code: 'RC_ERR_BLOCK_ORDER' });
    await c.close();
  });
});

test('observe: Observe=0, notifications, cancel with Observe=1 on the same token', T, async () => {
  let cancelGet;
  await withPeer(async (peer) => {
    await open(peer);
    const reg = await peer.next();
    assert.equal(reg.code, CODE.GET);
    assert.equal(path(reg), '/sensors/temp');
    assert.equal(decodeUint(opt(reg, OPT.OBSERVE).value), 0);
    const note = (seq, v) => ({ code: 0x45, token: reg.token, options: [{ number: OPT.OBSERVE, value: seq }], payload: te.encode(v) });
    peer.send(note(10, '20.0'));
    peer.send(note(11, '20.1'));
    peer.send(note(12, '20.2'));
    cancelGet = await peer.next();
    assert.equal(hex(cancelGet.token), hex(reg.token), 'cancel uses the observation token');
    assert.equal(decodeUint(opt(cancelGet, OPT.OBSERVE).value), 1);
    assert.equal(path(cancelGet), '/sensors/temp');
    peer.send(note(13, '20.3')); // in flight when the server saw the cancel
    peer.send({ code: 0x45, token: reg.token, payload: te.encode('20.4') });
    peer.send(note(14, '99.9')); // must not be delivered any more
    const ping = await peer.next();
    peer.send({ code: CODE.PONG, token: ping.token });
  }, async (url) => {
    const c = await connect(url);
    const seen = [];
    let three;
    const gotThree = new Promise((r) => (three = r));
    const cancel = await c.observe('/sensors/temp', (r) => {
      seen.push(r.text());
      if (seen.length === 3) three();
    });
    assert.equal(cancel.observing, true);
    assert.equal(cancel.first.text(), '20.0');
    await gotThree;
    const last = await cancel();
    assert.equal(last.text(), '20.4');
    assert.equal(last.option('Observe'), undefined);
    await c.ping(); // anything after 20.4 has arrived by now
    assert.deepEqual(seen, ['20.0', '20.1', '20.2']);
    await c.close();
  });
  assert.ok(cancelGet);
});

test('observe on a resource that is not observable reports observing=false', T, async () => {
  await withPeer(async (peer) => {
    await open(peer);
    const reg = await peer.next();
    peer.send({ code: 0x45, token: reg.token, payload: te.encode('21.0') });
  }, async (url) => {
    const c = await connect(url);
    const seen = [];
    const cancel = await c.observe('/sensors/temp', (r) => seen.push(r.text()));
    assert.equal(cancel.observing, false);
    assert.deepEqual(seen, ['21.0']);
    assert.equal(await cancel(), null);
    await c.close();
  });
});

test('ping/pong both ways: client Ping gets our Pong; server Ping gets a Pong with its token', T, async () => {
  await withPeer(async (peer) => {
    await open(peer);
    const ping = await peer.next();
    assert.equal(ping.code, CODE.PING);
    assert.ok(ping.token.length > 0);
    peer.send({ code: CODE.PONG, token: ping.token });
    peer.send({ code: CODE.PING, token: Uint8Array.of(0x42), options: [{ number: 2, value: null }] });
    const pong = await peer.next();
    assert.equal(pong.code, CODE.PONG);
    assert.equal(hex(pong.token), '42');
    assert.ok(opt(pong, 2), 'Custody asked, Custody given');
    peer.send({ code: CODE.GET, token: Uint8Array.of(9), options: [{ number: OPT.URI_PATH, value: te.encode('x') }] });
    const r = await peer.next();
    assert.equal(r.code, 0xa1, 'a request to the client is answered 5.01');
    assert.equal(hex(r.token), '09');
  }, async (url, peers) => {
    const c = await connect(url);
    const rtt = await c.ping();
    assert.ok(rtt >= 0);
    await peers[0].done; // the peer has seen our Pong and the 5.01
    await c.close();
  });
});

test('Abort rejects pending requests with the diagnostic', T, async () => {
  await withPeer(async (peer) => {
    await open(peer);
    await peer.next();
    await peer.next();
    peer.send({ code: CODE.ABORT, options: [{ number: 2, value: 4 }], payload: te.encode('server is going down') });
  }, async (url) => {
    const c = await connect(url);
    const a = c.get('/a');
    const b = c.get('/b');
    for (const p of [a, b]) {
      await assert.rejects(p, (e) => {
        assert.ok(e instanceof CoapError);
        assert.equal(e.code, 'RC_ERR_PEER_ABORT');
        assert.match(e.message, /server is going down/);
        assert.equal(e.details.badCsmOption, 4);
        return true;
      });
    }
    const info = await c.closed;
    assert.equal(info.error.code, 'RC_ERR_PEER_ABORT');
    await assert.rejects(c.get('/c'), { code: 'RC_ERR_PEER_ABORT' });
  });
});

test('Release rejects pending requests and carries Alternative-Address and Hold-Off', T, async () => {
  await withPeer(async (peer) => {
    await open(peer);
    await peer.next();
    peer.send({ code: CODE.RELEASE, options: [{ number: 2, value: 'other.example:8080' }, { number: 4, value: 30 }], payload: te.encode('maintenance') });
  }, async (url) => {
    const c = await connect(url);
    await assert.rejects(c.get('/a'), (e) => {
      assert.equal(e.code, 'RC_ERR_PEER_RELEASE');
      assert.match(e.message, /maintenance/);
      assert.deepEqual(e.details.alternativeAddresses, ['other.example:8080']);
      assert.equal(e.details.holdOff, 30);
      return true;
    });
    await c.closed;
  });
});

test('a server whose first message is not a CSM is aborted', T, async () => {
  let abort;
  await withPeer(async (peer) => {
    await peer.next();
    peer.send({ code: 0x45, token: Uint8Array.of(1) });
    abort = await peer.next();
  }, async (url) => {
    await assert.rejects(connect(url), { code: 'RC_ERR_BAD_CSM' });
  });
  assert.equal(abort.code, CODE.ABORT);
  assert.match(td.decode(abort.payload), /CSM/);
});

test('an unknown critical CSM option is aborted with Bad-CSM-Option', T, async () => {
  let abort;
  await withPeer(async (peer) => {
    await peer.next();
    peer.send({ code: CODE.CSM, options: [{ number: 9, value: null }] });
    abort = await peer.next();
  }, async (url) => {
    await assert.rejects(connect(url), { code: 'RC_ERR_PROTOCOL' });
  });
  assert.equal(abort.code, CODE.ABORT);
  assert.equal(decodeUint(opt(abort, 2).value), 9);
});

test('a malformed message from the server is answered with Abort', T, async () => {
  let abort;
  await withPeer(async (peer) => {
    await open(peer);
    peer.sendRaw(Uint8Array.from([0x01, 0x45, 0x7f, 0xff])); // marker, no payload
    abort = await peer.next();
  }, async (url) => {
    const c = await connect(url);
    const info = await c.closed;
    assert.equal(info.error.code, 'RC_ERR_PROTOCOL');
  });
  assert.equal(abort.code, CODE.ABORT);
  assert.match(td.decode(abort.payload), /payload marker/);
});

test('request timeout and connection refusal', T, async () => {
  await withPeer(async (peer) => {
    await open(peer);
    await peer.next(); // never answered
  }, async (url) => {
    const c = await connect(url);
    await assert.rejects(c.get('/silent', { timeout: 100 }), { code: 'RC_ERR_TIMEOUT' });
    await c.close();
    await assert.rejects(c.get('/after-close'), { code: 'RC_ERR_CANCELLED' });
  });
  await withPeer(async () => {}, async (url) => {
    await assert.rejects(connect(url), (e) => e.code === 'RC_ERR_CONNECT' || e.code === 'RC_ERR_WS_HANDSHAKE');
  }, { selectCoap: false });
});
