// The demo page (web/) in headless Chromium with its session over WebRTC
// (coaps+wr) to the real rcoapd, run by tests/interop/test_browser_webrtc.sh
// inside a network namespace. The page comes from rcoapd over coap+ws with
// ?webrtc=1: it connects, POSTs its offer to /webrtc over that connection
// and moves the session onto the data channel. Checked here: the
// transport shown, discovery and GET /hello answered over the channel
// (response panel and log say so), the live temperature observed over
// it; a PUT of a fresh value to /store/NAME read back by GET, then that
// item observed from the form and changed by a second PUT, which the
// response panel must show as notification 2 (all over the channel);
// with RCOAP_WEB_EXPECT_DEVICES=1 the Devices card (the proxy's routes to
// a UDP device) read live and its lamp toggled over the channel; a
// screenshot; then the switch back to coap+ws and a GET over that.
// RCOAP_WEB_MEDIA=1: the page's RTCPeerConnection also has an audio and a video
// transceiver (its offer has m=audio and m=video before the data
// channel's m=application) and claims ICE gathering complete at once, so
// the offer goes out as a trickling page sends it: no candidate yet.
// RCOAP_WEB_EXPECT=fail: the WebRTC attempt is to fail; the run ends once the
// page has fallen back to coap+ws and discovered over it, and prints its
// transport line then (which must still say why WebRTC failed).
// Prints one line per finding; exit 0 when the run got to the end.
//
//   node browser-webrtc-run.mjs URL SCREENSHOT MDNS(0|1) [&MORE=QUERY]
//   (RCOAP_WEB_MEDIA=1: the MEDIA run)
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, shot, mdns, more = ""] = process.argv.slice(2);
const media = process.env.RCOAP_WEB_MEDIA === "1" ? "1" : "0";
// The PUT/observe and Devices steps only with RCOAP_WEB_STEPS=full.
const full = process.env.RCOAP_WEB_STEPS === "full" && media !== "1";
const args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync"];
if (mdns !== "1") args.push("--disable-features=WebRtcHideLocalIpsWithMdns");
const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "rcoap-wr-")), {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args,
  viewport: { width: 1280, height: 1000 } });
const say = (...a) => console.log(...a);
let code = 1;
let page;

