// node-coap's UDP client through rcoapd's forward proxy (Proxy-Uri, RFC
// 7252 §5.7.2) to origins on coap+tcp and coap+ws (another rcoapd).
// Usage: node proxy.cjs PROXY_PORT TCP_ORIGIN WS_ORIGIN LARGE_FILE
//   (origins as coap+tcp://127.0.0.1:P and coap+ws://127.0.0.1:P)
'use strict'
const crypto = require('node:crypto')
const fs = require('node:fs')
const { coap, ok, eq, request, requestEcho, ownAgent, opt, sleep, run } = require('./lib.cjs')

const [port, tcp, ws, largeFile] = [Number(process.argv[2]), process.argv[3], process.argv[4], process.argv[5]]
const large = fs.readFileSync(largeFile)
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex')

run(async () => {
  const { agent } = await ownAgent()
  const via = (uri, extra = {}) => ({ hostname: '127.0.0.1', port, agent, proxyUri: uri, ...extra })

  for (const origin of [tcp, ws]) {
    const scheme = origin.split(':')[0]
    let r = await requestEcho(via(`${origin}/hello`))
    eq(r.code, '2.05', `UDP -> proxy -> ${scheme} GET /hello: 2.05`)
    ok(r.payload.toString().startsWith('Hello, world! (rcoap'), `UDP -> proxy -> ${scheme}: the greeting`, r.payload.toString())
    r = await requestEcho(via(`${origin}/no/such`))
    eq(r.code, '4.04', `UDP -> proxy -> ${scheme} GET /no/such: the origin's 4.04`)
  }

  // Block2 through the proxy: the proxy hands the UDP client blocks
  let r = await requestEcho(via(`${tcp}/large`))
  eq(r.code, '2.05', 'UDP -> proxy -> coap+tcp GET /large: 2.05')
  eq(sha(r.payload), sha(large), `UDP -> proxy -> coap+tcp GET /large: ${large.length} bytes, the body rcoap got directly`)

  // Block1 through the proxy to the coap+ws origin, read back over coap+tcp
  const body = Buffer.from(Array.from({ length: 2500 }, (_, i) => 65 + (i % 23)))
  const item = `/store/px-${process.pid}`
  r = await requestEcho(via(`${ws}${item}`, { method: 'PUT', options: { Block1: Buffer.of(0x05) } }), body)
  eq(r.code, '2.01', `UDP -> proxy -> coap+ws PUT ${item} (2500 bytes in 512-byte Block1): 2.01`)
  r = await requestEcho(via(`${tcp}${item}`))
  eq(sha(r.payload), sha(body), `UDP -> proxy -> coap+tcp GET ${item}: the 2500 bytes`)

  // Observe through the proxy (one upstream observation, RFC 7641 §5)
  const stream = await new Promise((resolve, reject) => {
    const q = coap.request(via(`${tcp}/counter`, { observe: true }))
    q.on('response', resolve)
    q.on('error', reject)
    q.end()
  })
  eq(stream.code, '2.05', 'observe coap+tcp /counter through the proxy: 2.05')
  const values = []
  stream.on('data', (d) => values.push(Number(d.toString())))
  // each change is awaited before the next, so none can be folded into a
  // later one (RFC 7641 §4.5 lets a server or proxy skip states)
  const wait = async (n) => { for (let i = 0; i < 50 && values.length < n; i++) await sleep(100) }
  await wait(1)
  for (let i = 0; i < 3; i++) {
    const p = await request(via(`${tcp}/counter`, { method: 'POST' }))
    eq(p.code, '2.04', `POST /counter through the proxy #${i + 1}: 2.04`)
    await wait(i + 2)
  }
  ok(values.length === 4 && values.every((v, i) => i === 0 || v === values[i - 1] + 1),
    `through the proxy: the first value and three notifications, each one up (${values})`)
  stream.close(true)
  await sleep(300)
  agent.close()
})
