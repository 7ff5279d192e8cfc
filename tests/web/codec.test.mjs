// Tests of web/rcoap-codec.js, the pure part of the browser client: the
// CoAP-over-WebSocket codec (RFC
// 8323 §4.2 form) against the RFC's figures and appendix examples and the
// bytes libcoap puts on the wire, option and TKL extension boundaries, a
// seeded 10,000-message round-trip, malformed input, URI decomposition,
// Block values and the link-format parser. Run: node --test tests/web/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encode, decode, hex, fromHex, CoapError, codeName, codeString, parseCode,
  parseUri, parseLinkFormat, decodeBlock, encodeBlock, encodeUint, decodeUint,
  optionInfo, describe, OPT, CODE, contentFormatNumber,
} from '../../web/rcoap-codec.js';
import { requestOptions } from '../../web/rcoap.js';

const te = new TextEncoder();
const u8 = (s) => te.encode(s);

function assertCoapError(fn, code) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof CoapError, `expected CoapError, got ${e && e.name}: ${e && e.message}`);
    assert.equal(e.name, 'CoapError');
    assert.equal(e.code, code);
    return true;
  });
}

// Each vector: WS bytes and the message they carry. Encoding the message
// must give exactly the bytes; decoding the bytes must give the message.
const VECTORS = [
  {
    // RFC 8323 §3.2 Figure "CoAP message with no options or payload":
    // Len=0 so the TCP form is already the WebSocket form.
    name: 'RFC 8323 §3.2 2.03 with token 7f',
    bytes: '01 43 7f',
    msg: { code: 0x43, token: [0x7f], options: [], payload: '' },
  },
  {
    name: 'RFC 8323 §5.7 Ping with token 42',
    bytes: '01 e2 42',
    msg: { code: CODE.PING, token: [0x42], options: [], payload: '' },
  },
  {
    name: 'RFC 8323 §5.7 Pong with token 42',
    bytes: '01 e3 42',
    msg: { code: CODE.PONG, token: [0x42], options: [], payload: '' },
  },
  { name: 'bare Ping (libcoap)', bytes: '00 e2', msg: { code: 0xe2, token: [], options: [], payload: '' } },
  { name: 'bare Pong', bytes: '00 e3', msg: { code: 0xe3, token: [], options: [], payload: '' } },
  {
    // INTEROP-NOTES: libcoap's Pong over TCP is 10 e3 20 (Custody).
    name: 'libcoap Pong with Custody, WS form',
    bytes: '00 e3 20',
    msg: { code: 0xe3, token: [], options: [{ number: 2, value: [] }], payload: '' },
  },
  {
    // INTEROP-NOTES: libcoap's CSM over TCP is 50 e1 23 80 01 00 20
    // (Max-Message-Size 8388864, Block-Wise-Transfer); WS has Len 0.
    name: 'libcoap CSM, WS form',
    bytes: '00 e1 23 80 01 00 20',
    msg: { code: 0xe1, token: [], options: [{ number: 2, value: [0x80, 0x01, 0x00] }, { number: 4, value: [] }], payload: '' },
  },
  { name: 'bare CSM', bytes: '00 e1', msg: { code: 0xe1, token: [], options: [], payload: '' } },
  {
    // INTEROP-NOTES §3: GET /time with token 01, checked with Wireshark.
    name: 'GET /time token 01',
    bytes: '01 01 01 b4 74 69 6d 65',
    msg: { code: 0x01, token: [1], options: [{ number: 11, value: u8('time') }], payload: '' },
  },
  {
    // RFC 8323 Appendix A, Figure 20: GET coap+ws://example.org/sensors/temperature?u=Cel
    name: 'RFC 8323 appendix A request (Token 0x53, Uri-Path, Uri-Query)',
    bytes: `01 01 53 b7 ${hex(u8('sensors'))} 0b ${hex(u8('temperature'))} 45 ${hex(u8('u=Cel'))}`,
    msg: {
      code: 0x01, token: [0x53], payload: '',
      options: [{ number: 11, value: u8('sensors') }, { number: 11, value: u8('temperature') }, { number: 15, value: u8('u=Cel') }],
    },
  },
  {
    name: 'RFC 8323 appendix A response (2.05, "22.3 Cel")',
    bytes: `01 45 53 ff ${hex(u8('22.3 Cel'))}`,
    msg: { code: 0x45, token: [0x53], options: [], payload: '22.3 Cel' },
  },
  {
    // RFC 8323 Appendix A, Figure 21: Proxy-Uri (35) is delta 13+22, length 13+8.
    name: 'RFC 8323 appendix A proxy request (Token 0x7d, Proxy-Uri)',
    bytes: `01 01 7d dd 16 08 ${hex(u8('coap://[2001:db8::1]/'))}`,
    msg: { code: 0x01, token: [0x7d], options: [{ number: 35, value: u8('coap://[2001:db8::1]/') }], payload: '' },
  },
  {
    name: 'RFC 8323 appendix A proxy response (2.05, "ready")',
    bytes: `01 45 7d ff ${hex(u8('ready'))}`,
    msg: { code: 0x45, token: [0x7d], options: [], payload: 'ready' },
  },
];

