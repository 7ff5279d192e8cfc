/*
 * The demo page's behaviour: connects with rcoap.js to coap+ws (coaps+ws on
 * https) at the host and port the page came from, shows the connection and
 * the server's CSM, lists /.well-known/core, shows /sensors/temp live
 * (Observe, or polling once a second when the server does not observe;
 * "offline" or "stale" with the time of the last value when that stops),
 * reads the proxy's routes under /devices/ (resources of other servers,
 * e.g. a UDP device) once a second, with a toggle for a lamp,
 * sends requests from the form (OBSERVE keeps any observable resource
 * coming into the response panel) and logs every message in both
 * directions.
 * Reconnects with back-off when the connection drops. `?coap=<uri>` in the
 * page URL points it at another coap+ws endpoint.
 * "Run the session over WebRTC" (or `?webrtc=1`) moves the session onto a
 * WebRTC data channel to the same server (coaps+wr), set up by POSTing the
 * offer to /webrtc over the coap+ws connection (to /webrtc/peers/NAME when
 * a peer name is given, or `?peer=NAME`: a device registered at this
 * server as a rendezvous broker); the log and the response
 * panel say which transport carried each message. When the channel goes,
 * the session falls back to coap+ws.
 */
import { RcoapClient } from './rcoap.js';
import {
  parseLinkFormat, codeString, contentFormatName, formatOptionValue, isSignaling,
} from './rcoap-codec.js';

const $ = (id) => document.getElementById(id);
const td = new TextDecoder();
const PAYLOAD_SHOWN_MAX = 16 * 1024;
const LOG_MAX = 500;
const SPARK_POINTS = 90;

const params = new URLSearchParams(location.search);
const secure = location.protocol === 'https:';
const coapUri = params.get('coap') || `${secure ? 'coaps+ws' : 'coap+ws'}://${location.host}`;

let client = null; // the session: wsClient, or a coaps+wr client
let wsClient = null; // coap+ws: the page's connection, and the signaling
let reconnectDelay = 1000;
// Why the session is not on the data channel the page asked for (a failed
// or closed WebRTC attempt): shown in the transport line until the next
// attempt or the switch back to coap+ws.
let transportNote = '';
let reconnectTimer = null;
let tempCancel = null;
let pollTimer = null;
let lastTempAt = 0;
let formCancel = null; // the request form's observation
let formNotes = 0;
const temps = [];
let tempCount = 0;
let devicesTimer = null;

/* ------------------------------------------------------------- status */

function setStatus(state, text) {
  const s = $('status');
  s.dataset.state = state;
  s.textContent = text || state;
  const up = state === 'connected';
  for (const id of ['req-send', 'discover', 'ping']) $(id).disabled = !up;
  $('reconnect').hidden = up || state === 'connecting';
}

/* ---------------------------------------------------------------- log */

