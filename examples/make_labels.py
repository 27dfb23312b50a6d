"""Write examples/labels.csv: late ground truth for fraud-det's predictions in prediction-logs.jsonl.

Chargebacks and reviews arrive hours after a prediction (median about 4 h here), for 80% of them. v2.2.0 is right
as often as its score says (calibrated); v2.3.0, which takes over at 2025-01-08 12:00, is right 20 points less
often than its score says: the concept drift `mlobs drift concept` should find. Five predictions are labelled
twice, a wrong label first, corrected later (the latest labeled_at wins).

Deterministic: rerunning rewrites the same file.
    python examples/make_labels.py
"""

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OTHER = {"fraud": "legit", "legit": "fraud"}


def main() -> None:
    rng = np.random.default_rng(20250109)
    rows = []
    with open(HERE / "prediction-logs.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["model_id"] != "fraud-det" or r["output_class"] is None:
                continue
            p_right = r["output_score"] - (0.2 if r["model_version"] == "v2.3.0" else 0.0)
            label = r["output_class"] if rng.random() < p_right else OTHER[r["output_class"]]
            if rng.random() < 0.8:
                at = datetime.fromisoformat(r["timestamp"]) + timedelta(hours=float(rng.exponential(6.0)))
                rows.append([r["prediction_id"], label, at.isoformat()])
    for i in range(5):
        pid, label, at = rows[i * 97]
        rows.append([pid, OTHER[label], (datetime.fromisoformat(at) - timedelta(hours=1)).isoformat()])
    with open(HERE / "labels.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["prediction_id", "label", "labeled_at"])
        writer.writerows(rows)


if __name__ == "__main__":
    main()
