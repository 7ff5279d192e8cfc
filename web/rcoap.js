/*
 * rcoap.js — the browser (and Node) side of rcoap: CoAP over WebSockets
 * (RFC 8323 §4) as one dependency-free ES module. It holds the message codec
 * for the WebSocket form of the reliable-transport frame (Len nibble 0, the
 * WebSocket frame carries the length), the option, Content-Format and code
 * registries, coap+ws/coaps+ws URI decomposition, a link-format parser for
 * /.well-known/core, and RcoapClient: a client that opens the WebSocket with
 * subprotocol "coap", exchanges CSMs, matches responses by token, reassembles
 * Block2 bodies, observes resources, answers and sends Pings, and turns the
 * peer's Release and Abort into rejected promises. It runs unchanged in
 * Chromium and in Node 20 (pass a WebSocket class, e.g. the 'ws' package,
 * where there is no global one). Errors carry the names of rcoap's C error
 * table (include/rcoap/err.h) in err.code, e.g. "RC_ERR_TKL_RESERVED".
 */

const utf8enc = new TextEncoder();
const utf8dec = new TextDecoder('utf-8');

/* ------------------------------------------------------------------ errors */

/* Human texts of the err.h codes this module raises (same names, same words). */
const ERR_TEXT = {
  INVAL: 'invalid argument',
  TRUNCATED: 'message truncated',
  TKL_RESERVED: 'reserved token length 15',
  OPT_DELTA_RESERVED: 'option delta nibble 15 outside payload marker',
  OPT_LEN_RESERVED: 'option length nibble 15 outside payload marker',
  OPT_TRUNCATED: 'option runs past the end of the message',
  OPT_NUMBER_OVERFLOW: 'option number exceeds 65535',
  OPT_FORMAT: 'option value violates its format or length range',
  EMPTY_PAYLOAD: 'payload marker followed by no payload',
  TOKEN_TOO_LONG: 'token longer than allowed',
  BAD_LEN_NIBBLE: 'length nibble must be 0 for this framing',
  BAD_CODE: 'code not allowed here',
  BAD_BLOCK: 'invalid block option value',
  BAD_URI: 'malformed URI',
  BAD_SCHEME: 'unsupported URI scheme',
  BAD_PERCENT: 'bad percent-encoding',
  URI_FRAGMENT: 'URI fragments are not allowed in CoAP',
  BAD_PORT: 'bad port number',
  BAD_HOST: 'bad host',
  BAD_LINK: 'malformed link-format',
  BAD_CSM: 'missing or invalid CSM',
  PEER_ABORT: 'peer aborted the connection',
  PEER_RELEASE: 'peer released the connection',
  PEER_DEAD: 'peer did not answer a ping',
  PEER_TOO_LARGE: "message larger than the peer's Max-Message-Size",
  PROTOCOL: 'protocol violation by the peer',
  TIMEOUT: 'timed out',
  CANCELLED: 'cancelled',
  BLOCK_ORDER: 'block received out of order',
  ENTITY_TOO_LARGE: 'request entity too large',
  CONNECT: 'connection failed',
  CLOSED: 'connection closed',
  WS_HANDSHAKE: 'WebSocket handshake failed',
  STATE: 'not allowed in the current state',
};

/**
 * Every error this module throws or rejects with. err.name is 'CoapError',
 * err.code the err.h name ('RC_ERR_TRUNCATED'), err.details extra facts
 * (e.g. the peer's diagnostic payload, Bad-CSM-Option, Hold-Off).
 */
export class CoapError extends Error {
  constructor(short, detail, details) {
    const text = ERR_TEXT[short] || short;
    super(detail ? `${text}: ${detail}` : text);
    this.name = 'CoapError';
    this.code = `RC_ERR_${short}`;
    this.details = details || {};
  }
}

function fail(short, detail, details) {
  throw new CoapError(short, detail, details);
}

/* ------------------------------------------------------------------- codes */

/** Makes a code byte from class and detail: code(2, 5) === 0x45. */
export function code(cls, detail) {
  return ((cls & 7) << 5) | (detail & 31);
}

export const CODE = Object.freeze({
  EMPTY: 0x00, GET: 0x01, POST: 0x02, PUT: 0x03, DELETE: 0x04,
  FETCH: 0x05, PATCH: 0x06, IPATCH: 0x07,
  CREATED: 0x41, DELETED: 0x42, VALID: 0x43, CHANGED: 0x44, CONTENT: 0x45,
  CONTINUE: 0x5f,
  BAD_REQUEST: 0x80, NOT_FOUND: 0x84, NOT_IMPLEMENTED: 0xa1,
  CSM: 0xe1, PING: 0xe2, PONG: 0xe3, RELEASE: 0xe4, ABORT: 0xe5,
});

const CODE_NAMES = {
  0x00: 'Empty', 0x01: 'GET', 0x02: 'POST', 0x03: 'PUT', 0x04: 'DELETE',
  0x05: 'FETCH', 0x06: 'PATCH', 0x07: 'iPATCH',
  0x41: 'Created', 0x42: 'Deleted', 0x43: 'Valid', 0x44: 'Changed',
  0x45: 'Content', 0x5f: 'Continue',
  0x80: 'Bad Request', 0x81: 'Unauthorized', 0x82: 'Bad Option',
  0x83: 'Forbidden', 0x84: 'Not Found', 0x85: 'Method Not Allowed',
  0x86: 'Not Acceptable', 0x88: 'Request Entity Incomplete', 0x89: 'Conflict',
  0x8c: 'Precondition Failed', 0x8d: 'Request Entity Too Large',
  0x8f: 'Unsupported Content-Format', 0x96: 'Unprocessable Entity',
  0x9d: 'Too Many Requests',
  0xa0: 'Internal Server Error', 0xa1: 'Not Implemented', 0xa2: 'Bad Gateway',
  0xa3: 'Service Unavailable', 0xa4: 'Gateway Timeout',
  0xa5: 'Proxying Not Supported', 0xa8: 'Hop Limit Reached',
  0xe1: 'CSM', 0xe2: 'Ping', 0xe3: 'Pong', 0xe4: 'Release', 0xe5: 'Abort',
};

/** "2.05" for 0x45. */
export function codeString(c) {
  return `${c >> 5}.${String(c & 31).padStart(2, '0')}`;
}

/** "2.05 Content" for 0x45, "GET" for 0x01, "4.31" for an unnamed code. */
export function codeName(c) {
  const n = CODE_NAMES[c];
  if (c > 0 && c < 32) return n || codeString(c);
  return n ? `${codeString(c)} ${n}` : codeString(c);
}

/** A method or code from "GET", "get", "2.05", 0x45; throws RC_ERR_BAD_CODE. */
export function parseCode(v) {
  if (typeof v === 'number' && v >= 0 && v <= 255 && Number.isInteger(v)) return v;
  const s = String(v).trim();
  const m = /^([0-7])\.(\d\d)$/.exec(s);
  if (m && Number(m[2]) < 32) return code(Number(m[1]), Number(m[2]));
  for (const [k, name] of Object.entries(CODE_NAMES)) {
    if (Number(k) < 32 && name.toLowerCase() === s.toLowerCase()) return Number(k);
  }
  return fail('BAD_CODE', s);
}

export const isRequest = (c) => c >= 1 && c <= 31;
export const isResponse = (c) => c >= 64 && c < 192;
export const isSignaling = (c) => c >= 0xe0 && c <= 0xff;
export const isSuccess = (c) => c >> 5 === 2;

/* ----------------------------------------------------------------- options */