function time(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function log(entry) {
  const ol = $('log');
  const atBottom = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 24;
  const li = document.createElement('li');
  li.className = entry.dir;
  if (entry.msg && isSignaling(entry.msg.code)) li.classList.add('sig');
  if (entry.err) li.classList.add('err');
  const arrow = { out: '→', in: '←', info: '·' }[entry.dir] || '·';
  for (const [cls, text] of [['t', time(entry.time || Date.now())], ['d', arrow], ['m', entry.text]]) {
    const span = document.createElement('span');
    span.className = cls;
    span.textContent = text;
    if (cls === 'm' && entry.transport === 'webrtc') {
      const tp = document.createElement('b');
      tp.className = 'tp';
      tp.textContent = 'wr';
      tp.title = 'over the WebRTC data channel (coaps+wr)';
      span.prepend(tp, ' ');
    }
    li.append(span);
  }
  if (entry.bytes) li.title = `${entry.bytes.length} bytes`;
  ol.append(li);
  while (ol.childElementCount > LOG_MAX) ol.firstElementChild.remove();
  if (atBottom) ol.scrollTop = ol.scrollHeight;
}

/* --------------------------------------------------------- connection */

async function connect() {
  clearTimeout(reconnectTimer);
  stopTemp();
  setStatus('connecting', 'connecting');
  $('endpoint').textContent = coapUri;
  try {
    wsClient = await RcoapClient.connect(coapUri, {
      onLog: log,
      onCsm: (csm) => client === wsClient && showCsm(csm),
      onClose: onClose,
    });
    client = wsClient;
  } catch (e) {
    log({ dir: 'info', text: `connect failed: ${e.message}`, err: true });
    setStatus('disconnected', 'disconnected');
    scheduleReconnect(e);
    return;
  }
  reconnectDelay = 1000;
  setStatus('connected', 'connected');
  if ($('use-webrtc').checked) await startWebRtc();
  showTransport();
  showCsm(client.serverCsm);
  discover();
  startTemp();
}

function showTransport(note = transportNote) {
  $('transport').textContent = client && client.transport === 'webrtc'
    ? `coaps+wr: WebRTC data channel "coap" (ICE, DTLS, SCTP); signaling over ${wsClient.wsUrl}`
    : `${secure ? 'coaps+ws (TLS)' : 'coap+ws'} over ${wsClient ? wsClient.wsUrl : coapUri}, subprotocol "coap"${note ? ` · ${note}` : ''}`;
  $('transport').dataset.transport = client ? client.transport : '';
}

/* Moves the session onto a data channel (coaps+wr); stays on coap+ws if
 * that fails. */
async function startWebRtc() {
  try {
    // A name: a peer registered at this server as a rendezvous broker.
    // The broker answers STUN on its coaps+wr port (3478 unless ?stun=
    // says HOST:PORT): our server-reflexive address is one the peer behind
    // its NAT can send checks to, where an mDNS host name is not.
    const peer = $('webrtc-peer').value.trim() || undefined;
    const stun = params.get('stun') || `${location.hostname}:3478`;
    const iceServers = peer ? [{ urls: `stun:${stun}` }] : [];
    transportNote = '';
    const rtc = await RcoapClient.connectWebRtc(wsClient, { peer, iceServers, onLog: log, onCsm: showCsm, onClose: () => onRtcClose(rtc) });
    client = rtc;
  } catch (e) {
    log({ dir: 'info', text: `WebRTC session failed: ${e.message}; staying on coap+ws`, err: true });
    transportNote = `WebRTC failed: ${e.message}`;
    showTransport();
  }
}

function onRtcClose(rtc) {
  if (client !== rtc) return;
  log({ dir: 'info', text: 'WebRTC data channel closed; the session goes back to coap+ws', err: true });
  stopTemp();
  stopFormObserve();
  client = wsClient;
  if (!wsClient || wsClient.state !== 'open') return;
  transportNote = 'WebRTC closed';
  showTransport();
  showCsm(wsClient.serverCsm);
  startTemp();
}

/* The switch: the session moves between coap+ws and coaps+wr. */
async function switchTransport() {
  if (!wsClient || wsClient.state !== 'open') return;
  const want = $('use-webrtc').checked;
  if (want === (client.transport === 'webrtc')) {
    if (!want && transportNote) {
      transportNote = '';
      showTransport();
    }
    return;
  }
  $('use-webrtc').disabled = true;
  stopTemp();
  stopFormObserve();
  if (want) {
    await startWebRtc();
  } else {
    const rtc = client;
    client = wsClient;
    transportNote = '';
    await rtc.close('switched to coap+ws');
  }
  $('use-webrtc').disabled = false;
  showTransport();
  showCsm(client.serverCsm);
  discover();
  startTemp();
}

/* The temperature card once its source is gone: the last value stays,
 * greyed, with when it came. */
function tempGone(mode, why) {
  setTempMode(mode);
  $('card-temp')?.classList.add('stale');
  const at = lastTempAt ? `; last value at ${time(lastTempAt)}` : '';
  $('temp-note').textContent = `${why}${at}`;
}

function onClose(info) {
  const rtc = client;
  client = wsClient;
  if (rtc && rtc !== wsClient) rtc.close('signaling connection lost');
  stopTemp();
  stopFormObserve();
  tempGone('offline', 'Connection lost');
  const why = info.error ? info.error.message : `WebSocket closed (${info.code})`;
  log({ dir: 'info', text: `disconnected: ${why}`, err: true });
  setStatus('disconnected', 'disconnected');
  scheduleReconnect(info.error);
}

function scheduleReconnect(err) {
  clearTimeout(reconnectTimer);
  // RFC 8323 §5.5: Hold-Off asks the peer not to reconnect for that many seconds.
  const holdOff = err && err.details && err.details.holdOff;
  const delay = holdOff ? holdOff * 1000 : reconnectDelay;
  reconnectDelay = Math.min(reconnectDelay * 2, 15000);
  log({ dir: 'info', text: `reconnecting in ${Math.round(delay / 1000)} s` });
  reconnectTimer = setTimeout(connect, delay);
}

function showCsm(csm) {
  $('csm-mms').textContent = `${csm.maxMessageSize.toLocaleString('en-US')} bytes`;
  $('csm-bwt').textContent = csm.blockWiseTransfer ? 'supported' : 'not indicated';
  $('csm-bert').textContent = csm.bert ? 'supported' : 'no';
}

/* ---------------------------------------------------------- resources */

function attrText(v) {
  return Array.isArray(v) ? v.map((x) => (x === true ? '' : x)).join(' ') : v === true ? '' : v;
}

async function discover() {
  const ul = $('resources');
  try {
    const r = await client.get('/.well-known/core');
    if (!r.ok) throw new Error(`answered ${r.codeName}`);
    const links = parseLinkFormat(r.payload);
    ul.replaceChildren();
    for (const link of links) ul.append(resourceItem(link));
    if (!links.length) ul.innerHTML = '<li class="empty">No resources listed.</li>';
    showDevices(links);
  } catch (e) {
    ul.replaceChildren();
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = `Discovery failed: ${e.message}`;
    ul.append(li);
  }
}

/* ------------------------------------------------------------ devices */

/* The proxy's routes under /devices/: each polled once a second; a lamp
 * ("/devices/lamp") gets a button that PUTs "on" or "off". */
function showDevices(links) {
  clearInterval(devicesTimer);
  const devs = links.map((l) => l.href).filter((h) => h.startsWith('/devices/'));
  $('card-devices').hidden = !devs.length;
  const ul = $('devices');
  ul.replaceChildren();
  for (const href of devs) {
    const li = document.createElement('li');
    li.dataset.href = href;
    const name = document.createElement('span');
    name.className = 'href';
    name.textContent = href;
    const value = document.createElement('span');
    value.className = 'value';
    value.dataset.testid = 'device-value';
    value.textContent = '—';
    const count = document.createElement('span');
    count.className = 'count';
    count.dataset.n = '0';
    li.append(name, value, count);
    if (href.endsWith('/lamp')) {
      const b = document.createElement('button');
      b.className = 'btn ghost';
      b.type = 'button';
      b.textContent = 'Toggle';
      b.dataset.testid = 'lamp-toggle';
      b.addEventListener('click', async () => {
        const next = value.textContent === 'on' ? 'off' : 'on';
        try {
          await client.put(href, next, { contentFormat: 0 });
        } catch (e) {
          log({ dir: 'info', text: `lamp: ${e.message}`, err: true });
        }
        readDevice(li);
      });
      li.append(b);
    }
    ul.append(li);
  }
  const all = () => ul.querySelectorAll('li').forEach(readDevice);
  if (devs.length) {
    all();
    devicesTimer = setInterval(all, 1000);
  }
}

async function readDevice(li) {
  if (!client || client.state !== 'open') return;
  const value = li.querySelector('.value');
  const count = li.querySelector('.count');
  try {
    const r = await client.get(li.dataset.href);
    value.textContent = r.ok ? td.decode(r.payload).trim() : r.codeName;
    const n = Number(count.dataset.n) + 1;
    count.dataset.n = String(n);
    count.textContent = `${n} reads`;
  } catch (e) {
    value.textContent = e.message;
  }
}

function resourceItem(link) {
  const li = document.createElement('li');
  li.dataset.href = link.href;
  li.tabIndex = 0;
  li.setAttribute('role', 'button');
  const href = document.createElement('span');
  href.className = 'href';
  href.textContent = link.href;
  li.append(href);
  for (const key of ['rt', 'if', 'ct', 'sz']) {
    if (link.attrs[key] === undefined) continue;
    const a = document.createElement('span');
    a.className = 'attr';
    const b = document.createElement('b');
    b.textContent = key;
    a.append(b, `=${attrText(link.attrs[key])}`);
    if (key === 'ct') a.title = String(attrText(link.attrs.ct)).split(/\s+/).map((n) => contentFormatName(Number(n))).join(', ');
    li.append(a);
  }
  if (link.attrs.obs !== undefined) {
    const o = document.createElement('span');
    o.className = 'attr obs';
    o.textContent = 'obs';
    o.title = 'observable';
    li.append(o);
  }
  if (link.attrs.title) {
    const t = document.createElement('span');
    t.className = 'title';
    t.textContent = attrText(link.attrs.title);
    li.append(t);
  }
  const go = () => {
    $('req-method').value = 'GET';
    $('req-path').value = link.href;
    send();
  };
  li.addEventListener('click', go);
  li.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      go();
    }
  });
  return li;
}

