/*
 * rcoap-codec.js — the pure half of rcoap's browser client: CoAP messages
 * in the WebSocket form of the RFC 8323 reliable-transport frame (Len
 * nibble 0: the WebSocket frame carries the length), the option,
 * Content-Format and code registries, coap+ws/coaps+ws URI decomposition
 * and a link-format parser for /.well-known/core. It opens no socket and
 * keeps no state, so it serves the client (rcoap.js), the demo page and the
 * tests alike, in Chromium and in Node 20. Errors are CoapError with the
 * names of rcoap's C error table (include/rcoap/err.h) in err.code, e.g.
 * "RC_ERR_TKL_RESERVED".
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

/** Throws the CoapError for an err.h short name (used by rcoap.js too). */
export function fail(short, detail, details) {
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

/** Any byte view or ArrayBuffer as a Uint8Array (no copy). */
export function toU8(b) {
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

/** Joins byte arrays into one. */
export function concat(parts) {
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
