#!/usr/bin/env node
// send.js — push log records to lokid with the JavaScript clients services use. Run by
// tests/it/clients_otlp.rs.
//
//   node send.js <mode> <baseUrl> <marker>
//
// mode sdk:     the OpenTelemetry logs SDK + OTLP/HTTP exporter (JSON to /otlp/v1/logs):
//               3 records (INFO, WARN, ERROR) with attributes and trace context.
// mode winston: winston -> @opentelemetry/winston-transport -> the same SDK and exporter:
//               2 records (info with metadata, error).
// mode pino:    pino -> pino-loki (Loki push API): 2 records (info, error) with labels.
// Every line contains <marker>. Exits 0 only when every export/push was answered 2xx.
'use strict'

const [mode, base, marker] = process.argv.slice(2)
if (!mode || !base || !marker) {
  console.error('usage: node send.js <sdk|winston|pino> <baseUrl> <marker>')
  process.exit(2)
}

function fail (msg) {
  console.error(msg)
  process.exit(1)
}

// Records every HTTP answer the clients get (the OTLP exporter uses http, pino-loki fetch).
const answers = []
const http = require('http')
const realRequest = http.request
http.request = function (...args) {
  const req = realRequest.apply(http, args)
  req.on('response', res => answers.push({ path: req.path, status: res.statusCode }))
  return req
}
const realFetch = globalThis.fetch
globalThis.fetch = async (url, opts) => {
  const res = await realFetch(url, opts)
  answers.push({ path: String(url), status: res.status })
  return res
}

function otelProvider (serviceName) {
  const { LoggerProvider, SimpleLogRecordProcessor } = require('@opentelemetry/sdk-logs')
  const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http')
  const { resourceFromAttributes } = require('@opentelemetry/resources')
  const inner = new OTLPLogExporter({ url: base + '/otlp/v1/logs' })
  const results = []
  const exporter = {
    export (logs, cb) { inner.export(logs, r => { results.push(r); cb(r) }) },
    shutdown () { return inner.shutdown() },
    forceFlush () { return inner.forceFlush() }
  }
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({
      'service.name': serviceName,
      'deployment.environment': 'ci',
      'host.name': 'js-host'
    }),
    processors: [new SimpleLogRecordProcessor({ exporter })]
  })
  return { provider, results }
}

async function finishOtel ({ provider, results }, want) {
  await provider.forceFlush()
  await provider.shutdown()
  const failed = results.filter(r => r.code !== 0)
  if (failed.length) fail('export failed: ' + failed.map(r => String(r.error)).join('; '))
  if (results.length < want) fail(`only ${results.length} exports for ${want} records`)
}

async function sdk () {
  const { SeverityNumber } = require('@opentelemetry/api-logs')
  const api = require('@opentelemetry/api')
  const otel = otelProvider('otel-js-test')
  const logger = otel.provider.getLogger('lokid-test-js', '1.0.0')
  const ctx = api.trace.setSpanContext(api.context.active(), {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: api.TraceFlags.SAMPLED
  })
  const levels = [['INFO', SeverityNumber.INFO], ['WARN', SeverityNumber.WARN], ['ERROR', SeverityNumber.ERROR]]
  for (const [text, number] of levels) {
    logger.emit({
      severityNumber: number,
      severityText: text,
      body: `${marker} sdk ${text.toLowerCase()} line`,
      attributes: { 'order.id': 42, 'http.route': '/orders' },
      context: ctx
    })
  }
  await finishOtel(otel, levels.length)
}

async function winstonMode () {
  const logsAPI = require('@opentelemetry/api-logs')
  const winston = require('winston')
  const { OpenTelemetryTransportV3 } = require('@opentelemetry/winston-transport')
  const otel = otelProvider('winston-otel-test')
  logsAPI.logs.setGlobalLoggerProvider(otel.provider)
  const logger = winston.createLogger({ level: 'info', transports: [new OpenTelemetryTransportV3()] })
  logger.info(`${marker} winston info line`, { requestId: 'r-1', userId: 7 })
  logger.error(`${marker} winston error line`, { requestId: 'r-2' })
  await new Promise(resolve => setImmediate(resolve))
  await finishOtel(otel, 2)
}

async function pinoMode () {
  const pino = require('pino')
  const { pinoLoki } = require('pino-loki')
  const stream = pinoLoki({
    host: base,
    labels: { job: 'pino-test', service: 'pino-api' },
    batching: false,
    silenceErrors: false
  })
  const logger = pino({ base: null }, stream)
  logger.info({ meta: { requestId: 'p-1' } }, `${marker} pino info line`)
  logger.error(`${marker} pino error line`)
  // batching: false sends each record at once; wait for both answers.
  const deadline = Date.now() + 20000
  while (answers.filter(a => a.path.includes('/loki/api/v1/push')).length < 2 && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

const run = { sdk, winston: winstonMode, pino: pinoMode }[mode]
if (!run) fail('unknown mode ' + mode)
run().then(() => {
  const bad = answers.filter(a => a.status < 200 || a.status > 299)
  if (bad.length) fail('non-2xx answers: ' + JSON.stringify(bad))
  if (answers.length === 0) fail('no request reached the server')
  console.log(`${mode}: ${answers.length} requests, all 2xx`)
  process.exit(0)
}, err => fail(String(err && err.stack || err)))
