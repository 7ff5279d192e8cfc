// Chromium's ICE agent against rcoap's (tests/interop/ice_peer.c, the
// webrtc/ ICE agent, SDP and signaling JSON on a UDP socket), run by
// tests/interop/test_webrtc_ice_chromium.sh inside a network namespace.
// The page makes a data-channel offer; JSON.stringify(localDescription) is
// what ice_peer reads; its answer goes to setRemoteDescription; then
// Chromium's iceConnectionState must reach "connected" and its selected
// pair must name ice_peer's address. With rcoap-offers, ice_peer offers
// (controlling full agent) and Chromium answers (controlled) instead.
// Prints one line per finding.
//
//   node webrtc-ice-run.mjs ICE_PEER BIND_IP MDNS(0|1) [SECONDS [rcoap-offers]]
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const [peerPath, bindIp, mdns, seconds = "8", who = "chromium-offers"] = process.argv.slice(2);
const rcoapOffers = who === "rcoap-offers";
const args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"];
if (mdns !== "1") args.push("--disable-features=WebRtcHideLocalIpsWithMdns");
const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "rcoap-ice-")), {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args });
let code = 1;
try {
  const page = await ctx.newPage();
  // In the page: a peer connection, and its offer (or, given rcoap's
  // offer, its answer) as JSON.stringify(localDescription) after gathering.
  const describe = (remote) => page.evaluate(async (remote) => {
    const pc = new RTCPeerConnection({ iceServers: [] });
    window.pc = pc;
    window.states = [];
    pc.addEventListener("iceconnectionstatechange", () => window.states.push(pc.iceConnectionState));
    const done = new Promise((r) => pc.addEventListener("icegatheringstatechange",
      () => pc.iceGatheringState === "complete" && r()));
    if (remote) {
      await pc.setRemoteDescription(JSON.parse(remote));
      await pc.setLocalDescription(await pc.createAnswer());
    } else {
      pc.createDataChannel("coap", { protocol: "coap" }).binaryType = "arraybuffer";
      await pc.setLocalDescription(await pc.createOffer());
    }
    if (pc.iceGatheringState !== "complete") await done;
    return JSON.stringify(pc.localDescription);
  }, remote);
  const candidates = (json) => (json.match(/a=candidate:[^\\]*/g) || []).join(" | ");
  const peer = spawn(peerPath, [bindIp, seconds].concat(rcoapOffers ? ["offer"] : []),
    { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: peer.stdout });
  const it = lines[Symbol.asyncIterator]();
  if (rcoapOffers) {
    const offer = (await it.next()).value;
    if (!offer) throw new Error("ice_peer gave no offer");
    console.log("offer sdp:", JSON.stringify(JSON.parse(offer).sdp));
    const answer = await describe(offer);
    console.log("setRemoteDescription: accepted");
    console.log("answer candidates:", candidates(answer));
    peer.stdin.write(answer + "\n");
  } else {
    const offer = await describe(null);
    console.log("offer candidates:", candidates(offer));
    peer.stdin.write(offer + "\n");
    const answer = (await it.next()).value;
    if (!answer) throw new Error("ice_peer gave no answer");
    console.log("answer sdp:", JSON.stringify(JSON.parse(answer).sdp));
    await page.evaluate(async (a) => window.pc.setRemoteDescription(JSON.parse(a)), answer);
    console.log("setRemoteDescription: accepted");
  }
  // ice_peer's further lines, as they come; it runs until its stdin
  // closes, so it is ended once what is waited for was seen (not after a
  // fixed time: a loaded machine once let its 4 s pass before Chromium
  // nominated).
  const seen = [];
  let wake = () => {};
  const reader = (async () => {
    for (let r = await it.next(); !r.done; r = await it.next()) {
      seen.push(r.value);
      wake();
    }
    wake();
  })();
  const saw = (re) => seen.some((l) => re.test(l));
  let ended = false;
  reader.then(() => { ended = true; });
  const waitFor = async (re, ms) => {
    const end = Date.now() + ms;
    while (!saw(re) && !ended && Date.now() < end)
      await new Promise((r) => { wake = r; setTimeout(r, 100); });
    return saw(re);
  };
  const state = await page.evaluate(async () => {
    for (let i = 0; i < 150; i++) {
      const s = window.pc.iceConnectionState;
      if (s === "connected" || s === "completed" || s === "failed") return s;
      await new Promise((r) => setTimeout(r, 100));
    }
    return window.pc.iceConnectionState;
  });
  console.log("chromium ice state:", state);
  // "connected" comes with the first successful check; the nomination
  // (USE-CANDIDATE, answered) follows: wait for it (at most 20 s).
  const pair = await page.evaluate(async () => {
    let text = "none";
    for (let i = 0; i < 200; i++) {
      const stats = await window.pc.getStats();
      let sel;
      stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) sel = stats.get(s.selectedCandidatePairId); });
      if (sel) {
        const r = stats.get(sel.remoteCandidateId), l = stats.get(sel.localCandidateId);
        text = `local ${l.candidateType} ${l.address}:${l.port} remote ${r.candidateType} ${r.address}:${r.port} nominated ${sel.nominated}`;
        if (sel.nominated) break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return text;
  });
  console.log("chromium selected pair:", pair);
  // ice_peer's side: its agent selected a pair and (when Chromium offered
  // and so is the DTLS client) Chromium's ClientHello reached it.
  await waitFor(/^state (connected|failed)$/, 20000);
  if (!rcoapOffers) await waitFor(/^first dtls$/, 20000);
  peer.stdin.end();
  await reader;
  for (const line of seen) console.log("ice_peer:", line);
  console.log("chromium ice states:", (await page.evaluate(() => window.states)).join(","));
  code = 0;
} catch (e) {
  console.log("error:", e.message);
} finally {
  await ctx.close();
}
process.exit(code);
