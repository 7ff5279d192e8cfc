// Tests of rcoap.js's coaps+wr mode (RcoapClient.connectWebRtc and
// rcoap-webrtc.js) without a browser: the signaling goes over a real
// coap+ws connection to a scripted peer (the 'ws' package) that checks the
// POST /webrtc it gets (Content-Format 50, the offer JSON) and answers; the
// RTCPeerConnection and its data channel are stand-ins that record what the
// client does and carry CoAP messages to the test, which checks they are in
// the WebSocket form (RFC 8323 §4, no length) and answers on the channel.
// Run: node --test tests/web/   (after `npm ci` in tests/web)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer, WebSocket } from 'ws';
import { RcoapClient, openWebRtcChannel, peerPath } from '../../web/rcoap.js';
import { encode, decode, decodeUint, CODE, OPT } from '../../web/rcoap-codec.js';

const te = new TextEncoder();
const td = new TextDecoder();
const T = { timeout: 10000 };
const OFFER_SDP = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=candidate:1 1 udp 1 10.0.0.1 4000 typ host\r\na=max-message-size:262144\r\n';
// No a=max-message-size: 64 KiB (RFC 8841 §6.1).
const ANSWER = { type: 'answer', sdp: 'v=0\r\na=ice-lite\r\n' };

/* A data channel stand-in: what the client sends lands in `sent`; the
 * test speaks with deliver(msg). */
class FakeChannel extends EventTarget {
  constructor(label, init) {
    super();
    this.label = label;
    this.protocol = init.protocol;
    this.readyState = 'connecting';
    this.sent = [];
    this.waiters = [];
  }
  send(bytes) {
    if (this.readyState !== 'open') throw new Error('InvalidStateError');
    const m = new Uint8Array(bytes);
    if (this.waiters.length) this.waiters.shift()(m);
    else this.sent.push(m);
  }
  next() { return new Promise((r) => (this.sent.length ? r(this.sent.shift()) : this.waiters.push(r))); }
  deliver(msg) {
    const ev = new Event('message');
    ev.data = encode(msg).buffer;
    this.dispatchEvent(ev);
  }
  open() { this.readyState = 'open'; this.dispatchEvent(new Event('open')); }
  close() {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    this.dispatchEvent(new Event('close'));
  }
}

/* An RTCPeerConnection stand-in; the last one made is FakePC.last. */
class FakePC extends EventTarget {
  constructor(config) {
    super();
    FakePC.last = this;
    this.config = config;
    this.iceGatheringState = 'new';
    this.connectionState = 'new';
    this.closed = false;
  }
  createDataChannel(label, init) { this.channel = new FakeChannel(label, init); this.channelInit = init; return this.channel; }
  async createOffer() { return { type: 'offer', sdp: OFFER_SDP }; }
  async setLocalDescription(d) {
    this.localDescription = d;
    this.iceGatheringState = 'gathering';
    setTimeout(() => { this.iceGatheringState = 'complete'; this.dispatchEvent(new Event('icegatheringstatechange')); }, 20);
  }
  async setRemoteDescription(d) {
    // The offer must be complete (gathered) before it is sent.
    assert.equal(this.iceGatheringState, 'complete');
    this.remoteDescription = d;
    if (FakePC.autoOpen) setTimeout(() => this.channel.open(), 10);
  }
  close() { this.closed = true; if (this.channel) this.channel.close(); }
}
FakePC.autoOpen = true;

/* A coap+ws peer answering the CSM and then each request with
 * answer(request) -> response message. */
async function withSignaling(answer, fn) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/.well-known/coap',
    handleProtocols: (p) => (p.has('coap') ? 'coap' : false) });
  await new Promise((r) => wss.once('listening', r));
  const seen = [];
  wss.on('connection', (ws) => ws.on('message', (data) => {
    const m = decode(new Uint8Array(data));
    seen.push(m);
    if (m.code === CODE.CSM) ws.send(encode({ code: CODE.CSM, options: [{ number: 2, value: 65536 }] }));
    else if (m.code >= 1 && m.code <= 31) ws.send(encode({ token: m.token, ...answer(m) }));
  }));
  const sig = await RcoapClient.connect(`coap+ws://127.0.0.1:${wss.address().port}`, { WebSocket });
  try {
    await fn(sig, seen);
  } finally {
    await sig.close();
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
  }
}

