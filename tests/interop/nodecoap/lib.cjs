// What the node-coap scripts share: a check that prints "ok: WHAT" or
// "FAIL: WHAT" (test_nodecoap.sh counts those lines), a promise around one
// node-coap request, and a hard time limit for the whole script.
'use strict'
const coap = require('coap')

let failed = 0
function ok (cond, what, detail) {
  if (cond) console.log(`ok: ${what}`)
  else { failed++; console.log(`FAIL: ${what}${detail !== undefined ? ': ' + detail : ''}`) }
  return !!cond
}
function eq (got, want, what) {
  return ok(got === want, what, `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
}

// The response of one node-coap request: {code, payload, options, packet,
// headers}; rejects on error or after ms.
function request (params, body, ms = 10000) {
  return new Promise((resolve, reject) => {
    const req = coap.request(params)
    const timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)
    req.on('response', (res) => {
      clearTimeout(timer)
      resolve({
        code: res.code,
        payload: res.payload,
        options: res.options,
        headers: res.headers,
        packet: res._packet,
        res
      })
    })
    req.on('error', (e) => { clearTimeout(timer); reject(e) })
    req.on('timeout', (e) => { clearTimeout(timer); reject(e) })
    req.end(body)
  })
}

// The option numbered or named `name` in a response's options, or undefined.
function opt (r, name) {
  const o = r.options.find((x) => x.name === String(name))
  return o && o.value
}

// An Agent on a socket of our own: node-coap's global agent closes its
// socket when idle, so every request would come from a new port, which
// rcoapd's amplification limit (RFC 9175 §2.4) has not confirmed yet.
async function ownAgent () {
  const sock = require('node:dgram').createSocket('udp4')
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve))
  return { sock, agent: new coap.Agent({ type: 'udp4', socket: sock }) }
}

// request(), repeated once with the Echo of a 4.01 that carries one
// (node-coap knows no Echo option, RFC 9175 §2.2.1: the client repeats
// the request with the value).
async function requestEcho (params, body, ms) {
  const r = await request(params, body, ms)
  const echo = r.code === '4.01' && opt(r, '252')
  if (!echo) return r
  return request({ ...params, options: { ...(params.options || {}), 252: echo } }, body, ms)
}

function sleep (ms) { return new Promise((resolve) => setTimeout(resolve, ms)) }

// Runs main, then exits 0 when every check passed (1 otherwise, 2 on an
// exception); never runs longer than limitMs.
function run (main, limitMs = 30000) {
  const t = setTimeout(() => { console.log(`FAIL: still running after ${limitMs} ms`); process.exit(1) }, limitMs)
  main().then(() => {
    clearTimeout(t)
    process.exit(failed ? 1 : 0)
  }, (e) => {
    console.log(`FAIL: exception: ${e && e.stack ? e.stack : e}`)
    process.exit(2)
  })
}

module.exports = { coap, ok, eq, request, requestEcho, ownAgent, opt, sleep, run }