/* -------------------------------------------------------- temperature */

function stopTemp() {
  clearInterval(pollTimer);
  pollTimer = null;
  if (tempCancel) {
    const c = tempCancel;
    tempCancel = null;
    c().catch(() => {});
  }
}

function showTemp(r) {
  $('card-temp')?.classList.remove('stale');
  if (!r.ok) {
    $('temp-note').textContent = `Server answered ${r.codeName}`;
    return;
  }
  const text = r.text().trim();
  const v = tempValue(text);
  $('temp').textContent = Number.isFinite(v) ? v.toFixed(1) : text;
  if (Number.isFinite(v)) {
    temps.push(v);
    if (temps.length > SPARK_POINTS) temps.shift();
    tempCount++;
    lastTempAt = Date.now();
    $('temp-count').textContent = String(tempCount);
    drawSpark();
  }
  const mode = $('temp-mode').dataset.mode;
  $('temp-note').textContent = `Updated ${time(Date.now())} · ${mode === 'observing' ? 'notification' : 'GET'} ${r.codeName}`;
}

/* The number in a temperature payload: plain text ("21.5", "21.5 Cel"),
 * a JSON number, or the first numeric field of a JSON object (SenML "v"). */
function tempValue(text) {
  const plain = Number.parseFloat(text);
  if (Number.isFinite(plain)) return plain;
  try {
    let j = JSON.parse(text);
    if (Array.isArray(j)) j = j[0];
    if (typeof j === 'number') return j;
    if (j && typeof j === 'object') {
      for (const k of ['v', 'value', 'temp', 'temperature', ...Object.keys(j)]) {
        if (typeof j[k] === 'number') return j[k];
      }
    }
  } catch {
    /* not JSON */
  }
  return Number.NaN;
}

