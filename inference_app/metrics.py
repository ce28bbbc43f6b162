"""In-process request metrics, rendered as Prometheus text.

Counters and latency histograms by endpoint, status class and model version. Kept in memory per
process (each inference process exposes its own, as Prometheus expects); a lock guards updates.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict, deque

BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _pcts(values: list[float]) -> dict:
    """p50/p95/p99 of sorted values (nearest rank)."""
    n = len(values)
    return {f"p{int(q * 100)}": round(values[min(n - 1, int(q * n))], 2) for q in (0.5, 0.95, 0.99)}


class Metrics:
    def __init__(self):
        self._lock = threading.Lock()
        self.requests: dict[tuple, int] = defaultdict(int)
        self.hist: dict[tuple, list[int]] = {}
        self.sums: dict[tuple, float] = defaultdict(float)
        self.recent: deque = deque(maxlen=5000)  # (t, endpoint, seconds) for the dashboard

    def observe(self, endpoint: str, status: int, version: str | None, seconds: float, now: float):
        key = (endpoint, f"{status // 100}xx", version or "none")
        hkey = (endpoint, version or "none")
        with self._lock:
            self.requests[key] += 1
            counts = self.hist.setdefault(hkey, [0] * (len(BUCKETS) + 1))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self.sums[hkey] += seconds
            self.recent.append((now, endpoint, seconds))

    def percentiles(self, since: float) -> dict:
        """p50/p95/p99 latency (ms) per endpoint over recent requests."""
        by_endpoint: dict[str, list[float]] = defaultdict(list)
        with self._lock:
            for t, endpoint, seconds in self.recent:
                if t >= since:
                    by_endpoint[endpoint].append(seconds * 1000)
        out = {}
        for endpoint, values in by_endpoint.items():
            values.sort()
            out[endpoint] = {"count": len(values), **_pcts(values)}
        return out

    def render(self, extra: dict[str, float] | None = None) -> str:
        lines = [
            "# HELP routing_requests_total API requests by endpoint, status class, model version.",
            "# TYPE routing_requests_total counter",
        ]
        with self._lock:
            for (endpoint, status, version), n in sorted(self.requests.items()):
                labels = f'endpoint="{endpoint}",status="{status}",version="{version}"'
                lines.append(f"routing_requests_total{{{labels}}} {n}")
            lines += [
                "# HELP routing_request_seconds API latency by endpoint and model version.",
                "# TYPE routing_request_seconds histogram",
            ]
            for (endpoint, version), counts in sorted(self.hist.items()):
                labels = f'endpoint="{endpoint}",version="{version}"'
                cumulative = 0
                for bound, n in zip((*BUCKETS, "+Inf"), counts, strict=True):
                    cumulative += n
                    lines.append(
                        f'routing_request_seconds_bucket{{{labels},le="{bound}"}} {cumulative}'
                    )
                lines.append(
                    f"routing_request_seconds_sum{{{labels}}} {self.sums[(endpoint, version)]:.6f}"
                )
                lines.append(f"routing_request_seconds_count{{{labels}}} {cumulative}")
        for name, value in (extra or {}).items():
            lines += [f"# TYPE {name} gauge", f"{name} {value}"]
        return "\n".join(lines) + "\n"


metrics = Metrics()
