// node-coap-client 2.1.0 (DTLS 1.2 with a pre-shared key, over
// node-dtls-client 2.0.3: plain PSK suites only, no ECDHE-PSK) against
// rcoapd's coaps:// listener.
// Usage: node dtls.cjs PORT IDENTITY KEY LARGE_FILE
//        node dtls.cjs PORT IDENTITY KEY --hint   (rcoapd sends a PSK
//        identity hint: node-dtls-client's defect, see docs/INTEROP.md)
'use strict'
const crypto = require('node:crypto')
const fs = require('node:fs')
const { CoapClient } = require('node-coap-client')
const { ok, eq, sleep, run } = require('./lib.cjs')

const [port, identity, key, arg] = [Number(process.argv[2]), process.argv[3], process.argv[4], process.argv[5]]
const base = `coaps://127.0.0.1:${port}`
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex')
CoapClient.setSecurityParams('127.0.0.1', { psk: { [identity]: key } })

function within (p, ms, what) {
  return Promise.race([p, new Promise((resolve, reject) => setTimeout(() => reject(new Error(`${what}: nothing in ${ms} ms`)), ms))])
}

if (arg === '--hint') {
  // RFC 4279 §2 lets the server send a ServerKeyExchange (handshake type
  // 12) holding its identity hint; node-dtls-client has no parser for it
  // and throws from its socket handler.
  run(async () => {
    const thrown = new Promise((resolve) => process.once('uncaughtException', resolve))
    CoapClient.request(`${base}/hello`, 'get').catch(() => {})
    const e = await within(thrown, 10000, 'handshake with a hint')
    ok(/unsupported message type 12/.test(String(e && e.message)),
      'node-dtls-client fails on the ServerKeyExchange carrying the PSK hint (its defect)', e && e.message)
  }, 15000)
} else {
  const large = fs.readFileSync(arg)
  run(async () => {
    let r = await within(CoapClient.request(`${base}/hello`, 'get'), 10000, 'GET /hello')
    eq(r.code.toString(), '2.05', 'coaps PSK GET /hello: 2.05')
    ok(r.payload.toString().startsWith('Hello, world! (rcoap'), 'coaps GET /hello: the greeting', r.payload.toString())
    eq(r.format, 0, 'coaps GET /hello: Content-Format 0 (text/plain)')
    const item = `${base}/store/dtls-${process.pid}`
    r = await within(CoapClient.request(item, 'put', Buffer.from('from node-coap-client over DTLS')), 10000, 'PUT')
    eq(r.code.toString(), '2.01', 'coaps PUT /store/dtls-N: 2.01')
    r = await within(CoapClient.request(item, 'get'), 10000, 'GET item')
    eq(r.payload.toString(), 'from node-coap-client over DTLS', 'coaps GET /store/dtls-N: what was PUT')
    r = await within(CoapClient.request(`${base}/large`, 'get'), 20000, 'GET /large')
    eq(r.code.toString(), '2.05', 'coaps GET /large: 2.05')
    eq(r.payload && sha(r.payload), sha(large), `coaps GET /large: ${large.length} bytes in Block2, the coap+tcp body`)
    r = await within(CoapClient.request(`${base}/no/such`, 'get'), 10000, 'GET 4.04')
    eq(r.code.toString(), '4.04', 'coaps GET /no/such: 4.04')
    // observe /counter, three POSTs, stop
    const got = []
    await within(CoapClient.observe(`${base}/counter`, 'get', (resp) => got.push(Number(resp.payload.toString()))), 10000, 'observe')
    for (let i = 0; i < 20 && got.length < 1; i++) await sleep(50)
    for (let i = 0; i < 3; i++) {
      r = await within(CoapClient.request(`${base}/counter`, 'post'), 10000, 'POST')
      eq(r.code.toString(), '2.04', `coaps POST /counter #${i + 1}: 2.04`)
      for (let j = 0; j < 40 && got.length < i + 2; j++) await sleep(50)
    }
    ok(got.length === 4 && got.every((v, i) => i === 0 || v === got[i - 1] + 1),
      `coaps observe /counter: the first value and three notifications, each one up (${got})`)
    CoapClient.stopObserving(`${base}/counter`)
    CoapClient.reset()
  }, 35000)
}