function setTempMode(mode) {
  const m = $('temp-mode');
  m.dataset.mode = mode;
  m.textContent = mode;
}

async function startTemp() {
  setTempMode('subscribing');
  let mine = null;
  try {
    const cancel = await client.observe('/sensors/temp', showTemp, {
      onEnd: (err) => {
        if (mine && tempCancel === mine && client && client.state === 'open') {
          log({ dir: 'info', text: `observation ended${err ? `: ${err.message}` : ''}; polling instead` });
          tempCancel = null;
          startPolling();
        }
      },
    });
    mine = cancel;
    if (cancel.observing) {
      tempCancel = cancel;
      setTempMode('observing');
      $('temp-note').textContent = 'Observing: the server pushes each new value (RFC 7641).';
    } else {
      // No Observe option in the response: this server does not observe
      // the resource, so ask once a second instead.
      startPolling();
    }
  } catch (e) {
    $('temp-note').textContent = `Observe failed: ${e.message}`;
    if (client && client.state === 'open') startPolling();
  }
}

function startPolling() {
  setTempMode('polling');
  clearInterval(pollTimer);
  let busy = false;
  pollTimer = setInterval(async () => {
    if (busy || !client || client.state !== 'open') return;
    busy = true;
    try {
      showTemp(await client.get('/sensors/temp'));
    } catch (e) {
      tempGone('stale', `Polling failed: ${e.message}`);
    } finally {
      busy = false;
    }
  }, 1000);
}