/** Option numbers of RFC 7252, 7641, 7959, 8132, 8613, 8768, 9175, 9177. */
export const OPT = Object.freeze({
  IF_MATCH: 1, URI_HOST: 3, ETAG: 4, IF_NONE_MATCH: 5, OBSERVE: 6,
  URI_PORT: 7, LOCATION_PATH: 8, OSCORE: 9, URI_PATH: 11,
  CONTENT_FORMAT: 12, MAX_AGE: 14, URI_QUERY: 15, HOP_LIMIT: 16,
  ACCEPT: 17, Q_BLOCK1: 19, LOCATION_QUERY: 20, BLOCK2: 23, BLOCK1: 27,
  SIZE2: 28, Q_BLOCK2: 31, PROXY_URI: 35, PROXY_SCHEME: 39, SIZE1: 60,
  ECHO: 252, NO_RESPONSE: 258, REQUEST_TAG: 292,
});

/* number -> [name, format, repeatable] for request/response messages. */
const OPTION_REGISTRY = {
  1: ['If-Match', 'opaque', true], 3: ['Uri-Host', 'string', false],
  4: ['ETag', 'opaque', true], 5: ['If-None-Match', 'empty', false],
  6: ['Observe', 'uint', false], 7: ['Uri-Port', 'uint', false],
  8: ['Location-Path', 'string', true], 9: ['OSCORE', 'opaque', false],
  11: ['Uri-Path', 'string', true], 12: ['Content-Format', 'uint', false],
  14: ['Max-Age', 'uint', false], 15: ['Uri-Query', 'string', true],
  16: ['Hop-Limit', 'uint', false], 17: ['Accept', 'uint', false],
  19: ['Q-Block1', 'uint', false], 20: ['Location-Query', 'string', true],
  23: ['Block2', 'uint', false], 27: ['Block1', 'uint', false],
  28: ['Size2', 'uint', false], 31: ['Q-Block2', 'uint', true],
  35: ['Proxy-Uri', 'string', false], 39: ['Proxy-Scheme', 'string', false],
  60: ['Size1', 'uint', false], 252: ['Echo', 'opaque', false],
  258: ['No-Response', 'uint', false], 292: ['Request-Tag', 'opaque', true],
};

/* RFC 8323 §5.2: "Option numbers for Signaling messages are specific to the
 * message code." code -> number -> [name, format, repeatable]. */
const SIGNALING_REGISTRY = {
  0xe1: { 2: ['Max-Message-Size', 'uint', false], 4: ['Block-Wise-Transfer', 'empty', false] },
  0xe2: { 2: ['Custody', 'empty', false] },
  0xe3: { 2: ['Custody', 'empty', false] },
  0xe4: { 2: ['Alternative-Address', 'string', true], 4: ['Hold-Off', 'uint', false] },
  0xe5: { 2: ['Bad-CSM-Option', 'uint', false] },
};

/** Signaling option numbers per code, for building messages. */
export const SIGNAL_OPT = Object.freeze({
  MAX_MESSAGE_SIZE: 2, BLOCK_WISE_TRANSFER: 4, CUSTODY: 2,
  ALTERNATIVE_ADDRESS: 2, HOLD_OFF: 4, BAD_CSM_OPTION: 2,
});

/**
 * Returns {name, format, repeatable, critical} for option `number` in a
 * message with code `c` (signaling codes have their own numbers), or a
 * generic "Option N"/opaque entry for unknown numbers.
 */
export function optionInfo(c, number) {
  const table = isSignaling(c) ? SIGNALING_REGISTRY[c] || {} : OPTION_REGISTRY;
  const e = table[number];
  const critical = (number & 1) === 1; // RFC 7252 §5.4.6: odd numbers are critical
  if (e) return { name: e[0], format: e[1], repeatable: e[2], critical, known: true };
  return { name: `Option ${number}`, format: 'opaque', repeatable: true, critical, known: false };
}

/** Option number for a request/response option name ("uri-path" -> 11). */
export function optionNumber(name) {
  if (typeof name === 'number') return name;
  const s = String(name).toLowerCase().replace(/_/g, '-');
  for (const [n, e] of Object.entries(OPTION_REGISTRY)) {
    if (e[0].toLowerCase() === s) return Number(n);
  }
  if (/^\d+$/.test(s)) return Number(s);
  return fail('INVAL', `unknown option ${name}`);
}

/* --------------------------------------------------------- content-formats */

/** Content-Format numbers (IANA "CoAP Content-Formats") -> media types. */
export const CONTENT_FORMATS = Object.freeze({
  0: 'text/plain;charset=utf-8',
  16: 'application/cose;cose-type="cose-encrypt0"',
  40: 'application/link-format',
  41: 'application/xml',
  42: 'application/octet-stream',
  47: 'application/exi',
  50: 'application/json',
  51: 'application/json-patch+json',
  52: 'application/merge-patch+json',
  60: 'application/cbor',
  61: 'application/cwt',
  62: 'application/multipart-core',
  63: 'application/cbor-seq',
  110: 'application/senml+json',
  112: 'application/senml+cbor',
  11542: 'application/vnd.oma.lwm2m+tlv',
  11543: 'application/vnd.oma.lwm2m+json',
});

/** Media type for a Content-Format number, or "unknown (N)". */
export function contentFormatName(n) {
  return CONTENT_FORMATS[n] || `unknown (${n})`;
}

/** Content-Format number from a number, "50" or a media type; throws RC_ERR_INVAL. */
export function contentFormatNumber(v) {
  if (typeof v === 'number') return v;
  const s = String(v).trim().toLowerCase();
  if (/^\d+$/.test(s)) return Number(s);
  const short = { 'text/plain': 0, text: 0, json: 50, cbor: 60, 'link-format': 40 };
  if (s in short) return short[s];
  for (const [n, t] of Object.entries(CONTENT_FORMATS)) if (t === s) return Number(n);
  return fail('INVAL', `unknown Content-Format ${v}`);
}

/* ---------------------------------------------------------- option values */

/** Minimal big-endian uint encoding (RFC 7252 §3.2: 0 is the empty string). */
export function encodeUint(v) {
  if (!Number.isSafeInteger(v) || v < 0) fail('OPT_FORMAT', `uint ${v}`);
  const out = [];
  while (v > 0) {
    out.unshift(v % 256);
    v = Math.floor(v / 256);
  }
  return Uint8Array.from(out);
}

/** Value of a big-endian uint of up to 6 bytes; throws RC_ERR_OPT_FORMAT beyond. */
export function decodeUint(b) {
  if (b.length > 6) fail('OPT_FORMAT', `uint of ${b.length} bytes`);
  let v = 0;
  for (const x of b) v = v * 256 + x;
  return v;
}

/** Decodes a raw option value by its registered format (uint -> number,
 * string -> string, empty -> true, opaque -> Uint8Array). */
export function decodeOptionValue(c, number, raw) {
  const { format } = optionInfo(c, number);
  if (format === 'uint') return decodeUint(raw);
  if (format === 'string') return utf8dec.decode(raw);
  if (format === 'empty') return true;
  return raw;
}

/** Raw bytes for an option value given as Uint8Array, number, string, or
 * true/null/undefined (empty). */
export function encodeOptionValue(v) {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (typeof v === 'number') return encodeUint(v);
  if (typeof v === 'string') return utf8enc.encode(v);
  if (v === true || v === null || v === undefined) return new Uint8Array(0);
  return fail('INVAL', `option value ${typeof v}`);
}

/** {num, more, szx, size, bert} of a Block1/Block2 value (RFC 7959 §2.2,
 * RFC 8323 §6: SZX 7 is BERT, 1024-byte units); throws RC_ERR_BAD_BLOCK. */
export function decodeBlock(v) {
  if (typeof v !== 'number') v = decodeUint(v);
  if (v > 0xffffff) fail('BAD_BLOCK', `value ${v} longer than 3 bytes`);
  const szx = v & 7;
  return { num: Math.floor(v / 16), more: (v & 8) !== 0, szx,
    size: szx === 7 ? 1024 : 1 << (szx + 4), bert: szx === 7 };
}