function norm(m) {
  return {
    code: m.code,
    token: hex(Uint8Array.from(m.token)),
    options: m.options.map((o) => ({ number: o.number, value: hex(Uint8Array.from(o.value)) })),
    payload: hex(typeof m.payload === 'string' ? u8(m.payload) : Uint8Array.from(m.payload)),
  };
}

for (const v of VECTORS) {
  test(`vector: ${v.name}`, () => {
    const bytes = fromHex(v.bytes);
    const msg = {
      code: v.msg.code,
      token: Uint8Array.from(v.msg.token),
      options: v.msg.options.map((o) => ({ number: o.number, value: Uint8Array.from(o.value) })),
      payload: u8(v.msg.payload),
    };
    assert.equal(hex(encode(msg)), hex(bytes));
    assert.deepEqual(norm(decode(bytes)), norm(msg));
  });
}

test('libcoap CSM decodes to Max-Message-Size 8388864 and Block-Wise-Transfer', () => {
  const m = decode(fromHex('00e1238001 0020'.replace(/ /g, '')));
  assert.equal(codeName(m.code), '7.01 CSM');
  assert.equal(optionInfo(m.code, 2).name, 'Max-Message-Size');
  assert.equal(decodeUint(m.options[0].value), 8388864);
  assert.equal(optionInfo(m.code, 4).name, 'Block-Wise-Transfer');
  assert.equal(describe(m), '7.01 CSM tok= Max-Message-Size:8388864 Block-Wise-Transfer');
});

test('signaling option names depend on the code', () => {
  assert.equal(optionInfo(0xe1, 2).name, 'Max-Message-Size');
  assert.equal(optionInfo(0xe1, 4).format, 'empty');
  assert.equal(optionInfo(0xe2, 2).name, 'Custody');
  assert.equal(optionInfo(0xe3, 2).name, 'Custody');
  assert.equal(optionInfo(0xe4, 2).name, 'Alternative-Address');
  assert.equal(optionInfo(0xe4, 2).format, 'string');
  assert.equal(optionInfo(0xe4, 4).name, 'Hold-Off');
  assert.equal(optionInfo(0xe5, 2).name, 'Bad-CSM-Option');
  assert.equal(optionInfo(0x45, 4).name, 'ETag');
  assert.equal(optionInfo(0x01, 11).name, 'Uri-Path');
  assert.equal(optionInfo(0x01, 11).critical, true);
  assert.equal(optionInfo(0x01, 9999).known, false);
});

test('code names and parsing', () => {
  assert.equal(codeName(0x45), '2.05 Content');
  assert.equal(codeName(0x01), 'GET');
  assert.equal(codeName(0x84), '4.04 Not Found');
  assert.equal(codeName(0xe5), '7.05 Abort');
  assert.equal(codeName(0x9f), '4.31');
  assert.equal(codeString(0x5f), '2.31');
  assert.equal(parseCode('fetch'), 0x05);
  assert.equal(parseCode('2.05'), 0x45);
  assert.equal(parseCode(3), 3);
  assertCoapError(() => parseCode('BREW'), 'RC_ERR_BAD_CODE');
  assert.equal(contentFormatNumber('application/link-format'), 40);
  assert.equal(contentFormatNumber('50'), 50);
});