function drawSpark() {
  const w = 240;
  const h = 64;
  const min = Math.min(...temps);
  const max = Math.max(...temps);
  $('temp-min').textContent = min.toFixed(1);
  $('temp-max').textContent = max.toFixed(1);
  if (temps.length < 2) return;
  let lo = min;
  let hi = max;
  if (hi - lo < 1) {
    const mid = (hi + lo) / 2;
    lo = mid - 0.5;
    hi = mid + 0.5;
  }
  // Spread the points over the full width until the history is full.
  const x = (i) => (i / (temps.length - 1)) * w;
  const y = (v) => h - 6 - ((v - lo) / (hi - lo)) * (h - 12);
  const pts = temps.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  $('spark-line').setAttribute('d', `M${pts.join('L')}`);
  $('spark-area').setAttribute('d', `M0,${h}L${pts.join('L')}L${w},${h}Z`);
}

/* ------------------------------------------------------------ request */

function showPayload(r) {
  const pre = $('resp-payload');
  const p = r.payload;
  if (!p.length) {
    pre.textContent = '';
    return;
  }
  const cf = r.contentFormat;
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(p.subarray(0, PAYLOAD_SHOWN_MAX));
  } catch {
    text = null;
  }
  if (text !== null && cf === 50 && p.length <= PAYLOAD_SHOWN_MAX) {
    try {
      text = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      /* show as sent */
    }
  } else if (text !== null && cf === 40 && p.length <= PAYLOAD_SHOWN_MAX) {
    try {
      text = parseLinkFormat(text).map((l) => `<${l.href}>${Object.entries(l.attrs)
        .map(([k, v]) => (v === true ? `;${k}` : `;${k}=${JSON.stringify(attrText(v))}`)).join('')}`).join(',\n');
    } catch {
      /* show as sent */
    }
  }
  if (text === null) {
    const bytes = [...p.subarray(0, 512)].map((b) => b.toString(16).padStart(2, '0'));
    const lines = [];
    for (let i = 0; i < bytes.length; i += 16) lines.push(`${i.toString(16).padStart(4, '0')}  ${bytes.slice(i, i + 16).join(' ')}`);
    text = lines.join('\n');
  }
  const shown = text !== null && p.length > PAYLOAD_SHOWN_MAX ? `\n… (${PAYLOAD_SHOWN_MAX.toLocaleString('en-US')} of ${p.length.toLocaleString('en-US')} bytes shown)` : '';
  pre.textContent = text + shown;
}

function showResponse(r) {
  $('resp-transport').textContent = client && client.transport === 'webrtc' ? 'via coaps+wr (data channel)' : 'via coap+ws';
  const code = $('resp-code');
  code.textContent = r.codeName;
  code.dataset.class = String(r.code >> 5);
  code.dataset.code = codeString(r.code);
  const size = r.payload.length;
  const blocks = r.blocks > 1 ? ` in ${r.blocks} blocks` : '';
  $('resp-meta').textContent = `${size.toLocaleString('en-US')} byte${size === 1 ? '' : 's'}${blocks}`;
  $('resp-rtt').textContent = `${r.rtt.toFixed(1)} ms`;
  const ul = $('resp-options');
  ul.replaceChildren();
  for (const o of r.options) {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = o.name;
    const v = formatOptionValue(r.code, o.number, o.raw);
    li.append(name, v === '' ? '' : ` ${v}`);
    ul.append(li);
  }
  showPayload(r);
}

