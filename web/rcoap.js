/*
 * rcoap.js — the browser (and Node) CoAP-over-WebSockets client of rcoap
 * (RFC 8323 §4): RcoapClient opens the WebSocket with subprotocol "coap",
 * exchanges CSMs, matches responses by token, reassembles Block2 bodies,
 * observes resources, answers and sends Pings, and turns the peer's
 * Release and Abort into rejected promises. Messages, registries, URIs and
 * link-format come from rcoap-codec.js, which this module also re-exports,
 * so an application needs one import. It runs unchanged in Chromium and in
 * Node 20 (pass a WebSocket class, e.g. the 'ws' package, where there is no
 * global one).
 *
 * coaps+wr: RcoapClient.connectWebRtc(signaling) runs the same client over
 * a WebRTC data channel instead (draft-groves-coap-webrtcdc), set up by
 * rcoap-webrtc.js through a POST of the offer to /webrtc on an open
 * client; the channel carries the messages in the same WebSocket form.
 */

import {
  CoapError, CODE, codeString, codeName, parseCode, isRequest,
  isResponse, isSignaling, isSuccess, OPT, SIGNAL_OPT, optionInfo,
  optionNumber, contentFormatNumber, decodeUint, decodeOptionValue,
  decodeBlock, encodeBlock, hex, encode, decode, describe, pathSegments,
  querySegments, parseUri, parseLinkFormat, fail, toU8, concat
} from './rcoap-codec.js';
import { openWebRtcChannel } from './rcoap-webrtc.js';

export * from './rcoap-codec.js';
export * from './rcoap-webrtc.js';

const utf8enc = new TextEncoder();
const utf8dec = new TextDecoder('utf-8');

/* ------------------------------------------------------------------ client */

