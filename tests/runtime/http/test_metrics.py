"""Prometheus figures scraped from the master's metrics port, with several workers."""
from __future__ import annotations

import re
import time

import requests

ND = {"data": {"ndarray": [[1.0, 2.0]]}}


def samples(text: str, name: str, **labels: str) -> list[float]:
    """Values of every sample `name{...}` whose labels include `labels`."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            out.append(float(m.group(4)))
    return out


def scrape_when(url: str, name: str, expected: float, **labels: str) -> str:
    """Request metrics are flushed by each worker every 0.5 s: scrape until `name{labels}` sums to
    `expected` (at most 5 s), then return that scrape for exact assertions."""
    deadline = time.monotonic() + 5
    while True:
        text = requests.get(url).text
        if sum(samples(text, name, **labels)) == expected or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def spread_requests(url: str, minimum: int) -> tuple[int, set]:
    """POST on fresh connections until both workers answered and at least `minimum` were sent."""
    pids: set = set()
    n = 0
    while n < minimum or (len(pids) < 2 and n < 2000):
        r = requests.post(url + "/predict", json=ND, headers={"Connection": "close"})
        assert r.status_code == 200
        pids.add(r.json()["meta"]["tags"]["worker"])
        n += 1
    return n, pids


def test_request_metrics_exact_over_two_workers(start) -> None:
    s = start("rowsum", "--workers", "2")
    n, pids = spread_requests(s.url, 40)
    assert len(pids) == 2, "the kernel never gave a connection to the second worker"
    for _ in range(5):  # probes and errors
        requests.get(s.url + "/health/ping")
        requests.get(s.url + "/v2/health/ready")
    requests.post(s.url + "/predict", data=b"{bad")
    requests.post(s.url + "/v1/models/Model:predict", json={"instances": [[1, 2]]})
    text = scrape_when(s.metrics_url, "modelpack_request_duration_seconds_count", n + 2)
    assert samples(text, "modelpack_requests_total", protocol="seldon", route="/predict", status="200") == [n]
    assert samples(text, "modelpack_requests_total", protocol="seldon", route="/predict", status="400") == [1]
    assert samples(text, "modelpack_requests_total", protocol="v1", route="/v1/models/{name}:predict",
                   status="200") == [1]
    assert samples(text, "modelpack_request_duration_seconds_count", protocol="seldon", route="/predict") == [n + 1]
    buckets = samples(text, "modelpack_request_duration_seconds_bucket", protocol="seldon", route="/predict")
    assert buckets == sorted(buckets) and buckets[-1] == n + 1  # cumulative, +Inf holds them all
    assert 0 < sum(samples(text, "modelpack_request_duration_seconds_sum", protocol="seldon", route="/predict")) < n
    assert "/health/ping" not in text and "/v2/health/ready" not in text  # probes do not count
    assert "/metrics" not in text  # nor do scrapes
    requests.get(s.metrics_url)
    again = requests.get(s.metrics_url).text
    assert samples(again, "modelpack_requests_total", protocol="seldon", route="/predict", status="200") == [n]


def test_custom_metrics_counter_gauge_timer_with_tag_sets(start) -> None:
    s = start("custom", "--workers", "2",
              env={"PREDICTIVE_UNIT_ID": "clf", "PREDICTIVE_UNIT_IMAGE": "me/clf:1.2", "SELDON_DEPLOYMENT_ID": "dep",
                   "PREDICTOR_ID": "main", "PREDICTOR_LABELS": '{"version":"v3"}'})
    k = 10
    for _ in range(k):
        r = requests.post(s.url + "/predict", json=ND, headers={"Connection": "close"})
        assert r.status_code == 200, r.text
        assert {m["key"] for m in r.json()["meta"]["metrics"]} == {"mycounter", "tagged", "mygauge", "mytimer"}
    text = requests.get(s.metrics_url).text
    common = {"model_name": "clf", "model_image": "me/clf", "model_version": "1.2", "deployment_name": "dep",
              "predictor_name": "main", "predictor_version": "v3", "method": "predict"}
    assert sum(samples(text, "mycounter_total", **common)) == k
    assert sum(samples(text, "tagged_total", color="red", **common)) == k
    assert sum(samples(text, "tagged_total", color="blue", shape="square", **common)) == 2 * k
    assert set(samples(text, "mygauge", **common)) == {42.0}
    assert sum(samples(text, "mytimer_count", **common)) == k
    assert abs(sum(samples(text, "mytimer_sum", **common)) - k * 0.0205) < 1e-9
    # Seldon's buckets: 0, then 50 log-spaced from 1 ms to 30 s
    les = {line.split('le="')[1].split('"')[0] for line in text.splitlines() if line.startswith("mytimer_bucket")}
    assert len(les) == 52 and "0.0" in les and "0.001" in les and "30.0" in les and "+Inf" in les
    worker_ids = {line.split('worker_id="')[1].split('"')[0] for line in text.splitlines()
                  if line.startswith("mycounter_total")}
    assert worker_ids and all(w.isdigit() for w in worker_ids)


def test_feedback_reward_counters(start) -> None:
    s = start("rowsum")
    for reward in (1.0, 0.5, 0.0):
        r = requests.post(s.url + "/send-feedback", json={"request": ND, "reward": reward})
        assert r.status_code == 200
    text = requests.get(s.metrics_url).text
    assert samples(text, "seldon_api_model_feedback_total", method="feedback") == [2.0]  # non-zero rewards
    assert samples(text, "seldon_api_model_feedback_reward_total", method="feedback") == [1.5]


def test_metrics_endpoint_path_from_env_and_404_elsewhere(start) -> None:
    s = start("rowsum", env={"PREDICTIVE_UNIT_METRICS_ENDPOINT": "/prometheus"})
    base = s.metrics_url.rsplit("/", 1)[0]
    r = requests.get(base + "/prometheus")
    assert r.status_code == 200 and "text/plain" in r.headers["content-type"]
    r = requests.get(base + "/metrics")
    assert r.status_code == 404 and "/prometheus" in r.text
