"""Prometheus metrics in prometheus_client's multiprocess mode (contract C.10).

Every worker writes its samples to mmap files in PROMETHEUS_MULTIPROC_DIR; the master's scrape
endpoint aggregates them, so figures are right with any number of workers. The server sets that
directory *before* this module first imports prometheus_client (the value class is chosen at import).

Built-in (not moved by health probes or scrapes):
  modelpack_requests_total{protocol,route,status}          counter
  modelpack_request_duration_seconds{protocol,route}       histogram
Custom metrics come from the data plane through the MetricsSink methods `record_custom` and
`record_feedback`. GAUGE uses multiprocess mode "mostrecent": a gauge is a value the model *sets*,
so the last write from any worker is the truth (summing per-worker copies would multiply it).
"""
from __future__ import annotations

import logging
import os
import re
from bisect import bisect_left
from typing import Any, Iterable, Optional

from .settings import Settings

log = logging.getLogger("modelpack_runtime.metrics")

# Seldon's TIMER buckets: [0] + logspace(0.001 -> 30, 50) seconds (numpy's geomspace, computed here
# without numpy so the scrape side stays light).
SELDON_BUCKETS = tuple([0.0] + [0.001 * (30 / 0.001) ** (i / 49) for i in range(50)])
SELDON_LABELS = ("method", "model_name", "model_image", "model_version", "deployment_name",
                 "predictor_name", "predictor_version", "seldon_deployment_name", "image_name",
                 "image_version", "worker_id")
_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Seldon method names used as the `method` label
METHOD_LABELS = {"predict": "predict", "transform-input": "inputtransform",
                 "transform-output": "outputtransform", "route": "router", "aggregate": "aggregate",
                 "send-feedback": "feedback", "health": "health"}


def _split_image(image: Optional[str]) -> tuple[str, str]:
    if not image:
        return "", ""
    name, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:  # "host:5000/img" has no tag
        return image, "latest"
    return name, tag