// The steps; an RCOAP_WEB_EXPECT=fail run ends after the first two.
async function run() {
  if (media === "1") {
    await ctx.addInitScript(() => {
      const PC = window.RTCPeerConnection;
      window.RTCPeerConnection = class extends PC {
        constructor(cfg) {
          super(cfg);
          this.addTransceiver("audio", { direction: "recvonly" });
          this.addTransceiver("video", { direction: "recvonly" });
        }
        get iceGatheringState() { return "complete"; } // the offer at once
      };
    });
  }
  page = await ctx.newPage();
  page.on("console", (m) => m.type() === "error" && say("page console error:", m.text()));
  await page.goto(`${url}?webrtc=1${more}`);
  const T = { timeout: 30000 };
  await page.waitForFunction(() => document.getElementById("transport").dataset.transport === "webrtc" ||
    /WebRTC failed/.test(document.getElementById("transport").textContent), null, T);
  say("transport:", await page.textContent("#transport"));
  say("status:", await page.textContent("#status"));
  if (process.env.RCOAP_WEB_EXPECT === "fail") {
    // The attempt failed: the page goes on over coap+ws (discovery) and its
    // transport line keeps saying why.
    await page.waitForFunction(() => [...document.querySelectorAll("#resources li")].some((li) => li.dataset.href === "/hello"), null, T);
    say("after discovery: transport:", await page.textContent("#transport"));
    return;
  }
  await page.waitForFunction(() => [...document.querySelectorAll("#resources li")].some((li) => li.dataset.href === "/hello"), null, T);
  say("discovered:", (await page.$$eval("#resources li", (l) => l.map((x) => x.dataset.href))).join(" "));
  await page.selectOption("#req-method", "GET");
  await page.fill("#req-path", "/hello");
  await page.click("#req-send");
  await page.waitForFunction(() => /^2\.05/.test(document.getElementById("resp-code").textContent), null, T);
  say("GET /hello:", await page.textContent("#resp-code"), JSON.stringify(await page.textContent("#resp-payload")),
    await page.textContent("#resp-transport"));
  // PUT, GET back, then observe and a second PUT seen as a notification
  // (with RCOAP_WEB_STEPS=full, not in the MEDIA run: the other runs
  // are about the session's set-up).
  if (full) {
  const key = `/store/wr-${process.pid}-${mdns}`;
  const v1 = `first value ${Date.now()}`, v2 = `second value ${Date.now()}`;
  const panel = async () => `${await page.textContent("#resp-code")} ${JSON.stringify(await page.textContent("#resp-payload"))} ` +
    `${await page.textContent("#resp-meta")} ${await page.textContent("#resp-transport")}`;
  await page.selectOption("#req-method", "PUT");
  await page.fill("#req-path", key);
  await page.selectOption("#req-cf", "0");
  await page.fill("#req-payload", v1);
  await page.click("#req-send");
  await page.waitForFunction(() => /^2\.01/.test(document.getElementById("resp-code").textContent), null, T);
  say("PUT store:", await panel());
  await page.selectOption("#req-method", "GET");
  await page.click("#req-send");
  await page.waitForFunction((v) => /^2\.05/.test(document.getElementById("resp-code").textContent) &&
    document.getElementById("resp-payload").textContent === v, v1, T);
  say("GET store back:", await panel(), "equal:", (await page.textContent("#resp-payload")) === v1);
  await page.selectOption("#req-method", "OBSERVE");
  await page.click("#req-send");
  await page.waitForFunction(() => /notification 1/.test(document.getElementById("resp-meta").textContent), null, T);
  say("OBSERVE store:", await panel());
  // The second PUT on the page's own session, while the form observes.
  const put2 = await page.evaluate(async ([k, v]) => (await window.rcoap.client.put(k, v, { contentFormat: 0 })).codeName, [key, v2]);
  await page.waitForFunction((v) => /notification 2/.test(document.getElementById("resp-meta").textContent) &&
    document.getElementById("resp-payload").textContent === v, v2, T);
  say(`after PUT ${put2}:`, await panel(), "notified:", (await page.textContent("#resp-payload")) === v2);
  await page.click("#req-send"); // Stop
  await page.waitForFunction(() => document.getElementById("req-send").textContent === "Send", null, T);
  }
  if (process.env.RCOAP_WEB_EXPECT_DEVICES === "1" && full) {
    const dev = (href) => `#devices li[data-href="${href}"]`;
    await page.waitForFunction((sel) => { const v = document.querySelector(sel);
      return v && /^-?[0-9.]+$/.test(v.textContent.trim()) && Number(v.parentElement.querySelector(".count").dataset.n) >= 2; },
    `${dev("/devices/temp")} .value`, T);
    say(`device /devices/temp -> ${(await page.textContent(`${dev("/devices/temp")} .value`)).trim()} (read live through the proxy)`);
    const before = (await page.textContent(`${dev("/devices/lamp")} .value`)).trim();
    await page.click(`${dev("/devices/lamp")} button`);
    await page.waitForFunction(([sel, b]) => { const t = document.querySelector(sel).textContent.trim();
      return (t === "on" || t === "off") && t !== b; }, [`${dev("/devices/lamp")} .value`, before], T);
    say(`device /devices/lamp toggled ${before} -> ${(await page.textContent(`${dev("/devices/lamp")} .value`)).trim()}`);
    const dlog = await page.$$eval("#log li", (l) => l.filter((x) => x.querySelector(".tp") && /\/devices\/lamp|devices.*lamp/.test(x.textContent))
      .map((x) => `${x.className} ${x.querySelector(".m").textContent}`));
    say("log: /devices/lamp over the channel:", dlog.length, dlog.find((l) => /PUT/.test(l)) || "(no PUT)");
  }
  await page.waitForFunction(() => Number(document.getElementById("temp-count").textContent) >= 2, null, T);
  say("temperature:", await page.textContent("#temp-mode"), "updates", await page.textContent("#temp-count"));
  const logs = await page.$$eval("#log li", (l) => l.map((x) => `${x.className}|${x.querySelector(".tp") ? "wr" : "-"}|${x.querySelector(".m").textContent}`));
  const wrIn = logs.filter((l) => l.startsWith("in") && l.includes("|wr|"));
  say("log: messages in over the channel:", wrIn.length, "(2.05:", wrIn.filter((l) => l.includes("2.05")).length, ")");
  say("log: CSM over the channel:", logs.some((l) => l.includes("|wr|") && /CSM|7\.01/.test(l)));
  const pair = await page.evaluate(async () => {
    const pc = window.rcoap.client.pc;
    const stats = await pc.getStats();
    let sel;
    stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) sel = stats.get(s.selectedCandidatePairId); });
    const tr = [...stats.values()].find((s) => s.type === "transport");
    if (!sel) return "none";
    const r = stats.get(sel.remoteCandidateId);
    return `remote ${r.candidateType} ${r.address}:${r.port}; dtls ${tr.dtlsState} ${tr.tlsVersion} ${tr.dtlsCipher}; sctp ${pc.sctp && pc.sctp.state}`;
  });
  say("peer connection:", pair);
  const sdps = await page.evaluate(() => {
    const pc = window.rcoap.client.pc;
    const m = (sdp) => sdp.split(/\r?\n/).filter((l) => /^(m=|a=group:|a=candidate)/.test(l)).map((l) => l.split(" ").slice(0, 4).join(" ")).join(" | ");
    return { offer: m(pc.localDescription.sdp), answer: m(pc.remoteDescription.sdp),
      tr: pc.getTransceivers().map((t) => `${t.mid}:${t.receiver.track.kind}:${t.currentDirection}`).join(" ") };
  });
  say("offer sections:", sdps.offer);
  say("answer sections:", sdps.answer);
  say("transceivers:", sdps.tr || "none");
  const offerLog = await page.$$eval("#log li", (l) => l.map((x) => x.textContent).find((t) => /offer ready/.test(t)) || "");
  say("log:", offerLog.replace(/^.*?(WebRTC: )/, "$1"));
  await page.screenshot({ path: shot, fullPage: true });
  say("screenshot:", shot);
  // Back to coap+ws.
  await page.uncheck("#use-webrtc");
  await page.waitForFunction(() => document.getElementById("transport").dataset.transport === "ws", null, T);
  await page.fill("#req-path", "/hello");
  await page.click("#req-send");
  await page.waitForFunction(() => /coap\+ws/.test(document.getElementById("resp-transport").textContent) &&
    /^2\.05/.test(document.getElementById("resp-code").textContent), null, T);
  say("after the switch:", await page.textContent("#transport"), "|", await page.textContent("#resp-code"),
    await page.textContent("#resp-transport"));
}

try {
  await run();
  code = 0;
} catch (e) {
  say("error:", e.message.split("\n")[0]);
  // Where the page was when it stopped: its transport, status and the
  // last lines of its log (what it sent, got and gave up on).
  if (page) {
    try {
      say("at the error: transport:", await page.textContent("#transport"), "| status:", await page.textContent("#status"));
      const tail = await page.$$eval("#log li", (l) => l.slice(-25).map((x) => `${x.className}: ${x.textContent}`));
      for (const l of tail) say("  page log:", l);
    } catch (e2) {
      say("(the page could not be read:", e2.message.split("\n")[0], ")");
    }
  }
} finally {
  await ctx.close();
}
process.exit(code);
