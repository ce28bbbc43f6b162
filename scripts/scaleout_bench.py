"""Requests per second of the scale-out topology: ``scripts/scaleout.sh bench`` runs this once per
set-up (nginx with two nodes, nginx with one, one node without nginx) and prints one line each.

    scaleout_bench.py LABEL URL TOKEN SECONDS CODES_DB

4 concurrent keep-alive clients (one process each, as ``manage.py bench``) call predict (one
known item, 4 candidates, varying quantity) and then similar items (top 10) for SECONDS each.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

CLIENTS = 4


def main(label: str, url: str, token: str, seconds: float, codes_db: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routing_site.settings")
    import django

    django.setup()
    from inference_app.management.commands.bench import pct, run_load

    with sqlite3.connect(codes_db) as db:
        codes = [r[0] for r in db.execute("SELECT ITEM_CD FROM dbo_BI_ITEM_INFO_VIEW")][:3000]
    bodies = {
        "predict": lambda i: {
            "items": [{"item_code": codes[i % len(codes)]}],
            "candidates": 4,
            "quantity": 1 + i % 50,
        },
        "similar": lambda i: {"item_code": codes[i % len(codes)], "top_k": 10},
    }
    port = int(url.rsplit(":", 1)[1])
    for endpoint, make in bodies.items():
        lat, errors, count = run_load(port, token, f"/api/v1/{endpoint}", make, CLIENTS, seconds)
        print(
            f"{label:<34} {endpoint:<8} {count / seconds:7.0f} req/s  "
            f"p50 {pct(lat, 0.5):6.1f} ms  p95 {pct(lat, 0.95):6.1f} ms  errors {errors}",
            flush=True,
        )


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
