// Captures the SDP test vectors of this folder from real peers: Chromium
// (playwright-core, mDNS hidden and not), aiortc (capture_aiortc.py),
// werift and node-datachannel (libdatachannel). Run by capture.sh inside a private network namespace; writes
// the *.sdp files next to itself. Offers carry one data channel "coap";
// answers are each peer's answer to another's offer, after ICE gathering
// completed (no trickle), as rcoap will see them.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(process.env.PW_DIR + "/");
const { chromium } = require("playwright-core");
const { RTCPeerConnection: WPC } = require(process.env.PEERS_DIR + "/node_modules/werift");
const ndc = require(process.env.PEERS_DIR + "/node_modules/node-datachannel");

const out = (name, sdp) => { writeFileSync(join(here, name), sdp); console.log("wrote", name); };

async function browser(mdns) {
  const args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"];
  if (!mdns) args.push("--disable-features=WebRtcHideLocalIpsWithMdns");
  const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "wrp-")), {
    executablePath: "/usr/bin/chromium", headless: true, args });
  return { ctx, page: await ctx.newPage() };
}

// In the page: an offer, or an answer to `offer`, after gathering.
async function pageSdp(page, offer) {
  return page.evaluate(async (offer) => {
    const pc = new RTCPeerConnection({ iceServers: [] });
    window.keep = (window.keep || []).concat(pc);
    const done = new Promise((r) => pc.addEventListener("icegatheringstatechange",
      () => pc.iceGatheringState === "complete" && r()));
    if (offer) {
      await pc.setRemoteDescription({ type: "offer", sdp: offer });
      await pc.setLocalDescription(await pc.createAnswer());
    } else {
      const dc = pc.createDataChannel("coap", { protocol: "coap" });
      dc.binaryType = "arraybuffer";
      await pc.setLocalDescription(await pc.createOffer());
    }
    if (pc.iceGatheringState !== "complete") await done;
    return pc.localDescription.sdp;
  }, offer);
}

function aiortc() {
  const p = spawn("/usr/bin/python3", [join(here, "capture_aiortc.py")], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: p.stdout })[Symbol.asyncIterator]();
  return {
    async ask(cmd) { p.stdin.write(JSON.stringify(cmd) + "\n"); return JSON.parse((await lines.next()).value).sdp; },
    close() { p.stdin.end(); },
  };
}

async function weriftSdp(offer) {
  const pc = new WPC({ iceServers: [] });
  if (offer) {
    await pc.setRemoteDescription({ type: "offer", sdp: offer });
    await pc.setLocalDescription(await pc.createAnswer());
  } else {
    pc.createDataChannel("coap", { protocol: "coap" });
    await pc.setLocalDescription(await pc.createOffer());
  }
  for (let i = 0; i < 100 && pc.iceGatheringState !== "complete"; i++) await new Promise((r) => setTimeout(r, 50));
  const sdp = pc.localDescription.sdp;
  setTimeout(() => pc.close(), 100);
  return sdp;
}

// node-datachannel: its description once gathering completed.
function ndcSdp(offer) {
  return new Promise((resolve) => {
    const pc = new ndc.PeerConnection("capture", { iceServers: [] });
    pc.onGatheringStateChange((state) => {
      if (state !== "complete") return;
      const d = pc.localDescription();
      setTimeout(() => pc.close(), 100);
      resolve(d.sdp);
    });
    if (offer) pc.setRemoteDescription(offer, "offer");
    else pc.createDataChannel("coap", { protocol: "coap" });
  });
}

const b = await browser(false);
const bm = await browser(true);
const py = aiortc();
try {
  const chOffer = await pageSdp(b.page);
  out("chromium-offer.sdp", chOffer);
  out("chromium-offer-mdns.sdp", await pageSdp(bm.page));
  out("chromium-answer-to-chromium.sdp", await pageSdp(b.page, chOffer));
  const aiOffer = await py.ask({ cmd: "offer" });
  out("aiortc-offer-legacy.sdp", aiOffer);
  out("chromium-answer-to-aiortc-legacy.sdp", await pageSdp(b.page, aiOffer));
  out("aiortc-answer-to-chromium.sdp", await py.ask({ cmd: "answer", sdp: chOffer }));
  const wOffer = await weriftSdp();
  out("werift-offer.sdp", wOffer);
  out("chromium-answer-to-werift.sdp", await pageSdp(b.page, wOffer));
  out("werift-answer-to-chromium.sdp", await weriftSdp(chOffer));
  const nOffer = await ndcSdp();
  out("node-datachannel-offer.sdp", nOffer);
  out("chromium-answer-to-node-datachannel.sdp", await pageSdp(b.page, nOffer));
  out("node-datachannel-answer-to-chromium.sdp", await ndcSdp(chOffer));
  ndc.cleanup();
} finally {
  py.close();
  await b.ctx.close();
  await bm.ctx.close();
}
process.exit(0);
