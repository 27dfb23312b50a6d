"""Write the two prediction-log samples in examples/ (the seed's PredictionLog schema, JSON lines).

A fraud model's baseline week and a current day: the current day has larger transactions (x1.5) and more
traffic at night; tenure and distance are unchanged. Deterministic: rerunning rewrites the same files.
    python examples/make_prediction_logs.py
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def records(rng: np.random.Generator, start: datetime, n: int, amount_scale: float, night_share: float):
    hours = np.where(rng.random(n) < night_share, rng.integers(0, 6, n), rng.integers(6, 24, n))
    for i in range(n):
        latency = float(rng.gamma(4.0, 12.0))
        score = float(rng.beta(8, 2))
        yield {
            "prediction_id": f"p-{start:%Y%m%d}-{i:05d}",
            "request_id": f"r-{start:%Y%m%d}-{i:05d}",
            "trace_id": hashlib.sha1(f"{start}{i}".encode()).hexdigest()[:32],
            "model_id": "fraud-det",
            "model_version": "v2.2.0",
            "endpoint": "/v1/predict",
            "user_id": hashlib.sha256(f"user-{rng.integers(0, 500)}".encode()).hexdigest()[:16],
            "output_class": "fraud" if score < 0.5 else "legit",
            "output_score": round(score, 4),
            "total_latency_ms": round(latency, 2),
            "status": "SUCCESS",
            "timestamp": (start + timedelta(seconds=int(i * 86400 / n))).isoformat(),
            "client_ip_hash": hashlib.sha256(f"ip-{i % 97}".encode()).hexdigest()[:16],
            "feature_values": {
                "transaction_amt": round(float(rng.lognormal(3.5, 0.8) * amount_scale), 2),
                "user_tenure": float(rng.integers(1, 2000)),
                "time_of_day": float(hours[i]),
                "geo_distance_km": round(float(rng.exponential(15.0)), 2),
            },
        }


def write(name: str, rows) -> None:
    with open(HERE / name, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    rng = np.random.default_rng(20250107)
    write("predictions-baseline.jsonl", records(rng, datetime(2025, 1, 1, tzinfo=UTC), 1000, 1.0, 0.05))
    write("predictions-current.jsonl", records(rng, datetime(2025, 1, 8, tzinfo=UTC), 1000, 1.5, 0.2))