// Option delta and length boundaries (RFC 7252 §3.1): 12 fits the nibble,
// 13 needs one extension byte (value 0), 268 is one byte 255, 269 needs
// two bytes (value 0).
test('option delta boundaries 12/13/268/269', () => {
  const cases = [
    [12, 'c0'], [13, 'd0 00'], [268, 'd0 ff'], [269, 'e0 00 00'], [65535, 'e0 fe f2'],
  ];
  for (const [num, hdr] of cases) {
    const bytes = encode({ code: 1, options: [{ number: num, value: new Uint8Array(0) }] });
    assert.equal(hex(bytes), `0001${hdr.replace(/ /g, '')}`, `delta ${num}`);
    const m = decode(bytes);
    assert.equal(m.options[0].number, num);
  }
});

test('option length boundaries 12/13/268/269', () => {
  const cases = [[12, '1c'], [13, '1d 00'], [268, '1d ff'], [269, '1e 00 00'], [1000, '1e 02 db']];
  for (const [len, hdr] of cases) {
    const value = new Uint8Array(len).fill(0x61);
    const bytes = encode({ code: 1, options: [{ number: 1, value }] });
    const h = hdr.replace(/ /g, '');
    assert.equal(hex(bytes.subarray(2, 2 + h.length / 2)), h, `length ${len}`);
    assert.equal(bytes.length, 2 + h.length / 2 + len);
    assert.equal(decode(bytes).options[0].value.length, len);
  }
});

test('two options with the same number use delta 0; order of repeats is kept', () => {
  const bytes = encode({ code: 1, options: [{ number: 15, value: 'b' }, { number: 11, value: 'a' }, { number: 15, value: 'c' }] });
  assert.equal(hex(bytes), '0001b161416201' + '63');
  assert.deepEqual(decode(bytes).options.map((o) => o.number), [11, 15, 15]);
});

test('extended token length (RFC 8974): 12, 13, 268, 269, 1000 bytes', () => {
  for (const [len, hdr] of [[12, '0c45'], [13, '0d4500'], [268, '0d45ff'], [269, '0e450000'], [1000, '0e4502db']]) {
    const token = new Uint8Array(len).map((_, i) => i & 0xff);
    const bytes = encode({ code: 0x45, token });
    assert.equal(hex(bytes.subarray(0, hdr.length / 2)), hdr, `tkl ${len}`);
    assert.equal(hex(decode(bytes).token), hex(token));
  }
});

test('uint encoding is minimal', () => {
  assert.equal(hex(encodeUint(0)), '');
  assert.equal(hex(encodeUint(1)), '01');
  assert.equal(hex(encodeUint(255)), 'ff');
  assert.equal(hex(encodeUint(256)), '0100');
  assert.equal(hex(encodeUint(8388864)), '800100');
  assert.equal(decodeUint(fromHex('0000ff')), 255);
});

// A small, seeded PRNG (mulberry32) so that a failure is reproducible.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomMessage(r) {
  const pick = (arr) => arr[Math.floor(r() * arr.length)];
  const int = (n) => Math.floor(r() * n);
  const bytes = (n) => Uint8Array.from({ length: n }, () => int(256));
  const sizes = [0, 1, 2, 4, 8, 12, 13, 14, 100, 268, 269, 270, 600];
  const tkl = r() < 0.9 ? int(9) : pick([12, 13, 14, 268, 269, 300]);
  const options = [];
  let num = 0;
  const n = int(8);
  for (let i = 0; i < n; i++) {
    const delta = r() < 0.3 ? 0 : pick([1, 2, 11, 12, 13, 14, 267, 268, 269, 270, 1000, int(300)]);
    if (num + delta > 65535) break;
    num += delta;
    const len = r() < 0.7 ? int(13) : pick(sizes);
    options.push({ number: num, value: bytes(len) });
  }
  const payload = r() < 0.5 ? new Uint8Array(0) : bytes(pick([1, 2, 13, 100, 1024, int(2000) + 1]));
  return { code: int(256), token: bytes(tkl), options, payload };
}

test('seeded random round-trip of 10,000 messages', () => {
  const r = rng(0x8323);
  for (let i = 0; i < 10000; i++) {
    const m = randomMessage(r);
    const bytes = encode(m);
    const d = decode(bytes);
    assert.deepEqual(norm(d), norm(m), `message ${i}`);
    assert.equal(hex(encode(d)), hex(bytes), `re-encode ${i}`);
  }
});

