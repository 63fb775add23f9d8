#!/usr/bin/env python3
"""send.py - push log records to lokid with the Python clients services use.

Run by tests/it/clients_otlp.rs:  python send.py <mode> <baseUrl> <marker>

mode otel: the OpenTelemetry Python SDK with its OTLP/HTTP exporter (protobuf, gzip, to
           /otlp/v1/logs): 3 records (INFO, WARNING, ERROR) with attributes and trace context.
mode loki: Python logging with loki-logger-handler (Loki push API, JSON + gzip): 2 records
           (info, error) with a label and structured metadata.
Every line contains <marker>. Exits 0 only when every export/push was answered 2xx.
"""
import logging
import sys


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def otel(base, marker):
    from opentelemetry import trace
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import LogRecordExportResult, SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    results = []

    class Recording(OTLPLogExporter):
        def export(self, batch):
            r = super().export(batch)
            results.append(r)
            return r

    exporter = Recording(endpoint=base + "/otlp/v1/logs", compression=Compression.Gzip)
    provider = LoggerProvider(resource=Resource.create({
        "service.name": "otel-py-test",
        "service.namespace": "shop",
        "deployment.environment.name": "ci",
        "host.name": "py-host",
    }))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("lokid-test-py", "2.0.0")
    span = trace.NonRecordingSpan(trace.SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    ))
    ctx = trace.set_span_in_context(span)
    levels = [("INFO", SeverityNumber.INFO), ("WARNING", SeverityNumber.WARN), ("ERROR", SeverityNumber.ERROR)]
    for text, number in levels:
        logger.emit(
            severity_number=number,
            severity_text=text,
            body=f"{marker} otel-py {text.lower()} line",
            attributes={"order.id": 42, "retry": True, "ratio": 0.5},
            context=ctx,
        )
    provider.force_flush()
    provider.shutdown()
    bad = [r for r in results if r != LogRecordExportResult.SUCCESS]
    if bad or len(results) < len(levels):
        fail(f"exports: {results}")
    print(f"otel: {len(results)} exports, all successful")


def loki(base, marker):
    from loki_logger_handler.loki_logger_handler import LokiLoggerHandler

    handler = LokiLoggerHandler(
        url=base + "/loki/api/v1/push",
        labels={"job": "py-loki-test", "service": "py-api"},
        timeout=3600,  # no timed flush: this script sends once, below
        compressed=True,
        enable_self_errors=True,
        enable_structured_loki_metadata=True,
        loki_metadata={"env": "ci"},
    )
    statuses = []
    real_post = handler.request.session.post

    def post(*args, **kwargs):
        resp = real_post(*args, **kwargs)
        statuses.append(resp.status_code)
        return resp

    handler.request.session.post = post
    log = logging.getLogger("lokid-test")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(handler)
    log.info(f"{marker} py-loki info line")
    log.error(f"{marker} py-loki error line")
    handler._send()  # the handler's own flush (what its timer and atexit hook call)
    if not statuses or any(s < 200 or s > 299 for s in statuses):
        fail(f"push answers: {statuses}")
    print(f"loki: {len(statuses)} pushes, all 2xx")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("otel", "loki"):
        fail("usage: send.py <otel|loki> <baseUrl> <marker>")
    {"otel": otel, "loki": loki}[sys.argv[1]](sys.argv[2], sys.argv[3])