const jsonAnswer = (obj, code = 69) => ({ code, options: [{ number: OPT.CONTENT_FORMAT, value: 50 }], payload: te.encode(JSON.stringify(obj)) });
const opt = (m, n) => m.options.find((o) => o.number === n);
const uriPath = (m) => m.options.filter((o) => o.number === OPT.URI_PATH).map((o) => td.decode(o.value)).join('/');

test('coaps+wr: the offer is POSTed to /webrtc as JSON (50), the answer set, CoAP runs over the channel in WS form', T, async () => {
  await withSignaling(() => jsonAnswer(ANSWER), async (sig, seen) => {
    const log = [];
    const p = RcoapClient.connectWebRtc(sig, { RTCPeerConnection: FakePC, onLog: (e) => log.push(e) });
    // Over the channel: our CSM first, in the WebSocket form (Len nibble 0).
    const pc = await new Promise((r) => { const i = setInterval(() => { if (FakePC.last && FakePC.last.channel) { clearInterval(i); r(FakePC.last); } }, 5); });
    const csm = await pc.channel.next();
    assert.equal(csm[0] >> 4, 0, 'no length in the first nibble (RFC 8323 §4)');
    assert.equal(decode(csm).code, CODE.CSM);
    // Our Max-Message-Size is what our SDP offered, not the 1 MiB default.
    assert.equal(decodeUint(opt(decode(csm), 2).value), 262144);
    pc.channel.deliver({ code: CODE.CSM, options: [{ number: 2, value: 262144 }, { number: 4, value: null }] });
    const c = await p;
    // The signaling request as the server saw it.
    const post = seen.find((m) => m.code === CODE.POST);
    assert.ok(post, 'a POST went over coap+ws');
    assert.equal(uriPath(post), 'webrtc');
    assert.equal(opt(post, OPT.CONTENT_FORMAT).value[0], 50);
    assert.deepEqual(JSON.parse(td.decode(post.payload)), { type: 'offer', sdp: OFFER_SDP });
    // The peer connection as the page set it up.
    assert.deepEqual(pc.config, { iceServers: [] });
    assert.equal(pc.channel.label, 'coap');
    assert.equal(pc.channelInit.protocol, 'coap');
    assert.equal(pc.channel.binaryType, 'arraybuffer');
    assert.deepEqual(pc.remoteDescription, ANSWER);
    assert.equal(c.transport, 'webrtc');
    assert.equal(c.serverCsm.maxMessageSize, 262144);
    assert.equal(c.serverCsm.bert, true);
    // A request over the channel and its answer.
    const rp = c.get('/hello');
    const req = decode(await pc.channel.next());
    assert.equal(req.code, CODE.GET);
    assert.equal(uriPath(req), 'hello');
    pc.channel.deliver({ code: 69, token: req.token, options: [], payload: te.encode('hi') });
    const r = await rp;
    assert.equal(r.text(), 'hi');
    // The answer had no a=max-message-size: nothing over 64 KiB is sent,
    // whatever the CSM said.
    await assert.rejects(c.put('/big', new Uint8Array(70000)), (e) => e.code === 'RC_ERR_PEER_TOO_LARGE');
    assert.ok(log.some((e) => e.dir === 'in' && e.transport === 'webrtc' && e.msg.code === 69), 'log says which transport');
    // The channel closing ends the client, and the peer connection with it.
    const pending = c.get('/slow');
    await pc.channel.next();
    pc.channel.close();
    await assert.rejects(pending, (e) => e.code === 'RC_ERR_CLOSED');
    await c.closed;
    await new Promise((res) => setTimeout(res, 0));
    assert.equal(pc.closed, true);
  });
});