test('malformed input throws named errors', () => {
  const bad = [
    ['', 'RC_ERR_TRUNCATED'],
    ['01', 'RC_ERR_TRUNCATED'],
    ['0f 45', 'RC_ERR_TKL_RESERVED'], // TKL 15
    ['11 45 7f', 'RC_ERR_BAD_LEN_NIBBLE'], // Len must be 0 over WS
    ['50 e1 23 80 01 00 20', 'RC_ERR_BAD_LEN_NIBBLE'], // the TCP form of the CSM
    ['02 45 7f', 'RC_ERR_TRUNCATED'], // token cut short
    ['0d 45', 'RC_ERR_TRUNCATED'], // extended TKL byte missing
    ['0e 45 00', 'RC_ERR_TRUNCATED'],
    ['01 45 7f f0', 'RC_ERR_OPT_DELTA_RESERVED'], // option delta nibble 15
    ['01 45 7f 1f', 'RC_ERR_OPT_LEN_RESERVED'], // option length nibble 15
    ['01 45 7f 13 61', 'RC_ERR_OPT_TRUNCATED'], // value runs past the end
    ['01 45 7f d0', 'RC_ERR_OPT_TRUNCATED'], // extended delta missing
    ['01 45 7f e0 00', 'RC_ERR_OPT_TRUNCATED'],
    ['01 45 7f 1d', 'RC_ERR_OPT_TRUNCATED'], // extended length missing
    ['01 45 7f ff', 'RC_ERR_EMPTY_PAYLOAD'], // marker with no payload
    ['00 01 e0 fe f2 10', 'RC_ERR_OPT_NUMBER_OVERFLOW'], // 65535 + 1
  ];
  for (const [h, code] of bad) assertCoapError(() => decode(fromHex(h)), code);
  assertCoapError(() => encode({ code: 1, token: new Uint8Array(65535 + 270) }), 'RC_ERR_TOKEN_TOO_LONG');
  assertCoapError(() => encode({ code: 1, options: [{ number: 65536, value: '' }] }), 'RC_ERR_OPT_NUMBER_OVERFLOW');
  assertCoapError(() => encode({ code: 256 }), 'RC_ERR_BAD_CODE');
});

test('every prefix of a valid message decodes or throws CoapError, and random bytes never crash', () => {
  const full = fromHex(VECTORS[9].bytes);
  for (let i = 0; i <= full.length; i++) {
    try {
      decode(full.subarray(0, i));
    } catch (e) {
      assert.ok(e instanceof CoapError, `prefix ${i}: ${e}`);
    }
  }
  const r = rng(7);
  for (let i = 0; i < 10000; i++) {
    const b = Uint8Array.from({ length: Math.floor(r() * 24) }, () => Math.floor(r() * 256));
    if (b.length) b[0] &= r() < 0.9 ? 0x0f : 0xff;
    try {
      decode(b);
    } catch (e) {
      assert.ok(e instanceof CoapError, `${hex(b)}: ${e}`);
    }
  }
});

test('coap+ws URI decomposition (RFC 8323 §8.3, §8.4)', () => {
  const u = parseUri('coap+ws://example.org/sensors/temperature?u=Cel');
  assert.equal(u.wsUrl, 'ws://example.org/.well-known/coap');
  assert.equal(u.port, 80);
  assert.deepEqual(u.path, ['sensors', 'temperature']);
  assert.deepEqual(u.query, ['u=Cel']);
  const s = parseUri('coaps+ws://example.org/sensors/temperature?u=Cel');
  assert.equal(s.wsUrl, 'wss://example.org/.well-known/coap');
  assert.equal(s.port, 443);
  assert.equal(s.secure, true);
  const v6 = parseUri('COAP+WS://[::1]:8080/a%2Fb/c%20d/?x%26y&z');
  assert.equal(v6.wsUrl, 'ws://[::1]:8080/.well-known/coap');
  assert.deepEqual(v6.path, ['a/b', 'c d', '']);
  assert.deepEqual(v6.query, ['x&y', 'z']);
  assert.deepEqual(parseUri('coap+ws://h:8443').path, []);
  assert.deepEqual(parseUri('coap+ws://h/').path, []);
  assert.equal(parseUri('coaps+ws://h:443/').wsUrl, 'wss://h/.well-known/coap');
  assertCoapError(() => parseUri('coap://example.org/'), 'RC_ERR_BAD_SCHEME');
  assertCoapError(() => parseUri('coap+ws://example.org/a#frag'), 'RC_ERR_URI_FRAGMENT');
  assertCoapError(() => parseUri('coap+ws://example.org:70000/'), 'RC_ERR_BAD_PORT');
  assertCoapError(() => parseUri('coap+ws:///x'), 'RC_ERR_BAD_HOST');
  assertCoapError(() => parseUri('coap+ws://h/%zz'), 'RC_ERR_BAD_PERCENT');
  assertCoapError(() => parseUri('not a uri'), 'RC_ERR_BAD_URI');
});