function showError(e) {
  const code = $('resp-code');
  code.textContent = 'error';
  code.dataset.class = 'error';
  code.dataset.code = '';
  $('resp-meta').textContent = e.code || e.name;
  $('resp-rtt').textContent = '';
  $('resp-options').replaceChildren();
  $('resp-payload').textContent = e.message;
}

function stopFormObserve() {
  if (!formCancel) return;
  const c = formCancel;
  formCancel = null;
  $('req-send').textContent = 'Send';
  c().catch(() => {});
}

/* OBSERVE from the form: every notification replaces the response shown,
 * counted in its meta line, until Stop (or another request). */
async function observeFromForm(path) {
  formNotes = 0;
  const shown = (r) => {
    formNotes++;
    showResponse(r);
    $('resp-meta').textContent += ` · notification ${formNotes}`;
  };
  try {
    const cancel = await client.observe(path, shown, {
      onEnd: (err) => {
        if (formCancel === cancel) {
          formCancel = null;
          $('req-send').textContent = 'Send';
          if (err) log({ dir: 'info', text: `observation of ${path} ended: ${err.message}`, err: true });
        }
      },
    });
    if (cancel.observing) {
      formCancel = cancel;
      $('req-send').textContent = 'Stop';
    } else {
      $('resp-meta').textContent += ' · not observable here (answer without Observe)';
    }
  } catch (e) {
    showError(e);
  }
}

async function send(ev) {
  if (ev) ev.preventDefault();
  if (!client || client.state !== 'open') return;
  if (formCancel) {
    stopFormObserve(); // the button says Stop while observing
    return;
  }
  const method = $('req-method').value;
  const path = $('req-path').value.trim() || '/';
  const cf = $('req-cf').value;
  const payload = $('req-payload').value;
  const withBody = method === 'PUT' || method === 'POST' || method === 'FETCH';
  const btn = $('req-send');
  btn.disabled = true;
  $('resp-code').textContent = '…';
  $('resp-code').dataset.class = 'none';
  if (method === 'OBSERVE') {
    await observeFromForm(path);
    btn.disabled = !client || client.state !== 'open';
    return;
  }
  try {
    const r = await client.request({
      method,
      path,
      payload: withBody && payload ? payload : undefined,
      contentFormat: withBody && cf !== '' ? Number(cf) : undefined,
    });
    showResponse(r);
  } catch (e) {
    showError(e);
  } finally {
    btn.disabled = !client || client.state !== 'open';
  }
  // A PUT or DELETE under /store changes the resource list.
  if ((method === 'PUT' || method === 'DELETE') && client && client.state === 'open') discover();
}

/* --------------------------------------------------------------- wire */

$('req-form').addEventListener('submit', send);
$('discover').addEventListener('click', () => discover());
$('reconnect').addEventListener('click', () => {
  reconnectDelay = 1000;
  connect();
});
$('ping').addEventListener('click', async () => {
  try {
    const rtt = await client.ping();
    $('ping-rtt').textContent = `${rtt.toFixed(1)} ms`;
  } catch (e) {
    $('ping-rtt').textContent = e.message;
  }
});
$('log-clear').addEventListener('click', () => $('log').replaceChildren());
$('use-webrtc').checked = params.get('webrtc') === '1';
$('webrtc-peer').value = params.get('peer') || '';
$('use-webrtc').addEventListener('change', switchTransport);
$('log-signal').addEventListener('change', (ev) => $('log').classList.toggle('hide-sig', !ev.target.checked));
$('req-method').addEventListener('change', () => {
  const m = $('req-method').value;
  const withBody = m === 'PUT' || m === 'POST' || m === 'FETCH';
  $('req-payload').disabled = !withBody;
  $('req-cf').disabled = !withBody;
});
$('req-method').dispatchEvent(new Event('change'));

if (location.protocol === 'file:' && !params.get('coap')) {
  setStatus('error', 'no server');
  log({ dir: 'info', text: 'Open this page from rcoapd (http://host:port/), or add ?coap=coap+ws://host:port', err: true });
} else {
  connect();
}

// For tests and the console.
window.rcoap = { get client() { return client; }, get wsClient() { return wsClient; } };