/** Block option value from {num, more, szx}; throws RC_ERR_BAD_BLOCK. */
export function encodeBlock({ num, more, szx }) {
  if (!(num >= 0 && num < 1 << 20) || !(szx >= 0 && szx <= 7)) fail('BAD_BLOCK', `num ${num} szx ${szx}`);
  return num * 16 + (more ? 8 : 0) + szx;
}

/** Display text for an option value ("Block2: 2/1/1024", "Content-Format: 40 (application/link-format)"). */
export function formatOptionValue(c, number, raw) {
  const info = optionInfo(c, number);
  let v;
  try {
    v = decodeOptionValue(c, number, raw);
  } catch {
    return `0x${hex(raw)} (bad ${info.format})`;
  }
  if (!isSignaling(c) && (number === OPT.BLOCK1 || number === OPT.BLOCK2)) {
    const b = decodeBlock(v);
    return `${b.num}/${b.more ? 1 : 0}/${b.bert ? 'BERT' : b.size}`;
  }
  if (!isSignaling(c) && (number === OPT.CONTENT_FORMAT || number === OPT.ACCEPT)) {
    return `${v} (${contentFormatName(v)})`;
  }
  if (info.format === 'empty') return raw.length ? `0x${hex(raw)}` : '';
  if (info.format === 'opaque') return `0x${hex(raw)}`;
  return String(v);
}

/* ------------------------------------------------------------------- bytes */

function toU8(b) {
  if (b instanceof Uint8Array) return b;
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (Array.isArray(b)) return Uint8Array.from(b);
  return fail('INVAL', 'bytes expected');
}

/** Lower-case hex of bytes ("7f42"). */
export function hex(b) {
  let s = '';
  for (const x of toU8(b)) s += x.toString(16).padStart(2, '0');
  return s;
}

/** Bytes from hex, spaces allowed ("01 43 7f"). */
export function fromHex(s) {
  const t = s.replace(/\s+/g, '');
  if (t.length % 2 || /[^0-9a-f]/i.test(t)) fail('INVAL', 'bad hex');
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.substr(i * 2, 2), 16);
  return out;
}

function concat(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/* ------------------------------------------------------------------- codec */

/* RFC 8974 §2.1: TKL 13 and 14 announce an extended token length; 15 is
 * reserved. The longest token is 65535 + 269 bytes. */
export const TOKEN_MAX = 65535 + 269;
/* RFC 7252 §3.1: option numbers are 16-bit. */
export const OPTION_NUMBER_MAX = 65535;

/* Nibble and extension bytes for an option delta/length or TKL value. */
function extNibble(v) {
  if (v < 13) return [v, []];
  if (v < 269) return [13, [v - 13]];
  const x = v - 269;
  return [14, [x >> 8, x & 0xff]];
}

/**
 * Encodes a message into the CoAP-over-WebSocket form (RFC 8323 §4.2):
 * msg = {code, token?, options?: [{number, value}], payload?}. Option
 * values may be Uint8Array, number (uint), string (UTF-8) or true/null
 * (empty); options are sorted by number, repeats keep their order; a
 * string payload is sent as UTF-8.
 * Returns a new Uint8Array. Throws CoapError RC_ERR_TOKEN_TOO_LONG,
 * RC_ERR_OPT_NUMBER_OVERFLOW, RC_ERR_OPT_FORMAT, RC_ERR_BAD_CODE.
 */
export function encode(msg) {
  const c = msg.code;
  if (!Number.isInteger(c) || c < 0 || c > 255) fail('BAD_CODE', String(c));
  const token = msg.token ? toU8(msg.token) : new Uint8Array(0);
  if (token.length > TOKEN_MAX) fail('TOKEN_TOO_LONG', `${token.length} bytes`);
  const parts = [];
  const [tklNib, tklExt] = extNibble(token.length);
  // RFC 8323 §4.2: "The Length (Len) field MUST be set to zero because the
  // WebSockets frame contains the length." RFC 8974 puts the extended TKL
  // after the Code.
  parts.push(Uint8Array.from([tklNib, c, ...tklExt]), token);
  const opts = (msg.options || []).map((o, i) => ({ number: o.number, value: encodeOptionValue(o.value), i }));
  opts.sort((a, b) => a.number - b.number || a.i - b.i);
  let prev = 0;
  for (const o of opts) {
    if (!Number.isInteger(o.number) || o.number < 0 || o.number > OPTION_NUMBER_MAX) {
      fail('OPT_NUMBER_OVERFLOW', String(o.number));
    }
    if (o.value.length > 65535 + 269) fail('OPT_FORMAT', `option ${o.number} value too long`);
    const [dn, de] = extNibble(o.number - prev);
    const [ln, le] = extNibble(o.value.length);
    parts.push(Uint8Array.from([(dn << 4) | ln, ...de, ...le]), o.value);
    prev = o.number;
  }
  const payload = typeof msg.payload === 'string' ? utf8enc.encode(msg.payload) : msg.payload ? toU8(msg.payload) : null;
  if (payload && payload.length) parts.push(Uint8Array.of(0xff), payload);
  return concat(parts);
}

/**
 * Decodes one CoAP-over-WebSocket message (one whole WebSocket binary
 * message). Returns {code, token, options: [{number, value}], payload}, all
 * byte fields fresh copies. Throws CoapError with code RC_ERR_TRUNCATED,
 * RC_ERR_BAD_LEN_NIBBLE, RC_ERR_TKL_RESERVED, RC_ERR_OPT_DELTA_RESERVED,
 * RC_ERR_OPT_LEN_RESERVED, RC_ERR_OPT_TRUNCATED, RC_ERR_OPT_NUMBER_OVERFLOW
 * or RC_ERR_EMPTY_PAYLOAD.
 */
export function decode(input) {
  const b = toU8(input);
  if (b.length < 2) fail('TRUNCATED', `${b.length} bytes, need at least 2`);
  // RFC 8323 §4.2: "The Length (Len) field MUST be set to zero".
  if (b[0] >> 4 !== 0) fail('BAD_LEN_NIBBLE', `Len ${b[0] >> 4}`);
  let tkl = b[0] & 15;
  const c = b[1];
  let p = 2;
  // RFC 8974 §2.1: "15: Reserved. This value MUST NOT be sent and MUST be
  // processed as a message-format error."
  if (tkl === 15) fail('TKL_RESERVED');
  if (tkl === 13) {
    if (b.length < p + 1) fail('TRUNCATED', 'extended token length');
    tkl = b[p] + 13;
    p += 1;
  } else if (tkl === 14) {
    if (b.length < p + 2) fail('TRUNCATED', 'extended token length');
    tkl = ((b[p] << 8) | b[p + 1]) + 269;
    p += 2;
  }
  if (b.length < p + tkl) fail('TRUNCATED', `token of ${tkl} bytes`);
  const token = b.slice(p, p + tkl);
  p += tkl;
  const options = [];
  let payload = new Uint8Array(0);
  let number = 0;
  while (p < b.length) {
    const h = b[p++];
    if (h === 0xff) {
      // RFC 7252 §3: "The presence of a marker followed by a zero-length
      // payload MUST be processed as a message format error."
      if (p === b.length) fail('EMPTY_PAYLOAD');
      payload = b.slice(p);
      break;
    }
    let d = h >> 4;
    let l = h & 15;
    // RFC 7252 §3.1: 15 is "Reserved for the Payload Marker" in the delta
    // and "Reserved for future use" in the length: a message format error.
    if (d === 15) fail('OPT_DELTA_RESERVED');
    if (l === 15) fail('OPT_LEN_RESERVED');
    [d, p] = readExt(b, d, p);
    [l, p] = readExt(b, l, p);
    number += d;
    if (number > OPTION_NUMBER_MAX) fail('OPT_NUMBER_OVERFLOW', String(number));
    if (p + l > b.length) fail('OPT_TRUNCATED', `option ${number} wants ${l} bytes`);
    options.push({ number, value: b.slice(p, p + l) });
    p += l;
  }
  return { code: c, token, options, payload };
}

function readExt(b, nib, p) {
  if (nib === 13) {
    if (p + 1 > b.length) fail('OPT_TRUNCATED', 'extended delta/length');
    return [b[p] + 13, p + 1];
  }
  if (nib === 14) {
    if (p + 2 > b.length) fail('OPT_TRUNCATED', 'extended delta/length');
    return [((b[p] << 8) | b[p + 1]) + 269, p + 2];
  }
  return [nib, p];
}

/** One-line human description of a message, in the spirit of `rcoap -v`:
 * "0.01 GET tok=53 Uri-Path:sensors Uri-Path:temperature :: 22.3 Cel". */
export function describe(msg) {
  const parts = [codeName(msg.code), `tok=${hex(msg.token || [])}`];
  for (const o of msg.options || []) {
    const raw = encodeOptionValue(o.value);
    const v = formatOptionValue(msg.code, o.number, raw);
    const name = optionInfo(msg.code, o.number).name;
    parts.push(v === '' ? name : `${name}:${v}`);
  }
  const pl = typeof msg.payload === 'string' ? utf8enc.encode(msg.payload) : msg.payload ? toU8(msg.payload) : null;
  if (pl && pl.length) {
    const printable = isPrintable(pl);
    let shown = printable ? utf8dec.decode(pl.subarray(0, 80)) : `0x${hex(pl.subarray(0, 32))}`;
    if (printable) shown = shown.replace(/\s+/g, ' ');
    const more = pl.length > (printable ? 80 : 32) ? '…' : '';
    parts.push(`:: ${shown}${more} (${pl.length} B)`);
  }
  return parts.join(' ');
}

function isPrintable(b) {
  const n = Math.min(b.length, 80);
  for (let i = 0; i < n; i++) {
    const x = b[i];
    if (x < 0x09 || (x > 0x0d && x < 0x20) || x === 0x7f) return false;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(0, n));
  } catch {
    // A cut inside a multi-byte sequence at the end is fine.
    return n < b.length;
  }
  return true;
}