test('request options from path, query and formats', () => {
  const o = requestOptions({ path: '/store/a%20b?x=1', query: { y: 2 }, contentFormat: 'application/json', accept: 0 });
  assert.deepEqual(o.map((x) => [x.number, x.value]), [
    [OPT.URI_PATH, 'store'], [OPT.URI_PATH, 'a b'], [OPT.URI_QUERY, 'x=1'], [OPT.URI_QUERY, 'y=2'],
    [OPT.CONTENT_FORMAT, 50], [OPT.ACCEPT, 0],
  ]);
  assert.deepEqual(requestOptions({ path: '/' }), []);
  assert.deepEqual(requestOptions({ path: ['a/b'], options: { 'If-None-Match': true } }).map((x) => x.number), [11, 5]);
});

test('Block option values (RFC 7959 §2.2, BERT SZX 7)', () => {
  assert.deepEqual(decodeBlock(0x0e), { num: 0, more: true, szx: 6, size: 1024, bert: false });
  assert.deepEqual(decodeBlock(0x16), { num: 1, more: false, szx: 6, size: 1024, bert: false });
  assert.deepEqual(decodeBlock(fromHex('0a 2f')), { num: 162, more: true, szx: 7, size: 1024, bert: true });
  assert.equal(encodeBlock({ num: 2, more: true, szx: 2 }), 0x2a);
  assertCoapError(() => decodeBlock(0x1000000), 'RC_ERR_BAD_BLOCK');
  assertCoapError(() => encodeBlock({ num: 1 << 20, more: false, szx: 0 }), 'RC_ERR_BAD_BLOCK');
});

test('link-format: RFC 6690 examples, quoted commas, flags, repeats', () => {
  // RFC 6690 §5 example.
  const a = parseLinkFormat('</sensors/temp>;if="sensor",</sensors/light>;if="sensor"');
  assert.deepEqual(a, [
    { href: '/sensors/temp', attrs: { if: 'sensor' } },
    { href: '/sensors/light', attrs: { if: 'sensor' } },
  ]);
  const b = parseLinkFormat(
    '</hello>;rt="greeting";ct=0,\n </sensors/temp>;rt="temperature-c";if="sensor";obs;title="Temp, \\"outside\\"";ct="0 50",' +
    '</large>;sz=102400;rt=a;rt=b');
  assert.equal(b.length, 3);
  assert.deepEqual(b[0], { href: '/hello', attrs: { rt: 'greeting', ct: '0' } });
  assert.deepEqual(b[1].attrs, { rt: 'temperature-c', if: 'sensor', obs: true, title: 'Temp, "outside"', ct: '0 50' });
  assert.deepEqual(b[2].attrs, { sz: '102400', rt: ['a', 'b'] });
  assert.deepEqual(parseLinkFormat(''), []);
  assert.deepEqual(parseLinkFormat(u8('</x>')), [{ href: '/x', attrs: {} }]);
  assertCoapError(() => parseLinkFormat('/x'), 'RC_ERR_BAD_LINK');
  assertCoapError(() => parseLinkFormat('</x;rt=1'), 'RC_ERR_BAD_LINK');
  assertCoapError(() => parseLinkFormat('</x>;title="open'), 'RC_ERR_BAD_LINK');
  assertCoapError(() => parseLinkFormat('</x>,'), 'RC_ERR_BAD_LINK');
  assertCoapError(() => parseLinkFormat('</x> junk'), 'RC_ERR_BAD_LINK');
});

test('describe() prints messages like rcoap -v', () => {
  const m = decode(fromHex(VECTORS[9].bytes));
  assert.equal(describe(m), 'GET tok=53 Uri-Path:sensors Uri-Path:temperature Uri-Query:u=Cel');
  assert.equal(describe(decode(fromHex(VECTORS[10].bytes))), '2.05 Content tok=53 :: 22.3 Cel (8 B)');
  assert.equal(describe({ code: 0x45, token: [1], options: [{ number: 23, value: 0x1e }, { number: 12, value: 40 }] }),
    '2.05 Content tok=01 Block2:1/1/1024 Content-Format:40 (application/link-format)');
});
