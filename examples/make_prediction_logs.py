"""Write the prediction-log examples in examples/ (the seed's PredictionLog schema, JSON lines).

- predictions-baseline.jsonl, predictions-current.jsonl (for `drift compare`): a fraud model's baseline week and a
  current day; the current day has larger transactions (x1.5) and more traffic at night; tenure and distance are
  unchanged.
- prediction-logs.jsonl (for `mlobs logs`): two days of two models with every field of the schema. At 2025-01-08
  12:00 fraud-det v2.3.0 takes over from v2.2.0: its inference has a slow tail, it runs out of GPU memory now and
  then, its transactions are larger and its confidence lower. Input samples hold an email, a phone number and an
  SSN, which `logs search` must never show.

Deterministic: rerunning rewrites the same files.
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
        out.writelines(json.dumps(row) + "\n" for row in rows)


DEPLOY = datetime(2025, 1, 8, 12, tzinfo=UTC)


def full_records(rng: np.random.Generator, start: datetime, hours: int, per_hour: int):
    """Every field of the PredictionLog schema, for two models, `per_hour` requests an hour each."""
    n = 0
    for hour in range(hours):
        for model in ("fraud-det", "ranker"):
            for k in range(per_hour):
                at = start + timedelta(hours=hour, seconds=int(k * 3600 / per_hour))
                new = model == "fraud-det" and at >= DEPLOY
                version = ("v2.3.0" if new else "v2.2.0") if model == "fraud-det" else "v1.4.1"
                queue, pre, post = rng.gamma(2.0, 2.0), rng.gamma(3.0, 0.8), rng.gamma(2.0, 0.3)
                inference = rng.gamma(5.0, 4.0) * (3.0 if new and rng.random() < 0.08 else 1.0)
                roll = rng.random()
                status = "TIMEOUT" if roll < 0.004 else "ERROR" if roll < (0.03 if new else 0.008) else "SUCCESS"
                error = {"TIMEOUT": "deadline exceeded after 2000 ms",
                         "ERROR": "CUDA out of memory" if new and roll > 0.01 else "invalid input: amount missing",
                         "SUCCESS": None}[status]
                score = float(rng.beta(5, 2) if new else rng.beta(8, 2))
                amount = round(float(rng.lognormal(3.5, 0.8) * (1.5 if new else 1.0)), 2)
                user = f"user-{rng.integers(0, 800)}"
                n += 1
                yield {
                    "prediction_id": f"p-{n:06d}", "request_id": f"r-{n:06d}",
                    "trace_id": hashlib.sha1(f"t{n}".encode()).hexdigest()[:32],
                    "model_id": model, "model_version": version, "endpoint": "/v1/predict",
                    "experiment_id": None, "variant_id": None,
                    "user_id": hashlib.sha256(user.encode()).hexdigest()[:16],
                    "input_hash": hashlib.sha256(f"in{n}".encode()).hexdigest()[:16],
                    "input_features": {"amount": amount, "email": f"{user}@example.com", "phone": "+1-555-0100",
                                       "ssn": "078-05-1120"} if n % 50 == 0 else None,
                    "input_size_bytes": int(rng.integers(200, 900)),
                    "output": {"class": "fraud" if score < 0.5 else "legit", "score": round(score, 4)},
                    "output_class": "fraud" if score < 0.5 else "legit", "output_score": round(score, 4),
                    "output_size_bytes": 64,
                    "total_latency_ms": round(float(queue + pre + inference + post), 2),
                    "queue_wait_ms": round(float(queue), 2), "inference_ms": round(float(inference), 2),
                    "preprocessing_ms": round(float(pre), 2), "postprocessing_ms": round(float(post), 2),
                    "status": status, "error_message": error, "timestamp": at.isoformat(),
                    "client_ip_hash": hashlib.sha256(f"ip-{n % 97}".encode()).hexdigest()[:16],
                    "user_agent": "fraud-gateway/3.2",
                    "feature_values": {
                        "transaction_amt": amount,
                        "user_tenure": float(rng.integers(1, 2000)),
                        "geo_distance_km": round(float(rng.exponential(15.0)), 2),
                    },
                }


if __name__ == "__main__":
    rng = np.random.default_rng(20250107)
    write("predictions-baseline.jsonl", records(rng, datetime(2025, 1, 1, tzinfo=UTC), 1000, 1.0, 0.05))
    write("predictions-current.jsonl", records(rng, datetime(2025, 1, 8, tzinfo=UTC), 1000, 1.5, 0.2))
    write("prediction-logs.jsonl", full_records(np.random.default_rng(20250109), datetime(2025, 1, 7, tzinfo=UTC), 48, 25))