test('coaps+wr: a response that is no answer is refused and the peer connection closed', T, async () => {
  await withSignaling(() => jsonAnswer({ type: 'offer', sdp: 'x' }), async (sig) => {
    await assert.rejects(openWebRtcChannel(sig, { RTCPeerConnection: FakePC }), (e) => e.code === 'RC_ERR_PROTOCOL');
    assert.equal(FakePC.last.closed, true);
  });
  await withSignaling(() => ({ code: 69, options: [], payload: te.encode('not json') }), async (sig) => {
    await assert.rejects(openWebRtcChannel(sig, { RTCPeerConnection: FakePC }), (e) => e.code === 'RC_ERR_PROTOCOL');
  });
});

test('coaps+wr: an error response to the offer rejects with its code and diagnostic', T, async () => {
  await withSignaling(() => ({ code: 128 + 15, options: [], payload: te.encode('send the offer as application/json (50)') }), async (sig) => {
    await assert.rejects(openWebRtcChannel(sig, { RTCPeerConnection: FakePC }),
      (e) => e.code === 'RC_ERR_CONNECT' && /4\.15|Unsupported/.test(e.message) && /application\/json/.test(e.message));
    assert.equal(FakePC.last.closed, true);
  });
});

test('coaps+wr to a registered peer: the offer goes to /webrtc/peers/NAME; a bad name is refused before anything is sent', T, async () => {
  assert.equal(peerPath('dev1'), '/webrtc/peers/dev1');
  for (const bad of ['', 'a/b', '../x', 'x'.repeat(64), 'dev 1', 'dév', undefined])
    assert.throws(() => peerPath(bad), (e) => e.code === 'RC_ERR_INVAL');
  await withSignaling(() => jsonAnswer(ANSWER), async (sig, seen) => {
    const ice = [{ urls: 'stun:192.0.2.10:3478' }];
    const r = await openWebRtcChannel(sig, { RTCPeerConnection: FakePC, peer: 'dev1', iceServers: ice });
    assert.deepEqual(r.pc.config, { iceServers: ice }, 'the STUN server given reaches the peer connection');
    const post = seen.find((m) => m.code === CODE.POST);
    assert.equal(uriPath(post), 'webrtc/peers/dev1');
    assert.deepEqual(JSON.parse(td.decode(post.payload)), { type: 'offer', sdp: OFFER_SDP });
    assert.deepEqual(r.pc.remoteDescription, ANSWER);
    r.pc.close();
    const before = seen.length;
    await assert.rejects(openWebRtcChannel(sig, { RTCPeerConnection: FakePC, peer: 'a/b' }), (e) => e.code === 'RC_ERR_INVAL');
    assert.equal(seen.length, before, 'nothing sent for a bad name');
  });
  // The broker's "nobody registered that name" reaches the caller.
  await withSignaling(() => ({ code: 132, options: [], payload: te.encode('no peer is registered under this name') }), async (sig) => {
    await assert.rejects(openWebRtcChannel(sig, { RTCPeerConnection: FakePC, peer: 'nosuch' }),
      (e) => e.code === 'RC_ERR_CONNECT' && /4\.04/.test(e.message) && /no peer is registered/.test(e.message));
  });
});

test('coaps+wr: no RTCPeerConnection here: NOT_SUPPORTED', T, async () => {
  await assert.rejects(openWebRtcChannel({}, {}), (e) => e.code === 'RC_ERR_NOT_SUPPORTED');
});

test('coaps+wr: a channel that never brings a CSM times out and closes', T, async () => {
  await withSignaling(() => jsonAnswer(ANSWER), async (sig) => {
    await assert.rejects(RcoapClient.connectWebRtc(sig, { RTCPeerConnection: FakePC, connectTimeout: 200 }),
      (e) => e.code === 'RC_ERR_TIMEOUT');
    assert.equal(FakePC.last.closed, true);
  });
});
