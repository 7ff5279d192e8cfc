/*
 * rcoap-webrtc.js — the WebRTC side of rcoap.js's coaps+wr mode (CoAP over
 * a WebRTC data channel, draft-groves-coap-webrtcdc): an RTCPeerConnection
 * with one data channel "coap" (DCEP protocol "coap"), its offer sent
 * whole (no trickle: after ICE gathering completed) as the signaling JSON
 * {"type":"offer","sdp":...} in a POST to /webrtc over an open CoAP
 * connection (the page's coap+ws one), and the answer from the response
 * given to setRemoteDescription. What runs over the channel afterwards
 * (CSM, requests) is RcoapClient's, in the WebSocket message form (RFC
 * 8323 §4: no length field), one CoAP message per data-channel message.
 * No import of rcoap.js: it is handed the signaling client.
 */
import { fail } from './rcoap-codec.js';

/* RFC 7252 §12.3: application/json. */
export const CF_JSON = 50;
export const SIGNAL_PATH = '/webrtc';
/* A peer registered at a rendezvous broker by name (rcoapd
 * --webrtc-register): the offer goes to /webrtc/peers/NAME instead, and
 * the broker answers with that peer's answer (docs/RENDEZVOUS.md). */
export const PEERS_PATH = '/webrtc/peers/';
const PEER_NAME = /^[A-Za-z0-9._-]{1,63}$/;

/* The signaling path for a registered peer's name; rejects RC_ERR_INVAL
 * for a name rcoapd cannot register (1-63 of A-Z a-z 0-9 . _ -). */
export function peerPath(name) {
  if (typeof name !== 'string' || !PEER_NAME.test(name))
    fail('INVAL', `a peer name is 1-63 letters, digits, '.', '_' or '-': ${JSON.stringify(name)}`);
  return PEERS_PATH + name;
}
const GATHER_TIMEOUT_MS = 5000;

/* RFC 8841 §6.1: "If the SDP 'max-message-size' attribute is not present,
 * the default value is 64K"; 0 means no limit. */
export function sdpMaxMessageSize(sdp) {
  const m = /^a=max-message-size:(\d+)\r?$/m.exec(sdp || '');
  if (!m) return 65536;
  const n = Number(m[1]);
  return n === 0 ? Infinity : n;
}

/* Resolves once pc's ICE gathering is complete (or after timeoutMs: what
 * was gathered by then is offered). */
export function gatheringComplete(pc, timeoutMs = GATHER_TIMEOUT_MS) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== 'complete') return;
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', done);
      resolve();
    };
    const timer = setTimeout(() => {
      pc.removeEventListener('icegatheringstatechange', done);
      resolve();
    }, timeoutMs);
    pc.addEventListener('icegatheringstatechange', done);
  });
}

/**
 * Opens the peer connection and its channel: resolves to {pc, channel,
 * answer, localMax, remoteMax} (the a=max-message-size each side can
 * receive) once the answer is set (the channel opens later, when ICE, DTLS
 * and SCTP are up). signaling: an open RcoapClient (its post() is used).
 * opts: RTCPeerConnection (constructor; default the global one),
 * path ('/webrtc'), peer (a registered peer's name: path
 * /webrtc/peers/NAME), iceServers (RTCIceServer list, default none),
 * timeout (ms, for the signaling request), onLog(text).
 * Rejects RC_ERR_NOT_SUPPORTED (no RTCPeerConnection), RC_ERR_PROTOCOL
 * (the server's answer is not an answer), or the signaling request's error
 * (a CoapError, or RC_ERR_CONNECT for a non-2.xx response).
 */
export async function openWebRtcChannel(signaling, opts = {}) {
  if (opts.peer) opts = { ...opts, path: peerPath(opts.peer) };
  const PC = opts.RTCPeerConnection || globalThis.RTCPeerConnection;
  if (!PC) fail('NOT_SUPPORTED', 'no RTCPeerConnection here');
  const log = (t) => opts.onLog && opts.onLog(t);
  // No STUN or TURN servers unless given: the peers reach each other
  // directly (host and peer-reflexive candidates), and nothing is sent to
  // third parties. A peer behind a NAT (opts.peer) must send its checks to
  // an address of ours it can read: with mDNS host names only, that is
  // the server-reflexive one a STUN server (the broker's coaps+wr port)
  // tells us.
  const pc = new PC({ iceServers: opts.iceServers || [] });
  try {
    const channel = pc.createDataChannel('coap', { protocol: 'coap' });
    channel.binaryType = 'arraybuffer';
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc, opts.gatherTimeout);
    const offer = pc.localDescription;
    const body = JSON.stringify({ type: offer.type, sdp: offer.sdp });
    log(`WebRTC: offer ready (${(offer.sdp.match(/^a=candidate:/gm) || []).length} candidates), POST ${opts.path || SIGNAL_PATH}`);
    const r = await signaling.post(opts.path || SIGNAL_PATH, body, { contentFormat: CF_JSON, timeout: opts.timeout });
    if (!r.ok) {
      const why = r.text(); // the diagnostic payload, if the server gave one
      fail('CONNECT', `${opts.path || SIGNAL_PATH} answered ${r.codeName}${why ? `: ${why}` : ''}`);
    }
    let answer;
    try {
      answer = r.json();
    } catch (e) {
      fail('PROTOCOL', `the answer is not JSON: ${e.message}`);
    }
    if (!answer || answer.type !== 'answer' || typeof answer.sdp !== 'string') {
      fail('PROTOCOL', 'the response is not {"type":"answer","sdp":...}');
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    log('WebRTC: answer set; ICE, DTLS and SCTP next');
    return { pc, channel, answer, localMax: sdpMaxMessageSize(offer.sdp), remoteMax: sdpMaxMessageSize(answer.sdp) };
  } catch (e) {
    pc.close();
    throw e;
  }
}
