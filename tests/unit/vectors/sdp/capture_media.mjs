// Captures the Chromium offers of this folder that carry media sections
// besides the data channel (a page that also has an audio and a video
// transceiver, as when it shows a camera): one after ICE gathering
// completed, and one read at once after setLocalDescription, as a
// trickling page would send it (a=ice-options:trickle, no candidate yet).
// Run by capture.sh inside the private network namespace; needs only
// PW_DIR (playwright-core) and /usr/bin/chromium.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(process.env.PW_DIR + "/");
const { chromium } = require("playwright-core");
const out = (name, sdp) => { writeFileSync(join(here, name), sdp); console.log("wrote", name); };

const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "wrp-")), {
  executablePath: "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-features=WebRtcHideLocalIpsWithMdns"] });
try {
  const page = await ctx.newPage();
  const offer = (gathered) => page.evaluate(async (gathered) => {
    const pc = new RTCPeerConnection({ iceServers: [] });
    window.keep = (window.keep || []).concat(pc);
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.createDataChannel("coap", { protocol: "coap" });
    const done = new Promise((r) => pc.addEventListener("icegatheringstatechange",
      () => pc.iceGatheringState === "complete" && r()));
    await pc.setLocalDescription(await pc.createOffer());
    if (gathered && pc.iceGatheringState !== "complete") await done;
    return pc.localDescription.sdp;
  }, gathered);
  out("chromium-offer-av-data.sdp", await offer(true));
  out("chromium-offer-av-data-trickle.sdp", await offer(false));
} finally {
  await ctx.close();
}