/* --------------------------------------------------------------------- URIs */

function pctDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return fail('BAD_PERCENT', s);
  }
}

/** Uri-Path strings from a path ("/a/b%20c" -> ["a", "b c"]; "" or "/" -> []),
 * RFC 7252 §6.4 step 8. Throws RC_ERR_BAD_PERCENT. */
export function pathSegments(path) {
  if (!path || path === '/') return [];
  const p = path.startsWith('/') ? path.slice(1) : path;
  return p.split('/').map(pctDecode);
}

/** Uri-Query strings from a query without "?" ("a=1&b" -> ["a=1", "b"]),
 * RFC 7252 §6.4 step 9. Throws RC_ERR_BAD_PERCENT. */
export function querySegments(query) {
  if (!query) return [];
  return query.split('&').map(pctDecode);
}

/**
 * Decomposes a coap+ws:// or coaps+ws:// URI (RFC 8323 §8.3, §8.4, §8.6):
 * returns {scheme, secure, host, port, wsUrl, path: [Uri-Path...],
 * query: [Uri-Query...]}. The WebSocket URL is ws(s)://host:port/.well-known/coap;
 * the default ports are 80 and 443. Throws RC_ERR_BAD_URI, RC_ERR_BAD_SCHEME,
 * RC_ERR_URI_FRAGMENT, RC_ERR_BAD_PORT, RC_ERR_BAD_HOST, RC_ERR_BAD_PERCENT.
 */
export function parseUri(uri) {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?$/.exec(String(uri).trim());
  if (!m) fail('BAD_URI', String(uri));
  const scheme = m[1].toLowerCase();
  if (scheme !== 'coap+ws' && scheme !== 'coaps+ws') fail('BAD_SCHEME', scheme);
  // RFC 7252 §6.4 step 5: "If |url| has a <fragment> component, then fail".
  if (m[5] !== undefined) fail('URI_FRAGMENT', m[5]);
  const secure = scheme === 'coaps+ws';
  const auth = m[2];
  if (auth.includes('@')) fail('BAD_URI', 'userinfo is not allowed');
  let host;
  let portStr;
  const v6 = /^\[([0-9A-Fa-f:.]+(?:%25[^\]]+)?)\](?::(\d*))?$/.exec(auth);
  if (v6) {
    host = `[${v6[1]}]`;
    portStr = v6[2];
  } else {
    const hm = /^([^:[\]]*)(?::(\d*))?$/.exec(auth);
    if (!hm) fail('BAD_HOST', auth);
    host = pctDecode(hm[1]).toLowerCase();
    portStr = hm[2];
  }
  if (!host) fail('BAD_HOST', 'empty host');
  let port = secure ? 443 : 80;
  if (portStr !== undefined && portStr !== '') {
    port = Number(portStr);
    if (!(port >= 1 && port <= 65535)) fail('BAD_PORT', portStr);
  }
  const wsScheme = secure ? 'wss' : 'ws';
  const defPort = secure ? 443 : 80;
  const wsUrl = `${wsScheme}://${host}${port === defPort ? '' : `:${port}`}/.well-known/coap`;
  return { scheme, secure, host, port, wsUrl, path: pathSegments(m[3]), query: querySegments(m[4]) };
}

/* ------------------------------------------------------------- link-format */

/**
 * Parses RFC 6690 link-format ("</a>;rt=x;ct=0 40;obs,</b>;title=\"a, b\"")
 * into [{href, attrs}] where attrs maps each parameter name to its value
 * (quotes removed, escapes resolved), to true for a parameter without a
 * value, and to an array of those when a name repeats. Throws RC_ERR_BAD_LINK.
 */
