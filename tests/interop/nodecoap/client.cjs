// node-coap's client (npm coap 1.5.0) against rcoapd over coap:// (UDP).
// Usage: node client.cjs PORT LARGE_FILE   (LARGE_FILE: /large as rcoap
// fetched it over coap+tcp, the reference body)
'use strict'
const crypto = require('node:crypto')
const fs = require('node:fs')
const { parse } = require('coap-packet')
const { coap, ok, eq, request, ownAgent, opt, sleep, run } = require('./lib.cjs')

const port = Number(process.argv[2])
const large = fs.readFileSync(process.argv[3])
const host = '127.0.0.1'
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex')

// RFC 6690 §2: links separated by ',', attributes by ';', quoted strings
// may hold either. Returns [{href, attrs: {name: value|true}}].
function parseLinks (text) {
  const parts = []
  let cur = ''
  let quoted = false
  for (const c of text) {
    if (c === '"') quoted = !quoted
    if (c === ',' && !quoted) { parts.push(cur); cur = '' } else cur += c
  }
  if (cur) parts.push(cur)
  return parts.map((p) => {
    const m = /^<([^>]*)>(.*)$/.exec(p)
    if (!m) return { href: null, attrs: {}, raw: p }
    const attrs = {}
    const re = /;([a-z0-9!#$&+\-.^_`|~]+)(?:=("(?:[^"\\]|\\.)*"|[^;]*))?/gi
    let a
    while ((a = re.exec(m[2])) !== null) {
      attrs[a[1]] = a[2] === undefined ? true : a[2].replace(/^"|"$/g, '')
    }
    return { href: m[1], attrs }
  })
}

// Next value an observe stream gives, or null after ms.
function nextData (stream, ms) {
  return new Promise((resolve) => {
    const t = setTimeout(() => { stream.removeListener('data', on); resolve(null) }, ms)
    function on (d) { clearTimeout(t); resolve(d) }
    stream.once('data', on)
  })
}

run(async () => {
  const base = { hostname: host, port }

  // --- fresh source ports (node-coap's global agent closes its socket when idle)
  let r = await request({ ...base, pathname: '/hello' })
  eq(r.code, '2.05', 'CON GET /hello: 2.05')
  ok(r.payload.toString().startsWith('Hello, world! (rcoap'), 'CON GET /hello: the greeting', r.payload.toString())
  eq(r.headers['Content-Format'], 'text/plain', 'CON GET /hello: Content-Format text/plain (0)')
  ok(r.packet.ack && !r.packet.confirmable, 'CON GET /hello: piggybacked in the ACK (RFC 7252 §5.2.1)')

  r = await request({ ...base, pathname: '/hello', confirmable: false })
  eq(r.code, '2.05', 'NON GET /hello: 2.05')
  ok(!r.packet.ack && !r.packet.confirmable && !r.packet.reset, 'NON GET /hello: answered NON (RFC 7252 §5.2.3)')
  ok(r.payload.toString().startsWith('Hello, world! (rcoap'), 'NON GET /hello: the greeting')

  r = await request({ ...base, pathname: '/no/such/thing' })
  eq(r.code, '4.04', 'GET /no/such/thing: 4.04 Not Found')

  // RFC 9175 §2.4: a response over 3 times the request to an address not
  // confirmed yet is held back as 4.01 with an Echo. node-coap knows no
  // Echo option (252), so it surfaces the 4.01.
  r = await request({ ...base, pathname: '/large' })
  eq(r.code, '4.01', 'fresh port, GET /large: 4.01 (amplification limit)')
  const echo = opt(r, '252')
  ok(Buffer.isBuffer(echo) && echo.length === 12, 'the 4.01 carries a 12-byte Echo', echo && echo.toString('hex'))

  // --- one socket for the rest (an Agent on our own socket stays open, so
  // rcoapd confirms its address once)
  const { sock, agent } = await ownAgent()
  const on = { ...base, agent }

  r = await request({ ...on, pathname: '/large' })
  const echo2 = opt(r, '252')
  eq(r.code, '4.01', 'own socket, first GET /large: 4.01 with Echo')
  r = await request({ ...on, pathname: '/large', options: { 252: echo2 } })
  eq(r.code, '2.05', 'GET /large repeated with the Echo: 2.05')
  eq(r.payload.length, large.length, `GET /large: ${large.length} bytes through Block2`)
  eq(sha(r.payload), sha(large), 'GET /large: the body equals rcoap\'s over coap+tcp')
  const b2 = opt(r, 'Block2')
  ok(Buffer.isBuffer(b2) && (b2[b2.length - 1] & 0x08) === 0, 'the last block has M=0', b2 && b2.toString('hex'))

  // Block2 at a size the client asks for: SZX 5 = 512 bytes (RFC 7959 §2.2)
  r = await request({ ...on, pathname: '/large', options: { Block2: Buffer.of(0x05) } })
  eq(r.code, '2.05', 'GET /large in 512-byte blocks: 2.05')
  eq(sha(r.payload), sha(large), 'GET /large in 512-byte blocks: the same body')
  const lastb = opt(r, 'Block2')
  // 199 << 4 | M=0 | SZX 5 = 0x0c75
  eq(lastb && lastb.toString('hex'), '0c75',
    'last Block2 is 199/0/512 (102400 / 512 = 200 blocks)')

  // Discovery (RFC 6690), now that this address is confirmed
  r = await request({ ...on, pathname: '/.well-known/core' })
  eq(r.code, '2.05', 'GET /.well-known/core: 2.05')
  eq(r.headers['Content-Format'], 'application/link-format', 'discovery: Content-Format application/link-format (40)')
  const links = parseLinks(r.payload.toString())
  const byHref = Object.fromEntries(links.map((l) => [l.href, l.attrs]))
  ok(links.every((l) => l.href && l.href.startsWith('/')), `discovery: ${links.length} links, each <...> with a path`, r.payload.toString())
  for (const h of ['/hello', '/large', '/counter', '/store', '/echo', '/sensors/temp']) ok(byHref[h], `discovery lists <${h}>`)
  ok(byHref['/counter'] && byHref['/counter'].obs === true, 'discovery: </counter> has the obs flag')
  eq(byHref['/large'] && byHref['/large'].sz, '102400', 'discovery: </large> sz=102400')
  eq(byHref['/sensors/temp'] && byHref['/sensors/temp'].rt, 'temperature-c', 'discovery: </sensors/temp> rt="temperature-c" (quoted)')
  r = await request({ ...on, pathname: '/.well-known/core', query: 'rt=temperature-c' })
  const filtered = parseLinks(r.payload.toString())
  ok(r.code === '2.05' && filtered.length === 1 && filtered[0].href === '/sensors/temp',
    'discovery ?rt=temperature-c: only </sensors/temp> (RFC 6690 §4.1)', r.payload.toString())

  // A deferred answer (past rcoapd's 1 s separate delay): its empty ACK,
  // then the response as a
  // separate CON (RFC 7252 §5.2.2), which node-coap acknowledges
  r = await request({ ...on, pathname: '/slow', query: 'ms=1300' })
  eq(r.code, '2.05', 'GET /slow?ms=1300: 2.05')
  ok(r.packet.confirmable && !r.packet.ack, 'GET /slow?ms=1300: a separate CON response (RFC 7252 §5.2.2)',
    JSON.stringify({ confirmable: r.packet.confirmable, ack: r.packet.ack }))

  // Accept and Content-Format (RFC 7252 §5.10.4, §5.10.3)
  r = await request({ ...on, pathname: '/hello', options: { Accept: 'application/json' } })
  eq(r.code, '4.06', 'GET /hello Accept application/json: 4.06 Not Acceptable')
  r = await request({ ...on, pathname: '/hello', options: { Accept: 'text/plain' } })
  eq(r.code, '2.05', 'GET /hello Accept text/plain: 2.05')
  const json = '{"from":"node-coap","n":[1,2,3]}'
  r = await request({ ...on, pathname: '/echo', method: 'POST', options: { 'Content-Format': 'application/json' } }, json)
  ok(/^2\.0[45]$/.test(r.code), `POST /echo: ${r.code}`)
  eq(r.payload.toString(), json, 'POST /echo: the JSON back')
  eq(r.headers['Content-Format'], 'application/json', 'POST /echo: Content-Format application/json (50) back')

  // PUT with Block1 (node-coap cuts the body at the SZX it is given: 4 = 256)
  const body = Buffer.from(Array.from({ length: 3000 }, (_, i) => 97 + (i % 26)))
  const item = `/store/nodecoap-${process.pid}`
  r = await request({ ...on, pathname: item, method: 'PUT', options: { Block1: Buffer.of(0x04) } }, body)
  eq(r.code, '2.01', `PUT ${item} (3000 bytes, 12 Block1 blocks of 256): 2.01 Created`)
  r = await request({ ...on, pathname: item })
  eq(r.code, '2.05', `GET ${item}: 2.05`)
  eq(sha(r.payload), sha(body), `GET ${item}: the 3000 bytes PUT`)
  // A PUT of 600 bytes in one datagram, no Block1 (under 1024: rcoapd takes it whole)
  r = await request({ ...on, pathname: item, method: 'PUT' }, body.subarray(0, 600))
  eq(r.code, '2.04', `PUT ${item} of 600 bytes in one message: 2.04 Changed`)
  r = await request({ ...on, pathname: item })
  eq(r.payload.length, 600, `GET ${item}: now 600 bytes`)

  // A 100 KiB PUT in 1024-byte Block1 blocks to /sink, which answers the
  // SHA-256 and size of what it got; the final response echoes Block1
  // 99/0/1024 (RFC 7959 §2.3)
  const big = crypto.randomBytes(102400)
  r = await request({ ...on, pathname: '/sink', method: 'PUT', options: { Block1: Buffer.of(0x06) } }, big)
  eq(r.code, '2.04', 'PUT /sink of 100 KiB in 100 Block1 blocks: 2.04')
  eq(r.payload.toString(), `${sha(big)} ${big.length}`, 'PUT /sink: rcoapd got the 102400 bytes (its SHA-256)')
  eq(opt(r, 'Block1') && opt(r, 'Block1').toString('hex'), '0636', 'PUT /sink: the last answer carries Block1 99/0/1024')

  // Observe (RFC 7641): register, three changes, deregister
  // CON and NON registrations end with a GET with Observe 1; 'forget' ends
  // by forgetting the token: node-coap answers the next notification with
  // a Reset, which must end the observation at rcoapd (RFC 7641 §3.6)
  for (const kind of ['CON', 'NON', 'forget']) {
    const confirmable = kind !== 'NON'
    const obsReq = coap.request({ ...on, pathname: '/counter', observe: true, confirmable })
    const stream = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no observe answer')), 10000)
      obsReq.on('response', (s) => { clearTimeout(t); resolve(s) })
      obsReq.on('error', reject)
      obsReq.end()
    })
    eq(stream.code, '2.05', `${kind} observe /counter: 2.05`)
    ok(typeof stream.headers.Observe === 'number', `${kind} observe /counter: the answer carries Observe`, stream.headers.Observe)
    const first = await nextData(stream, 3000)
    const v0 = first === null ? NaN : Number(first.toString())
    ok(Number.isInteger(v0), `${kind} observe /counter: first value ${first}`)
    const seen = []
    const obsNums = []
    for (let i = 1; i <= 3; i++) {
      const p = await request({ ...on, pathname: '/counter', method: 'POST' })
      eq(p.code, '2.04', `POST /counter #${i}: 2.04`)
      const d = await nextData(stream, 3000)
      seen.push(d === null ? null : Number(d.toString()))
      obsNums.push(stream.headers.Observe)
    }
    eq(JSON.stringify(seen), JSON.stringify([v0 + 1, v0 + 2, v0 + 3]), `${kind} observe: three notifications, each value one up`)
    ok(obsNums.every((n, i) => i === 0 || n > obsNums[i - 1]), `${kind} observe: Observe numbers rise (${obsNums})`)
    // Deregistration (RFC 7641 §3.6): node-coap sends GET with Observe 1
    // and the same token. The notifications that arrive on the socket
    // after it for that token (node-coap's stream has ended, so the socket
    // is the judge). A notification carries Observe (RFC 7641); the
    // answer to the deregistering GET does not (§3.6) and may come after
    // any wait below when rcoapd is held up (seen with rcoapd stopped for
    // 500 ms at the deregistration: counted as a notification before).
    const token = stream._packet.token.toString('hex')
    const late = []
    const watch = (buf) => {
      let m
      try { m = parse(buf) } catch { return }
      if (m.token.toString('hex') === token && m.code !== '0.00' &&
          m.options.some((o) => o.name === 'Observe')) late.push(m)
    }
    stream.close(kind !== 'forget')
    await sleep(300)
    sock.on('message', watch)
    const posts = kind === 'forget' ? 2 : 1
    for (let i = 0; i < posts; i++) {
      const p = await request({ ...on, pathname: '/counter', method: 'POST' })
      eq(p.code, '2.04', `${kind}: POST /counter after the end: 2.04`)
      await sleep(200)
    }
    const g = await request({ ...on, pathname: '/counter' })
    eq(Number(g.payload.toString()), v0 + 3 + posts, `${kind}: the counter is at ${v0 + 3 + posts}`)
    await sleep(500)
    sock.removeListener('message', watch)
    if (kind === 'forget') {
      eq(late.length, 1, `forget: one notification for token ${token} after the end (node-coap Resets it), none after that`)
    } else {
      eq(late.length, 0, `${kind}: no notification for token ${token} after the deregistration`)
    }
  }

  // The deregistration reached rcoapd: the next observer is alone. A second
  // GET with Observe 1 (the same request again) is a plain GET (§3.6).
  r = await request({ ...on, pathname: '/counter', options: { Observe: Buffer.of(1) } })
  eq(r.code, '2.05', 'GET /counter with Observe 1 (not registered): 2.05')
  ok(opt(r, 'Observe') === undefined, 'GET with Observe 1: the answer carries no Observe', opt(r, 'Observe'))

  agent.close()
})