/* RFC 8323 §5.3.1: the base value of Max-Message-Size is 1152. */
export const BASE_MAX_MESSAGE_SIZE = 1152;
/* WebSocket readyState numbers for an RTCDataChannel's state names. */
const CHANNEL_STATE = { connecting: 0, open: 1, closing: 2, closed: 3 };

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
    const u = opts.channel || /^wss?:\/\//i.test(uri) ? { wsUrl: uri, secure: /^wss/i.test(uri) } : parseUri(uri);
    this.uri = uri;
    /* 'ws' (WebSocket) or 'webrtc' (a data channel given as opts.channel). */
    this.transport = opts.channel ? 'webrtc' : 'ws';
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
    const entry = { dir, time: Date.now(), transport: this.transport };
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

  /* The socket's (or channel's) readyState as WebSocket numbers. */
  _sockState() {
    const r = this._ws ? this._ws.readyState : 3;
    return typeof r === 'string' ? CHANNEL_STATE[r] ?? 3 : r;
  }

  /**
   * coaps+wr: opens a data channel to the server `signaling` (an open
   * RcoapClient, e.g. over coap+ws) is connected to, by POSTing the offer
   * to /webrtc (rcoap-webrtc.js), and resolves to a client on it once both
   * CSMs are exchanged over the channel. opts: those of connect() plus
   * RTCPeerConnection (constructor), path ('/webrtc'). client.pc is the
   * RTCPeerConnection. Rejects like connect() and openWebRtcChannel().
   */
  static async connectWebRtc(signaling, opts = {}) {
    const onLog = opts.onLog;
    const info = (text) => onLog && onLog({ dir: 'info', time: Date.now(), transport: 'webrtc', text });
    const { pc, channel, localMax, remoteMax } = await openWebRtcChannel(signaling, { ...opts, onLog: info });
    const host = signaling.wsUrl.replace(/^wss?:\/\/([^/]*).*$/, '$1');
    // draft-groves-coap-webrtcdc §3.5: "The CoAP Max-Message-Size shall not
    // exceed the SCTP message size": ours is capped at what our SDP
    // offered, and we send nothing larger than the answer's.
    const maxMessageSize = Math.min(opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE, localMax);
    const c = new RcoapClient(`coaps+wr://${host}`, { ...opts, channel, maxMessageSize, channelMax: remoteMax });
    c.pc = pc;
    pc.addEventListener('connectionstatechange', () => {
      info(`WebRTC: connection ${pc.connectionState}`);
      if (pc.connectionState === 'failed') c._fail(new CoapError('CONNECT', 'WebRTC connection failed (ICE or DTLS)'));
    });
    try {
      await c._open();
    } catch (e) {
      pc.close();
      throw e;
    }
    c.closed.then(() => pc.close());
    return c;
  }

  /* Uses an RTCDataChannel (opts.channel) as the socket. */
  _attachChannel(ch) {
    this._ws = ch;
    this.state = 'connecting';
    this._log('info', `waiting for the data channel "${ch.label}" to open`);
    ch.addEventListener('open', () => this._onOpen());
    ch.addEventListener('message', (ev) => this._onData(ev.data));
    ch.addEventListener('close', () => this._onClose(1000, 'data channel closed'));
    if (this._sockState() === 1) this._onOpen();
  }

  _open() {
    return new Promise((resolve, reject) => {
      if (this.opts.channel) {
        this._connect = { resolve, reject };
        this._connectTimer = setTimeout(() => {
          this._fail(new CoapError('TIMEOUT', `no CSM over the data channel within ${this.opts.connectTimeout} ms`),
            'no CSM received');
        }, this.opts.connectTimeout);
        this._attachChannel(this.opts.channel);
        return;
      }
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
    if (this.state !== 'connecting') return;
    // A data channel's protocol is the DCEP one we asked for (RFC 8832 §5.1).
    if (this._ws.protocol !== 'coap') {
      this._fail(new CoapError('WS_HANDSHAKE', `server chose subprotocol "${this._ws.protocol}", not "coap"`));
      return;
    }
    this.state = 'csm-wait';
    this._log('info', this.transport === 'webrtc' ? 'data channel open (protocol coap)'
      : `WebSocket open (${this.wsUrl}, subprotocol coap)`);
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
    if (this._sockState() !== 1) throw new CoapError('CLOSED', `${this.transport === 'webrtc' ? 'data channel' : 'WebSocket'} is not open`);
    if (!isSignaling(msg.code) && bytes.length > this.serverCsm.maxMessageSize) {
      throw new CoapError('PEER_TOO_LARGE', `${bytes.length} > ${this.serverCsm.maxMessageSize} bytes`);
    }
    if (this.opts.channelMax && bytes.length > this.opts.channelMax) {
      throw new CoapError('PEER_TOO_LARGE', `${bytes.length} > ${this.opts.channelMax} bytes (the peer's a=max-message-size)`);
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
    if (this._sockState() === 1 && diagnostic !== undefined) {
      const options = badCsmOption !== undefined ? [{ number: SIGNAL_OPT.BAD_CSM_OPTION, value: badCsmOption }] : [];
      this._trySend({ code: CODE.ABORT, token: new Uint8Array(0), options, payload: diagnostic || undefined });
    }
    this._rejectAll(this._closeError);
    this._settleConnect(this._closeError);
    this._closeWs(1000, 'connection error');
    if (this._sockState() === 3) this._onClose(1006, '');
  }

  _closeWs(code, reason) {
    if (this.state !== 'closed') this.state = 'closing';
    try {
      if (this._sockState() < 2) this._ws.close(code, reason);
    } catch {
      /* already closing */
    }
  }

  _onClose(wsCode, reason) {
    if (this.state === 'closed') return;
    const opened = this.state !== 'connecting' && this.state !== 'new';
    this.state = 'closed';
    const err = this._closeError ||
      new CoapError(opened ? 'CLOSED' : 'CONNECT', `${this.wsUrl}: ${this.transport === 'webrtc' ? 'data channel' : 'WebSocket'} closed (${wsCode}${reason ? ` ${reason}` : ''})`);
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
    if (this._sockState() === 3) this._onClose(1000, reason);
    return this.closed;
  }
}

function describePath(options) {
  const segs = (options || []).filter((o) => o.number === OPT.URI_PATH).map((o) => o.value);
  return `/${segs.join('/')}`;
}