export function parseLinkFormat(text) {
  const s = typeof text === 'string' ? text : utf8dec.decode(toU8(text));
  const links = [];
  let i = 0;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  ws();
  if (i === s.length) return links;
  for (;;) {
    ws();
    if (s[i] !== '<') fail('BAD_LINK', `expected "<" at ${i}`);
    const end = s.indexOf('>', i + 1);
    if (end < 0) fail('BAD_LINK', 'unterminated "<"');
    const link = { href: s.slice(i + 1, end), attrs: {} };
    i = end + 1;
    for (;;) {
      ws();
      if (i === s.length || s[i] === ',') break;
      if (s[i] !== ';') fail('BAD_LINK', `expected ";" or "," at ${i}`);
      i++;
      ws();
      const nm = /^[!#$&+\-.^_`|~0-9A-Za-z*]+/.exec(s.slice(i));
      if (!nm) fail('BAD_LINK', `expected a parameter name at ${i}`);
      const name = nm[0].toLowerCase();
      i += nm[0].length;
      ws();
      let value = true;
      if (s[i] === '=') {
        i++;
        ws();
        if (s[i] === '"') {
          i++;
          let v = '';
          for (;;) {
            if (i >= s.length) fail('BAD_LINK', 'unterminated quoted string');
            const ch = s[i++];
            if (ch === '"') break;
            if (ch === '\\') {
              if (i >= s.length) fail('BAD_LINK', 'dangling backslash');
              v += s[i++];
            } else {
              v += ch;
            }
          }
          value = v;
        } else {
          const tm = /^[^;,\s]*/.exec(s.slice(i));
          value = tm[0];
          i += value.length;
        }
      }
      const prev = link.attrs[name];
      if (prev === undefined) link.attrs[name] = value;
      else if (Array.isArray(prev)) prev.push(value);
      else link.attrs[name] = [prev, value];
    }
    links.push(link);
    if (i === s.length) break;
    i++; // ','
    ws();
    if (i === s.length) fail('BAD_LINK', 'trailing ","');
  }
  return links;
}

/* ------------------------------------------------------------------ client */

/* RFC 8323 §5.3.1: the base value of Max-Message-Size is 1152. */
export const BASE_MAX_MESSAGE_SIZE = 1152;
/* Our own Max-Message-Size: above 1152 together with Block-Wise-Transfer it
 * also offers BERT (RFC 8323 §5.3.2), which the Block2 reassembly handles. */
const DEFAULT_MAX_MESSAGE_SIZE = 1 << 20;
const DEFAULT_TIMEOUT_MS = 10000;
const DEFAULT_MAX_BODY = 16 << 20;
const TOKEN_LEN = 4;

/** A response: {code, codeName, token, options, payload, rtt} plus helpers. */
export class CoapResponse {
  constructor(msg) {
    this.code = msg.code;
    this.codeName = codeName(msg.code);
    this.token = msg.token;
    this.options = msg.options.map((o) => {
      const info = optionInfo(msg.code, o.number);
      let value;
      try {
        value = decodeOptionValue(msg.code, o.number, o.value);
      } catch {
        value = o.value;
      }
      return { number: o.number, name: info.name, value, raw: o.value };
    });
    this.payload = msg.payload;
    this.rtt = 0;
    this.blocks = 1;
  }

  /** The first value of an option given by name or number, or undefined. */
  option(nameOrNumber) {
    const n = optionNumber(nameOrNumber);
    const o = this.options.find((x) => x.number === n);
    return o ? o.value : undefined;
  }

  /** All values of a repeatable option. */
  optionAll(nameOrNumber) {
    const n = optionNumber(nameOrNumber);
    return this.options.filter((x) => x.number === n).map((x) => x.value);
  }

  get contentFormat() {
    return this.option(OPT.CONTENT_FORMAT);
  }

  get ok() {
    return isSuccess(this.code);
  }

  text() {
    return utf8dec.decode(this.payload);
  }

  json() {
    return JSON.parse(this.text());
  }
}

function tokenKey(t) {
  return hex(t);
}

/**
 * Options for a request: path ("/a/b?x=1" or [segments]), query (string,
 * [strings] or {k: v}), contentFormat, accept, and extra options as
 * [{number|name, value}] or {name: value}. Returns [{number, value}].
 */
export function requestOptions({ path = '/', query, contentFormat, accept, options } = {}) {
  const out = [];
  let qs = [];
  if (Array.isArray(path)) {
    for (const seg of path) out.push({ number: OPT.URI_PATH, value: String(seg) });
  } else {
    const s = String(path);
    const q = s.indexOf('?');
    const p = q < 0 ? s : s.slice(0, q);
    if (q >= 0) qs = querySegments(s.slice(q + 1));
    for (const seg of pathSegments(p)) out.push({ number: OPT.URI_PATH, value: seg });
  }
  if (typeof query === 'string') qs = qs.concat(querySegments(query.replace(/^\?/, '')));
  else if (Array.isArray(query)) qs = qs.concat(query.map(String));
  else if (query && typeof query === 'object') {
    qs = qs.concat(Object.entries(query).map(([k, v]) => (v === true ? k : `${k}=${v}`)));
  }
  for (const q of qs) out.push({ number: OPT.URI_QUERY, value: q });
  if (contentFormat !== undefined && contentFormat !== null && contentFormat !== '') {
    out.push({ number: OPT.CONTENT_FORMAT, value: contentFormatNumber(contentFormat) });
  }
  if (accept !== undefined && accept !== null && accept !== '') {
    out.push({ number: OPT.ACCEPT, value: contentFormatNumber(accept) });
  }
  if (Array.isArray(options)) {
    for (const o of options) out.push({ number: optionNumber(o.number ?? o.name), value: o.value });
  } else if (options && typeof options === 'object') {
    for (const [k, v] of Object.entries(options)) {
      for (const x of Array.isArray(v) ? v : [v]) out.push({ number: optionNumber(k), value: x });
    }
  }
  return out;
}

function payloadBytes(payload) {
  if (payload === undefined || payload === null) return new Uint8Array(0);
  if (typeof payload === 'string') return utf8enc.encode(payload);
  if (payload instanceof Uint8Array || payload instanceof ArrayBuffer || ArrayBuffer.isView(payload)) return toU8(payload);
  return utf8enc.encode(JSON.stringify(payload));
}

/**
 * A CoAP-over-WebSocket client. Make one with RcoapClient.connect(uri, opts),
 * which resolves once both CSMs are exchanged. opts:
 *   WebSocket       constructor to use (default globalThis.WebSocket)
 *   timeout         per-request timeout in ms (10000)
 *   connectTimeout  handshake + server CSM timeout in ms (10000)
 *   maxMessageSize  our Max-Message-Size (1 MiB; > 1152 offers BERT)
 *   maxBodySize     largest Block2 body reassembled (16 MiB)
 *   onLog(entry)    every message in and out: {dir: 'in'|'out', msg, bytes,
 *                   text, time} plus {dir: 'info', text} for state changes
 *   onClose(info)   once, with {code, reason, error}
 * After connect: client.serverCsm = {maxMessageSize, blockWiseTransfer, bert},
 * client.state ('open', 'closing', 'closed'), client.closed (a Promise).
 */
export class RcoapClient {
  constructor(uri, opts = {}) {
    const u = /^wss?:\/\//i.test(uri) ? { wsUrl: uri, secure: /^wss/i.test(uri) } : parseUri(uri);
    this.uri = uri;
    this.wsUrl = u.wsUrl;
    this.opts = {
      timeout: DEFAULT_TIMEOUT_MS,
      connectTimeout: DEFAULT_TIMEOUT_MS,
      maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE,
      maxBodySize: DEFAULT_MAX_BODY,
      ...opts,
    };
    this.state = 'new';
    this.serverCsm = { maxMessageSize: BASE_MAX_MESSAGE_SIZE, blockWiseTransfer: false, bert: false };
    this._gotCsm = false;
    this._pending = new Map(); // token hex -> entry
    this._closeError = null;
    this._ws = null;
    this.closed = new Promise((resolve) => {
      this._resolveClosed = resolve;
    });
  }

  /** Opens a client; resolves to it after the server's CSM arrived, rejects
   * with RC_ERR_CONNECT, RC_ERR_WS_HANDSHAKE, RC_ERR_BAD_CSM, RC_ERR_TIMEOUT,
   * RC_ERR_PEER_ABORT. */
  static async connect(uri, opts = {}) {
    const c = new RcoapClient(uri, opts);
    await c._open();
    return c;
  }

  _log(dir, msg, bytes) {
    if (!this.opts.onLog) return;
    const entry = { dir, time: Date.now() };
    if (msg && typeof msg === 'object') {
      entry.msg = msg;
      entry.bytes = bytes;
      entry.text = describe(msg);
    } else {
      entry.text = String(msg);
    }
    try {
      this.opts.onLog(entry);
    } catch {
      /* a logger must not break the protocol */
    }
  }

  _open() {
    return new Promise((resolve, reject) => {
      const WS = this.opts.WebSocket || globalThis.WebSocket;
      if (!WS) {
        reject(new CoapError('CONNECT', 'no WebSocket implementation'));
        return;
      }
      this._connect = { resolve, reject };
      this._connectTimer = setTimeout(() => {
        this._fail(new CoapError('TIMEOUT', `no CSM from ${this.wsUrl} within ${this.opts.connectTimeout} ms`),
          'no CSM received');
      }, this.opts.connectTimeout);
      let ws;
      try {
        // RFC 8323 §4.1: "The WebSocket client MUST include the subprotocol
        // name "coap" in the list of protocols".
        ws = new WS(this.wsUrl, ['coap']);
      } catch (e) {
        this._settleConnect(new CoapError('CONNECT', `${this.wsUrl}: ${e.message}`));
        return;
      }
      this._ws = ws;
      ws.binaryType = 'arraybuffer';
      this.state = 'connecting';
      this._log('info', `connecting to ${this.wsUrl}`);
      ws.addEventListener('open', () => this._onOpen());
      ws.addEventListener('message', (ev) => this._onData(ev.data));
      ws.addEventListener('close', (ev) => this._onClose(ev.code, ev.reason));
      ws.addEventListener('error', () => {
        /* the close event that follows carries the outcome */
      });
    });
  }

  _settleConnect(err) {
    if (!this._connect) return;
    clearTimeout(this._connectTimer);
    const c = this._connect;
    this._connect = null;
    if (err) c.reject(err);
    else c.resolve(this);
  }

  _onOpen() {
    if (this._ws.protocol !== 'coap') {
      this._fail(new CoapError('WS_HANDSHAKE', `server chose subprotocol "${this._ws.protocol}", not "coap"`));
      return;
    }
    this.state = 'csm-wait';
    this._log('info', `WebSocket open (${this.wsUrl}, subprotocol coap)`);
    // RFC 8323 §4.3: "each endpoint MUST send a Capabilities and Settings
    // message (CSM see Section 5.3) as their first message on the WebSocket
    // connection." §3.3: the initiator "MUST NOT wait for the Connection
    // Acceptor to send its initial CSM message before sending its own".
    this._send({
      code: CODE.CSM,
      token: new Uint8Array(0),
      options: [
        { number: SIGNAL_OPT.MAX_MESSAGE_SIZE, value: this.opts.maxMessageSize },
        { number: SIGNAL_OPT.BLOCK_WISE_TRANSFER, value: null },
      ],
    });
  }

  _send(msg) {
    const bytes = encode(msg);
    if (!this._ws || this._ws.readyState !== 1) throw new CoapError('CLOSED', 'WebSocket is not open');
    if (!isSignaling(msg.code) && bytes.length > this.serverCsm.maxMessageSize) {
      throw new CoapError('PEER_TOO_LARGE', `${bytes.length} > ${this.serverCsm.maxMessageSize} bytes`);
    }
    this._log('out', { ...msg, options: msg.options || [] }, bytes);
    this._ws.send(bytes);
  }

  _onData(data) {
    if (typeof data === 'string') {
      // RFC 8323 §4.2: "the messages are transmitted in binary data frames"
      this._fail(new CoapError('PROTOCOL', 'text frame received'), 'text frames are not CoAP');
      return;
    }
    let msg;
    const bytes = toU8(data);
    try {
      msg = decode(bytes);
    } catch (e) {
      this._log('info', `bad message 0x${hex(bytes.subarray(0, 32))}: ${e.message}`);
      // RFC 8323 §5.6: "the recipient rejects such messages by sending an
      // Abort message and otherwise ignoring (not processing) the message."
      this._fail(new CoapError('PROTOCOL', e.message), e.message);
      return;
    }
    this._log('in', msg, bytes);
    if (!this._gotCsm) {
      // RFC 8323 §3.3: "Endpoints MUST treat a missing or invalid CSM as a
      // connection error and abort the connection".
      if (msg.code === CODE.ABORT) {
        this._onAbort(msg);
        return;
      }
      if (msg.code !== CODE.CSM) {
        this._fail(new CoapError('BAD_CSM', `first message was ${codeName(msg.code)}, not a CSM`),
          'first message was not a CSM');
        return;
      }
    }
    if (isSignaling(msg.code)) this._onSignal(msg);
    else if (isResponse(msg.code)) this._onResponse(msg);
    else if (isRequest(msg.code)) {
      // RFC 8323 §3.3: "If one side does not implement a CoAP server, an
      // error response MUST be returned for all CoAP requests from the other
      // side. The simplest approach is to always return 5.01".
      this._trySend({ code: CODE.NOT_IMPLEMENTED, token: msg.token, options: [] });
    }
    // Code 0.00: RFC 8323 §3.4: "Empty messages (Code 0.00) can always be
    // sent and MUST be ignored by the recipient."
  }

  _trySend(msg) {
    try {
      this._send(msg);
    } catch (e) {
      this._log('info', `could not send ${codeName(msg.code)}: ${e.message}`);
    }
  }

  _onSignal(msg) {
    // RFC 8323 §5.2: "If a Signaling option is critical and not understood
    // by the receiver, it MUST abort the connection".
    for (const o of msg.options) {
      const info = optionInfo(msg.code, o.number);
      if (!info.known && info.critical) {
        this._fail(new CoapError('PROTOCOL', `unknown critical option ${o.number} in ${codeName(msg.code)}`),
          `unknown critical option ${o.number}`, msg.code === CODE.CSM ? o.number : undefined);
        return;
      }
    }
    switch (msg.code) {
      case CODE.CSM:
        this._onCsm(msg);
        break;
      case CODE.PING: {
        // RFC 8323 §5.4: "Upon receipt of a Ping message, the receiver MUST
        // return a Pong message with an identical token in response." We
        // process in order, so everything before the Ping is processed:
        // answer Custody with Custody.
        const custody = msg.options.some((o) => o.number === SIGNAL_OPT.CUSTODY);
        this._trySend({ code: CODE.PONG, token: msg.token,
          options: custody ? [{ number: SIGNAL_OPT.CUSTODY, value: null }] : [] });
        break;
      }
      case CODE.PONG:
        this._onPong(msg);
        break;
      case CODE.RELEASE:
        this._onRelease(msg);
        break;
      case CODE.ABORT:
        this._onAbort(msg);
        break;
      default:
        this._log('info', `ignoring unknown signaling code ${codeString(msg.code)}`);
    }
  }

  _onCsm(msg) {
    for (const o of msg.options) {
      if (o.number === SIGNAL_OPT.MAX_MESSAGE_SIZE) {
        // RFC 8323 §5.3.1: Max-Message-Size is a uint of 0-4 bytes.
        if (o.value.length > 4) {
          this._fail(new CoapError('BAD_CSM', 'Max-Message-Size longer than 4 bytes'), 'bad Max-Message-Size',
            SIGNAL_OPT.MAX_MESSAGE_SIZE);
          return;
        }
        this.serverCsm.maxMessageSize = decodeUint(o.value);
      } else if (o.number === SIGNAL_OPT.BLOCK_WISE_TRANSFER) {
        this.serverCsm.blockWiseTransfer = true;
      }
    }
    // RFC 8323 §5.3.2: Block-Wise-Transfer with a Max-Message-Size greater
    // than 1152 also indicates support for BERT.
    this.serverCsm.bert = this.serverCsm.blockWiseTransfer && this.serverCsm.maxMessageSize > BASE_MAX_MESSAGE_SIZE;
    if (!this._gotCsm) {
      this._gotCsm = true;
      this.state = 'open';
      this._settleConnect(null);
    }
    if (this.opts.onCsm) this.opts.onCsm({ ...this.serverCsm });
  }

  _diag(msg) {
    return msg.payload.length ? utf8dec.decode(msg.payload) : '';
  }

  _onRelease(msg) {
    const alt = msg.options.filter((o) => o.number === SIGNAL_OPT.ALTERNATIVE_ADDRESS).map((o) => utf8dec.decode(o.value));
    const ho = msg.options.find((o) => o.number === SIGNAL_OPT.HOLD_OFF);
    const diag = this._diag(msg);
    const details = { diagnostic: diag, alternativeAddresses: alt, holdOff: ho ? decodeUint(ho.value) : undefined };
    this.released = details;
    this._closeError = new CoapError('PEER_RELEASE', diag || 'no diagnostic', details);
    this._rejectAll(this._closeError);
    this._settleConnect(this._closeError);
    // RFC 8323 §5.5: "A peer will normally respond to a Release message by
    // closing the transport connection."
    this._closeWs(1000, 'released');
  }

  _onAbort(msg) {
    const bad = msg.options.find((o) => o.number === SIGNAL_OPT.BAD_CSM_OPTION);
    const diag = this._diag(msg);
    const details = { diagnostic: diag, badCsmOption: bad ? decodeUint(bad.value) : undefined };
    this.aborted = details;
    this._closeError = new CoapError('PEER_ABORT', diag || 'no diagnostic', details);
    this._rejectAll(this._closeError);
    this._settleConnect(this._closeError);
    this._closeWs(1000, 'aborted by peer');
  }

  /* A connection error on our side: send Abort (with a diagnostic, and
   * Bad-CSM-Option when a CSM option was the cause), reject everything and
   * close. */
  _fail(err, diagnostic, badCsmOption) {
    if (this.state === 'closed') return;
    this._closeError = this._closeError || err;
    if (this._ws && this._ws.readyState === 1 && diagnostic !== undefined) {
      const options = badCsmOption !== undefined ? [{ number: SIGNAL_OPT.BAD_CSM_OPTION, value: badCsmOption }] : [];
      this._trySend({ code: CODE.ABORT, token: new Uint8Array(0), options, payload: diagnostic || undefined });
    }
    this._rejectAll(this._closeError);
    this._settleConnect(this._closeError);
    this._closeWs(1000, 'connection error');
    if (!this._ws || this._ws.readyState === 3) this._onClose(1006, '');
  }

  _closeWs(code, reason) {
    if (this.state !== 'closed') this.state = 'closing';
    try {
      if (this._ws && this._ws.readyState < 2) this._ws.close(code, reason);
    } catch {
      /* already closing */
    }
  }

  _onClose(wsCode, reason) {
    if (this.state === 'closed') return;
    const opened = this.state !== 'connecting' && this.state !== 'new';
    this.state = 'closed';
    const err = this._closeError ||
      new CoapError(opened ? 'CLOSED' : 'CONNECT', `${this.wsUrl}: WebSocket closed (${wsCode}${reason ? ` ${reason}` : ''})`);
    this._log('info', `connection closed (${wsCode}${reason ? ` ${reason}` : ''})`);
    this._rejectAll(err);
    this._settleConnect(err);
    const info = { code: wsCode, reason, error: this._closeError };
    if (this.opts.onClose) {
      try {
        this.opts.onClose(info);
      } catch {
        /* ignore */
      }
    }
    this._resolveClosed(info);
  }

  _rejectAll(err) {
    const entries = [...this._pending.values()];
    this._pending.clear();
    for (const e of entries) {
      clearTimeout(e.timer);
      e.fail(err);
    }
  }

  _newToken() {
    const t = new Uint8Array(TOKEN_LEN);
    for (let i = 0; i < 16; i++) {
      globalThis.crypto.getRandomValues(t);
      if (!this._pending.has(tokenKey(t))) return t;
    }
    throw new CoapError('STATE', 'no free token');
  }

  _checkOpen() {
    if (this.state !== 'open') {
      throw this._closeError || new CoapError(this.state === 'closed' ? 'CLOSED' : 'STATE', `client is ${this.state}`);
    }
  }

  /* Sends one message on `token` and resolves with the next response on it
   * (a CoapResponse), or rejects on timeout or connection loss. */
  _exchange(msg, timeout) {
    return new Promise((resolve, reject) => {
      this._checkOpen();
      const key = tokenKey(msg.token);
      const entry = {
        kind: 'req',
        sent: performance.now(),
        fail: reject,
        onResponse: (m) => {
          this._pending.delete(key);
          clearTimeout(entry.timer);
          const r = new CoapResponse(m);
          r.rtt = performance.now() - entry.sent;
          resolve(r);
        },
      };
      entry.timer = setTimeout(() => {
        this._pending.delete(key);
        reject(new CoapError('TIMEOUT', `${codeName(msg.code)} ${describePath(msg.options)} after ${timeout} ms`));
      }, timeout);
      this._pending.set(key, entry);
      try {
        this._send(msg);
      } catch (e) {
        this._pending.delete(key);
        clearTimeout(entry.timer);
        reject(e);
      }
    });
  }

  _onResponse(msg) {
    const e = this._pending.get(tokenKey(msg.token));
    if (!e) {
      // RFC 8323 §7.2: "If the client does not recognize the token in a
      // notification, it MAY immediately abort the connection". We only log.
      this._log('info', `response with unknown token ${hex(msg.token)} ignored`);
      return;
    }
    e.onResponse(msg);
  }

  _onPong(msg) {
    let e = this._pending.get(tokenKey(msg.token));
    if (!e || e.kind !== 'ping') {
      // Tolerate peers that do not echo the token (INTEROP-NOTES §5):
      // take the oldest outstanding ping.
      e = [...this._pending.values()].find((x) => x.kind === 'ping');
    }
    if (e) e.onResponse(msg);
  }

  /* Fetches the remaining blocks of a Block2 body whose first response is
   * `first`, re-sending `baseOptions` (the request's options without
   * Block2/Observe) and `payload` (FETCH only) with new tokens. Resolves
   * with `first` holding the whole body. Rejects RC_ERR_BLOCK_ORDER, RC_ERR_ENTITY_TOO_LARGE, and the
   * errors of a request. */
  async _fetchBlocks(method, baseOptions, first, timeout, payload) {
    let b = decodeBlock(first.option(OPT.BLOCK2));
    const parts = [first.payload];
    let total = first.payload.length;
    const etag = first.option(OPT.ETAG);
    let last = first;
    let count = 1;
    // Each round adds at least one byte or stops, so total bounds the loop.
    while (b.more) {
      if (last.payload.length === 0) fail('BAD_BLOCK', 'empty block with M=1');
      const units = b.bert ? Math.ceil(last.payload.length / 1024) : 1;
      const next = { num: b.num + units, more: false, szx: b.szx };
      const options = [...baseOptions, { number: OPT.BLOCK2, value: encodeBlock(next) }];
      // A FETCH repeats its body with every block request (RFC 8132 §2.3.2).
      last = await this._exchange({ code: method, token: this._newToken(), options, payload }, timeout);
      count++;
      if (!last.ok) return last;
      const nb = last.option(OPT.BLOCK2);
      if (nb === undefined) fail('BLOCK_ORDER', 'Block2 missing in a later block');
      b = decodeBlock(nb);
      if (b.num !== next.num) fail('BLOCK_ORDER', `asked for block ${next.num}, got ${b.num}`);
      const et = last.option(OPT.ETAG);
      if (etag !== undefined && et !== undefined && hex(et) !== hex(etag)) {
        fail('BLOCK_ORDER', 'ETag changed during a block-wise transfer');
      }
      total += last.payload.length;
      if (total > this.opts.maxBodySize) fail('ENTITY_TOO_LARGE', `body over ${this.opts.maxBodySize} bytes`);
      parts.push(last.payload);
    }
    first.payload = concat(parts);
    first.blocks = count;
    return first;
  }

  /**
   * Sends a request and resolves with its CoapResponse (the whole body when
   * the server answers block-wise with Block2). req: {method ('GET', 'POST',
   * ..., or a code), path, query, payload (string, bytes, or an object sent
   * as JSON), contentFormat, accept, options, timeout, block2 (false: do not
   * reassemble)}. response.rtt is the time in ms from the first send to the
   * last response. Rejects with CoapError: RC_ERR_TIMEOUT, RC_ERR_CLOSED,
   * RC_ERR_PEER_ABORT, RC_ERR_PEER_RELEASE, RC_ERR_PEER_TOO_LARGE,
   * RC_ERR_BLOCK_ORDER, RC_ERR_ENTITY_TOO_LARGE, RC_ERR_BAD_CODE, RC_ERR_INVAL.
   */
  async request(req = {}) {
    this._checkOpen();
    const method = parseCode(req.method ?? 'GET');
    if (!isRequest(method)) fail('BAD_CODE', `${codeName(method)} is not a method`);
    const timeout = req.timeout ?? this.opts.timeout;
    let contentFormat = req.contentFormat;
    const payload = payloadBytes(req.payload);
    if (contentFormat === undefined && req.payload !== undefined && req.payload !== null &&
        typeof req.payload === 'object' && !ArrayBuffer.isView(req.payload) && !(req.payload instanceof ArrayBuffer)) {
      contentFormat = 50;
    }
    const base = requestOptions({ ...req, contentFormat });
    const t0 = performance.now();
    const first = await this._exchange({ code: method, token: this._newToken(), options: base, payload }, timeout);
    let res = first;
    if (req.block2 !== false && first.ok && first.option(OPT.BLOCK2) !== undefined &&
        decodeBlock(first.option(OPT.BLOCK2)).more) {
      res = await this._fetchBlocks(method, base.filter((o) => o.number !== OPT.BLOCK2), first, timeout,
        method === CODE.FETCH ? payload : undefined);
    }
    res.rtt = performance.now() - t0;
    return res;
  }

  get(path, opts = {}) {
    return this.request({ ...opts, method: 'GET', path });
  }

  put(path, payload, opts = {}) {
    return this.request({ ...opts, method: 'PUT', path, payload });
  }

  post(path, payload, opts = {}) {
    return this.request({ ...opts, method: 'POST', path, payload });
  }

  delete(path, opts = {}) {
    return this.request({ ...opts, method: 'DELETE', path });
  }

  fetch(path, payload, opts = {}) {
    return this.request({ ...opts, method: 'FETCH', path, payload });
  }

  /** GET /.well-known/core and parse it: resolves to [{href, attrs}]. */
  async discover(opts = {}) {
    const r = await this.get('/.well-known/core', opts);
    if (!r.ok) fail('PROTOCOL', `discovery answered ${r.codeName}`);
    const links = parseLinkFormat(r.payload);
    links.response = r;
    return links;
  }

  /**
   * Observes a resource (RFC 7641, RFC 8323 §7): sends GET with Observe=0
   * and calls onNotification(response) for the first response and every
   * notification (Block2 notifications are completed before delivery).
   * Resolves, after the first response, to a cancel function; cancel()
   * sends GET with Observe=1 on the same token (RFC 8323 §7.4: "a client
   * MUST explicitly deregister by issuing a GET request that has the Token
   * field set to the token of the observation to be cancelled and includes
   * an Observe Option with the value set to 1") and resolves with the
   * deregistration response (or null). cancel.observing is false when the
   * server's first response carried no Observe option (the resource is not
   * observable there; nothing more will come), cancel.first is that first
   * response. opts: {query, accept, options, timeout, onEnd(reasonError)}.
   */
  observe(path, onNotification, opts = {}) {
    this._checkOpen();
    const timeout = opts.timeout ?? this.opts.timeout;
    const base = requestOptions({ ...opts, path });
    const token = this._newToken();
    const key = tokenKey(token);
    return new Promise((resolve, reject) => {
      let state = 'registering'; // -> observing -> cancelling -> done
      let cancelResolve = null;
      let queue = Promise.resolve();
      const end = (err) => {
        if (state === 'done') return;
        state = 'done';
        this._pending.delete(key);
        clearTimeout(entry.timer);
        if (cancelResolve) cancelResolve(null);
        if (opts.onEnd) opts.onEnd(err || null);
      };
      const cancel = () => {
        if (state === 'done' || state === 'cancelling') return Promise.resolve(null);
        if (this.state !== 'open') {
          end(null);
          return Promise.resolve(null);
        }
        state = 'cancelling';
        return new Promise((res) => {
          cancelResolve = res;
          entry.timer = setTimeout(() => end(new CoapError('TIMEOUT', 'deregistration')), timeout);
          const options = [...base, { number: OPT.OBSERVE, value: 1 }];
          try {
            this._send({ code: CODE.GET, token, options });
          } catch (e) {
            end(e);
          }
        });
      };
      const deliver = (r) => {
        try {
          onNotification(r);
        } catch (e) {
          this._log('info', `observe callback threw: ${e.message}`);
        }
      };
      const entry = {
        kind: 'obs',
        sent: performance.now(),
        fail: (err) => {
          if (state === 'registering') {
            state = 'done';
            reject(err);
          } else {
            end(err);
          }
        },
        onResponse: (m) => {
          const r = new CoapResponse(m);
          r.rtt = performance.now() - entry.sent;
          if (state === 'cancelling') {
            // Notifications already in flight still carry Observe; the
            // answer to the deregistering GET does not.
            if (r.option(OPT.OBSERVE) !== undefined && r.ok) return;
            const res = cancelResolve;
            cancelResolve = null;
            end(null);
            res(r);
            return;
          }
          if (state === 'done') return;
          // RFC 7641 §3.2: a response without Observe, or with a non-2.xx
          // code, ends the observation.
          const observing = r.ok && r.option(OPT.OBSERVE) !== undefined;
          const firstOne = state === 'registering';
          if (firstOne) {
            clearTimeout(entry.timer);
            state = observing ? 'observing' : 'done';
            if (!observing) this._pending.delete(key);
          } else if (!observing) {
            end(null);
          }
          const b2 = r.ok ? r.option(OPT.BLOCK2) : undefined;
          const needBlocks = b2 !== undefined && decodeBlock(b2).more;
          // Keep notifications in order even when one needs more blocks.
          queue = queue.then(async () => {
            let full = r;
            if (needBlocks) {
              const opts2 = base.filter((o) => o.number !== OPT.BLOCK2);
              try {
                full = await this._fetchBlocks(CODE.GET, opts2, r, timeout);
              } catch (e) {
                this._log('info', `observe: could not complete Block2 body: ${e.message}`);
              }
            }
            if (firstOne) {
              cancel.observing = observing;
              cancel.first = full;
              cancel.token = token;
              resolve(cancel);
            }
            deliver(full);
          });
        },
      };
      entry.timer = setTimeout(() => {
        if (state === 'registering') {
          state = 'done';
          this._pending.delete(key);
          reject(new CoapError('TIMEOUT', `observe ${path} after ${timeout} ms`));
        }
      }, timeout);
      this._pending.set(key, entry);
      try {
        this._send({ code: CODE.GET, token, options: [...base, { number: OPT.OBSERVE, value: 0 }] });
      } catch (e) {
        this._pending.delete(key);
        clearTimeout(entry.timer);
        reject(e);
      }
    });
  }

  /** Sends a CoAP Ping (7.02, RFC 8323 §5.4) with a fresh token; resolves
   * with the round-trip time in ms when the Pong arrives. opts: {timeout,
   * custody}. Rejects RC_ERR_PEER_DEAD on timeout, or a connection error. */
  ping(opts = {}) {
    const timeout = opts.timeout ?? this.opts.timeout;
    return new Promise((resolve, reject) => {
      this._checkOpen();
      const token = this._newToken();
      const key = tokenKey(token);
      const entry = {
        kind: 'ping',
        sent: performance.now(),
        fail: reject,
        onResponse: () => {
          this._pending.delete(key);
          clearTimeout(entry.timer);
          resolve(performance.now() - entry.sent);
        },
      };
      entry.timer = setTimeout(() => {
        this._pending.delete(key);
        reject(new CoapError('PEER_DEAD', `no Pong within ${timeout} ms`));
      }, timeout);
      this._pending.set(key, entry);
      try {
        this._send({ code: CODE.PING, token,
          options: opts.custody ? [{ number: SIGNAL_OPT.CUSTODY, value: null }] : [] });
      } catch (e) {
        this._pending.delete(key);
        clearTimeout(entry.timer);
        reject(e);
      }
    });
  }

  /** Closes the WebSocket (code 1000); pending requests reject with
   * RC_ERR_CLOSED (or RC_ERR_CANCELLED). Resolves when the socket is closed. */
  close(reason = 'client closed') {
    if (this.state === 'closed') return this.closed;
    this._closeError = this._closeError || new CoapError('CANCELLED', 'client closed the connection');
    this._rejectAll(this._closeError);
    this._settleConnect(this._closeError);
    this._closeWs(1000, reason);
    if (!this._ws || this._ws.readyState === 3) this._onClose(1000, reason);
    return this.closed;
  }
}

function describePath(options) {
  const segs = (options || []).filter((o) => o.number === OPT.URI_PATH).map((o) => o.value);
  return `/${segs.join('/')}`;
}