class Metrics:
    """The MetricsSink handed to DataPlane, plus the built-in request metrics for the adapters."""

    def __init__(self, settings: Settings) -> None:
        import prometheus_client as pc  # late: PROMETHEUS_MULTIPROC_DIR must be set first

        self._pc = pc
        self._registry = None if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else pc.CollectorRegistry()
        image_name, image_version = _split_image(settings.predictive_unit_image)
        model_name = settings.predictive_unit_id or settings.served_model_name
        self._base = {"model_name": model_name, "model_image": image_name, "model_version": image_version,
                      "deployment_name": settings.deployment_name, "predictor_name": settings.predictor_name,
                      "predictor_version": settings.predictor_version,
                      "seldon_deployment_name": settings.deployment_name, "image_name": image_name,
                      "image_version": image_version, "worker_id": str(os.getpid())}
        self._requests = pc.Counter("modelpack_requests", "Requests served, by protocol, route template and "
                                    "HTTP status", ("protocol", "route", "status"), registry=self._registry)
        self._duration = pc.Histogram("modelpack_request_duration_seconds", "Request latency in seconds",
                                      ("protocol", "route"), registry=self._registry)
        self._bounds = tuple(self._duration._upper_bounds)
        self._batch: dict[tuple[str, str, int], list[float]] = {}
        self._req_children: dict[tuple[str, str, int], Any] = {}
        self._dur_children: dict[tuple[str, str], Any] = {}
        self._custom: dict[tuple[str, str, tuple[str, ...]], Any] = {}
        self._warned: set[str] = set()
        self._executor_enabled = settings.executor_enabled

    def after_fork(self) -> None:
        """Called in a worker after fork: the worker_id label is the worker's pid (as in Seldon)."""
        self._base["worker_id"] = str(os.getpid())
        self._custom.clear()

    # built-in request metrics -----------------------------------------------------------------
    def samples(self, protocol: str, route: str, status: int) -> list[float]:
        """The batch of request durations (seconds) of one (protocol, route, status), for the HTTP
        event loop: it appends to the list, and `flush()` (every FLUSH_INTERVAL s and at exit)
        writes the batch to the multiprocess files and empties the list in place, so callers may
        keep it. Saves the three locked mmap writes (and getpid calls) per request, and the
        histogram bookkeeping too. Event-loop thread only."""
        key = (protocol, route, status)
        batch = self._batch.get(key)
        if batch is None:
            batch = self._batch[key] = []
        return batch

    def observe_batched(self, protocol: str, route: str, status: int, seconds: float) -> None:
        """One duration into the batch (see `samples`)."""
        self.samples(protocol, route, status).append(seconds)

    def flush(self) -> None:
        """Write the batched request observations to the multiprocess files."""
        bounds = self._bounds
        for (protocol, route, status), durations in self._batch.items():
            if not durations:
                continue
            self._requests.labels(protocol, route, str(status)).inc(len(durations))
            hist = self._duration.labels(protocol, route)
            # prometheus_client's Histogram keeps a sum value and one (non-cumulative) value per
            # bucket (the first upper bound >= the value, which is bisect_left); adding whole
            # batches to them is what len(durations) observe() calls would do.
            # tests/runtime/http/test_metrics.py checks the exposed _count/_bucket figures.
            hist._sum.inc(sum(durations))
            if len(durations) < 64:
                buckets = [0] * len(bounds)
                for seconds in durations:
                    buckets[bisect_left(bounds, seconds)] += 1
            else:  # a busy worker's half second: thousands of samples, counted in one numpy call
                import numpy as np  # a worker has numpy loaded already; the master never gets here

                buckets = np.bincount(np.searchsorted(bounds, durations, side="left"), minlength=len(bounds)).tolist()
            for i, count in enumerate(buckets):
                if count:
                    hist._buckets[i].inc(count)
            durations.clear()

    def observe_request(self, protocol: str, route: str, status: int, seconds: float) -> None:
        """Count one request now (thread-safe; used by the gRPC adapter)."""
        key = (protocol, route, status)
        child = self._req_children.get(key)
        if child is None:
            child = self._req_children[key] = self._requests.labels(protocol, route, str(status))
        child.inc()
        dkey = (protocol, route)
        dur = self._dur_children.get(dkey)
        if dur is None:
            dur = self._dur_children[dkey] = self._duration.labels(protocol, route)
        dur.observe(seconds)

    # MetricsSink --------------------------------------------------------------------------------
    def record_custom(self, metrics: Iterable[dict], method: str) -> None:
        """Record custom metric dicts {type, key, value, tags} returned by user code (C.10).
        The data plane has validated them; a name Prometheus cannot take is logged once and skipped."""
        for m in metrics:
            key, mtype, value = m["key"], str(m["type"]).upper(), float(m["value"])
            tags = {str(k): str(v) for k, v in (m.get("tags") or {}).items()}
            if not _NAME_RE.match(key) or not all(_LABEL_RE.match(t) and t not in SELDON_LABELS for t in tags):
                self._warn_once(key, f"custom metric {key!r} with tags {sorted(tags)} is not a valid Prometheus "
                                     "name/label set (letters, digits, _ only; tags may not reuse Seldon's "
                                     "labels); skipped")
                continue
            labelnames = tuple(sorted(tags)) + SELDON_LABELS
            metric = self._metric(key, mtype, labelnames)
            if metric is None:
                continue
            values = dict(self._base, method=METHOD_LABELS.get(method, method), **tags)
            child = metric.labels(*(values[n] for n in labelnames))
            if mtype == "COUNTER":
                child.inc(value)
            elif mtype == "GAUGE":
                child.set(value)
            else:  # TIMER: milliseconds in, seconds out
                child.observe(value / 1000.0)

    def record_feedback(self, reward: float) -> None:
        """Feedback counters (skipped in Seldon's legacy mode, SELDON_EXECUTOR_ENABLED=false)."""
        if not self._executor_enabled or not reward:  # Seldon counts non-zero rewards only
            return
        labelnames = SELDON_LABELS
        values = dict(self._base, method="feedback")
        args = [values[n] for n in labelnames]
        self._metric("seldon_api_model_feedback", "COUNTER", labelnames).labels(*args).inc()
        self._metric("seldon_api_model_feedback_reward", "COUNTER", labelnames).labels(*args).inc(reward)

    # ---------------------------------------------------------------------------------------------
    def _metric(self, key: str, mtype: str, labelnames: tuple[str, ...]) -> Any:
        # One object per (key, type, labelnames): the same key with other tags must not crash.
        ident = (key, mtype, labelnames)
        metric = self._custom.get(ident)
        if metric is not None:
            return metric
        pc = self._pc
        try:
            if mtype == "COUNTER":
                metric = pc.Counter(key, key, labelnames, registry=self._registry)
            elif mtype == "GAUGE":
                metric = pc.Gauge(key, key, labelnames, registry=self._registry, multiprocess_mode="mostrecent")
            elif mtype == "TIMER":
                metric = pc.Histogram(key, key, labelnames, registry=self._registry, buckets=SELDON_BUCKETS)
            else:
                self._warn_once(key, f"custom metric {key!r}: unknown type {mtype!r}; use COUNTER, GAUGE or TIMER")
                return None
        except ValueError as exc:  # a single-process registry refuses duplicate names
            self._warn_once(key, f"custom metric {key!r} ({mtype}, labels {list(labelnames)}) not recorded: {exc}")
            return None
        self._custom[ident] = metric
        return metric

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)


def render_scrape(multiproc_dir: str) -> tuple[bytes, str]:
    """The Prometheus text exposition of every worker's samples (used by the master)."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=multiproc_dir)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_worker_dead(pid: int, multiproc_dir: str) -> None:
    """Drop a dead worker's live gauges (counters and histograms keep their totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, multiproc_dir)
