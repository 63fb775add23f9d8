#!/usr/bin/env node
// send.js — push log lines to a Loki-API server the way our Node services do: winston with
// winston-loki's LokiTransport, protobuf + snappy on the wire. Run by tests/it/clients.rs.
//
//   node send.js <lokiUrl> <marker> <n>
//
// Logs n lines "<marker> info line <i>" at info and one "<marker> error line" at error,
// with labels {job="winston-test", service="api-server"} (winston-loki adds level=<level>),
// then closes the transport, which sends the batch. Exits 0 only when every push request
// was answered 2xx and was protobuf (Content-Type application/x-protobuf, snappy body).
'use strict'

const http = require('http')
const winston = require('winston')
const LokiTransport = require('winston-loki')

const [url, marker, nArg] = process.argv.slice(2)
const n = Number(nArg)
if (!url || !marker || !Number.isInteger(n) || n < 0) {
  console.error('usage: node send.js <lokiUrl> <marker> <n>')
  process.exit(2)
}

// Record every push request winston-loki makes (it calls http.request at send time), so we
// can check what actually went on the wire rather than trusting the options.
const pushes = []
const realRequest = http.request
http.request = function (options, callback) {
  const rec = { path: options.path, contentType: options.headers && options.headers['Content-Type'], status: null }
  pushes.push(rec)
  return realRequest.call(http, options, res => {
    rec.status = res.statusCode
    if (callback) callback(res)
  })
}

let pushError = null
const transport = new LokiTransport({
  host: url,
  labels: { job: 'winston-test', service: 'api-server' },
  json: false, // protobuf + snappy (winston-loki's default when the snappy module loads)
  format: winston.format.printf(info => info.message), // the line is exactly the message
  interval: 3600, // no timed sends: the whole batch goes out on close()
  gracefulShutdown: false, // we close explicitly and wait for the answer
  timeout: 10000,
  onConnectionError: err => { pushError = err }
})

// winston-loki silently falls back to JSON when snappy cannot be loaded.
if (transport.batcher.options.json || transport.batcher.contentType !== 'application/x-protobuf') {
  console.error('send.js: winston-loki fell back to JSON (the snappy module did not load); run npm install')
  process.exit(3)
}

const logger = winston.createLogger({ level: 'info', transports: [transport] })

const total = n + 1
let logged = 0
const allLogged = new Promise(resolve => {
  transport.on('logged', () => { if (++logged === total) resolve() })
})
for (let i = 0; i < n; i++) logger.info(`${marker} info line ${i}`)
logger.error(`${marker} error line`)

const deadline = setTimeout(() => {
  console.error(`send.js: timed out (${logged}/${total} lines handed to the transport, ${pushes.length} pushes)`)
  process.exit(4)
}, 30000)

allLogged
  .then(() => transport.close()) // sends the batch and waits for the server's answer
  .then(() => {
    clearTimeout(deadline)
    const summary = pushes.map(p => `${p.path} ${p.contentType} -> ${p.status}`).join('; ')
    if (pushError) {
      console.error(`send.js: push failed: ${pushError.message} [${summary}]`)
      process.exit(1)
    }
    if (pushes.length === 0) {
      console.error('send.js: no push request was made')
      process.exit(1)
    }
    const bad = pushes.filter(p => p.contentType !== 'application/x-protobuf' || !(p.status >= 200 && p.status < 300))
    if (bad.length > 0) {
      console.error(`send.js: unexpected push requests: ${summary}`)
      process.exit(1)
    }
    console.log(`send.js: ${total} lines in ${pushes.length} push request(s): ${summary}`)
    process.exit(0)
  })
  .catch(err => {
    console.error(`send.js: ${err && err.stack ? err.stack : err}`)
    process.exit(1)
  })
