// A node-coap server (npm coap 1.5.0) on 127.0.0.1 for rcoap's client to
// talk to. Prints "port N" once listening, then one line per event:
//   req METHOD PATH type=CON|NON tok=HEX obs=V ct=F len=N  (each request)
//   obs-end tok=HEX n=N WHY          (an observation ended: finish = the
//                                     client's Reset, or timeout)
//   notify-after-deregister tok=HEX  (node-coap notifies on after a GET
//                                     with Observe 1 and that token)
// Resources:
//   /hello   GET: "hello from node-coap" (text/plain)
//   /slow    GET: the same after 400 ms (past node-coap's 50 ms piggyback
//            window: an empty ACK, then a separate response)
//   /data    POST/PUT: 2.04 "LEN SHA256-HEX" of the (reassembled) body
//   /big     GET: BIG_LEN bytes of text (node-coap's own Block2 above 1023)
//   /obs     GET+Observe: "n=0", then "n=1", "n=2", ... every 150 ms until
//            the client answers one with a Reset (node-coap's server
//            ignores a deregistration, RFC 7641 §4.1) or 8 s passed
//   /reset   answers with a Reset
//   else     4.04
// Usage: node server.cjs [BIG_LEN]
'use strict'
const crypto = require('node:crypto')
const { coap } = require('./lib.cjs')

const BIG_LEN = Number(process.argv[2] || 5000)
const big = Buffer.from(Array.from({ length: BIG_LEN }, (_, i) => (i % 64 === 63 ? 10 : 33 + (i * 7) % 90)))

const server = coap.createServer({ type: 'udp4' })
const deregistered = new Set()

server.on('request', (req, res) => {
  const p = req._packet
  const obs = req.headers.Observe
  const path = req.url.split('?')[0]
  const tok = p.token.toString('hex')
  console.log(`req ${req.method} ${path} type=${p.confirmable ? 'CON' : 'NON'} tok=${tok}` +
    ` obs=${obs === undefined ? '-' : obs} ct=${req.headers['Content-Format'] || '-'} len=${req.payload.length}`)
  if (path === '/hello' && req.method === 'GET') {
    res.setOption('Content-Format', 'text/plain')
    res.end('hello from node-coap')
  } else if (path === '/slow' && req.method === 'GET') {
    setTimeout(() => { res.setOption('Content-Format', 'text/plain'); res.end('slow hello from node-coap') }, 400)
  } else if (path === '/data' && (req.method === 'POST' || req.method === 'PUT')) {
    res.code = '2.04'
    res.setOption('Content-Format', 'text/plain')
    res.end(`${req.payload.length} ${crypto.createHash('sha256').update(req.payload).digest('hex')}`)
  } else if (path === '/big' && req.method === 'GET') {
    res.setOption('Content-Format', 'text/plain')
    res.end(big)
  } else if (path === '/obs' && req.method === 'GET') {
    res.setOption('Content-Format', 'text/plain')
    let n = 0
    if (obs !== 0) { // a plain GET, or a deregistration (obs 1)
      if (obs === 1) deregistered.add(tok)
      res.end(`n=${n}`)
      return
    }
    res.write(`n=${n}`)
    let told = false
    const t = setInterval(() => {
      n++
      if (deregistered.has(tok) && !told) { told = true; console.log(`notify-after-deregister tok=${tok}`) }
      res.write(`n=${n}`)
    }, 150)
    let ended = false
    const stop = (why) => { if (ended) return; ended = true; clearInterval(t); clearTimeout(limit); console.log(`obs-end tok=${tok} n=${n} ${why}`) }
    const limit = setTimeout(() => { stop('timeout'); res.end() }, 8000)
    res.on('finish', () => stop('finish'))
    res.on('error', () => stop('error'))
  } else if (path === '/reset') {
    res.reset()
  } else {
    res.code = '4.04'
    res.end()
  }
})

server.listen(0, '127.0.0.1', () => {
  console.log(`port ${server._sock.address().port}`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
