"""The drift benchmark's dataset: 20 numerical and 5 categorical features, some shifted, with a fixed seed.

    python benchmarks/drift_data.py --rows 1000000 [--regenerate]

writes benchmarks/data/rows-1000000/{reference,current}.parquet (git-ignored) unless a dataset of the same rows,
seed and generator version is already there, and prints the two paths and the features as JSON on stdout.
drift_compare.py runs it as a subprocess: generating takes ~0.7 GB, and a child's peak RSS (ru_maxrss) can never
read lower than its parent's, so the process that measures must never hold the data itself.

Parquet is written through DuckDB straight from a dict of numpy arrays: no pyarrow or pandas.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"
SEED = 20240601
# Bump when the generated data changes, so an old cache is rebuilt instead of silently reused.
GENERATOR_VERSION = 1

Sampler = Callable[[np.random.Generator, int], np.ndarray]


@dataclass(frozen=True)
class Feature:
    """One column: how to draw it in the reference and in the current sample (the same sampler: unchanged)."""

    name: str
    reference: Sampler
    current: Sampler

    @property
    def kind(self) -> str:
        return "categorical" if self.name.startswith("cat_") else "numerical"


def same(name: str, sampler: Sampler) -> Feature:
    return Feature(name, sampler, sampler)


def normal(mean: float, sd: float) -> Sampler:
    return lambda rng, n: rng.normal(mean, sd, n)


def lognormal(mu: float, sigma: float, scale: float = 1.0) -> Sampler:
    return lambda rng, n: scale * rng.lognormal(mu, sigma, n)


def with_new_mode(base: Sampler, share: float, mode: Sampler) -> Sampler:
    """`base`, with a random `share` of the rows drawn from `mode` instead: a mode that was not there before."""

    def draw(rng: np.random.Generator, n: int) -> np.ndarray:
        values = base(rng, n)
        moved = rng.random(n) < share
        values[moved] = mode(rng, int(moved.sum()))
        return values

    return draw


def integers(draw: Sampler, dtype: type) -> Sampler:
    """Integer-valued feature (many ties), stored with an integer Parquet type."""
    return lambda rng, n: draw(rng, n).astype(dtype)


def categories(levels: list[str], shares: np.ndarray | list[float]) -> Sampler:
    """Categorical feature: a numpy unicode array, which DuckDB writes as a VARCHAR column."""
    labels = np.array(levels)
    p = np.asarray(shares, dtype=float)
    p = p / p.sum()
    return lambda rng, n: labels[rng.choice(len(labels), size=n, p=p)]


def _item_ids() -> tuple[list[str], np.ndarray]:
    """2000 levels with a long tail (Zipf-like shares), like product or merchant ids."""
    return [f"item_{i:04d}" for i in range(2000)], 1.0 / (np.arange(2000) + 10.0)


DEVICES = ["mobile", "desktop", "tablet", "tv"]
CHANNELS = ["search", "direct", "social", "email", "ads"]
CHANNEL_SHARES = [0.40, 0.25, 0.15, 0.12, 0.08]
COUNTRIES = ["US", "DE", "FR", "GB", "IN", "BR", "JP", "ES", "IT", "CA", "MX", "NL"]
COUNTRY_SHARES = [30, 10, 8, 8, 12, 7, 6, 5, 5, 4, 3, 2]

# Names say what changed: *_same features are independent draws of one distribution in both samples.
FEATURES: tuple[Feature, ...] = (
    # Continuous, normal.
    same("num_normal_same", normal(0, 1)),
    same("num_normal_wide_same", normal(50, 10)),
    Feature("num_normal_shift_small", normal(0, 1), normal(0.1, 1)),  # 0.1 sd: real, but under the alert rule
    Feature("num_normal_shift", normal(100, 15), normal(107.5, 15)),  # 0.5 sd
    Feature("num_normal_scale", normal(0, 2), normal(0, 3)),  # x1.5 scale
    Feature("num_normal_new_mode", normal(10, 2), with_new_mode(normal(10, 2), 0.10, normal(18, 2))),  # 10% at +4 sd
    # Continuous, skewed or heavy-tailed.
    same("num_lognormal_same", lognormal(0, 1)),
    Feature("num_lognormal_shift", lognormal(3, 0.5), lognormal(3.25, 0.5)),
    Feature("num_lognormal_scale", lognormal(1, 0.6), lognormal(1, 0.6, scale=1.5)),
    same("num_exponential_same", lambda rng, n: rng.exponential(1.0, n)),
    same("num_uniform_same", lambda rng, n: rng.random(n)),
    same("num_student_t_same", lambda rng, n: rng.standard_t(3, n)),
    same("num_price_rounded_same", lambda rng, n: np.round(rng.lognormal(3, 1, n), 2)),  # ties from rounding
    Feature("num_gamma_shift", lambda rng, n: rng.gamma(2, 20, n), lambda rng, n: rng.gamma(2, 20, n) + 10),
    # Discrete, integer-valued, with ties: up to `bins` distinct values get a bin each, more get quantile bins.
    same("int_poisson_same", integers(lambda rng, n: rng.poisson(3, n), np.int64)),
    Feature("int_poisson_shift", integers(lambda rng, n: rng.poisson(3, n), np.int64),
            integers(lambda rng, n: rng.poisson(3.6, n), np.int64)),
    same("int_uniform_same", integers(lambda rng, n: rng.integers(0, 100, n), np.int64)),
    Feature("int_binary_shift", integers(lambda rng, n: rng.random(n) < 0.3, np.int8),
            integers(lambda rng, n: rng.random(n) < 0.4, np.int8)),
    same("int_rating_same",
         integers(lambda rng, n: rng.choice(np.arange(1, 6), n, p=[.05, .1, .2, .35, .3]), np.int16)),
    Feature("int_age_shift", integers(lambda rng, n: np.clip(np.round(rng.normal(40, 12, n)), 18, 90), np.int32),
            integers(lambda rng, n: np.clip(np.round(rng.normal(43, 12, n)), 18, 90), np.int32)),
    # Categorical.
    same("cat_country_same", categories(COUNTRIES, COUNTRY_SHARES)),
    Feature("cat_device_shift", categories(DEVICES, [.55, .35, .08, .02]), categories(DEVICES, [.45, .40, .10, .05])),
    Feature("cat_channel_new_category", categories(CHANNELS, CHANNEL_SHARES),
            categories([*CHANNELS, "affiliate"], [s * 0.98 for s in CHANNEL_SHARES] + [0.02])),  # new, 2% share
    same("cat_item_id_same", categories(*_item_ids())),  # 2000 levels
    same("cat_plan_same", categories(["free", "pro", "team"], [.70, .25, .05])),
)


@dataclass(frozen=True)
class Dataset:
    reference: Path
    current: Path


def dataset_paths(rows: int) -> Dataset:
    """Each size has its own folder, so a quick --rows run does not throw away the 1M cache."""
    folder = DATA_DIR / f"rows-{rows}"
    return Dataset(folder / "reference.parquet", folder / "current.parquet")


def _stamp(rows: int) -> dict:
    return {"rows": rows, "seed": SEED, "generator_version": GENERATOR_VERSION,
            "features": [f.name for f in FEATURES]}


def ensure_dataset(rows: int, regenerate: bool = False) -> Dataset:
    """The cached dataset for `rows`, generated first when missing, stale, or when asked to."""
    data = dataset_paths(rows)
    stamp_file = data.reference.parent / "dataset.json"
    fresh = (not regenerate and data.reference.exists() and data.current.exists() and stamp_file.exists()
             and json.loads(stamp_file.read_text()) == _stamp(rows))
    if fresh:
        return data
    data.reference.parent.mkdir(parents=True, exist_ok=True)
    stamp_file.unlink(missing_ok=True)  # written last: an interrupted generation is never taken for a good one
    for role, path in enumerate((data.reference, data.current)):
        start = time.perf_counter()
        write_sample(path, rows, role)
        print(f"[drift_data] generated {path} ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    stamp_file.write_text(json.dumps(_stamp(rows), indent=2) + "\n")
    return data


def write_sample(path: Path, rows: int, role: int) -> None:
    """Draw every feature of one sample (role 0: reference, 1: current) and write it as Parquet through DuckDB.

    Each feature and role has its own random stream, so one feature's data does not change when another is added
    or edited, and an unchanged feature is two independent draws of the same distribution.
    """
    d = {}
    for index, feature in enumerate(FEATURES):
        rng = np.random.default_rng([SEED, index, role])
        d[feature.name] = (feature.current if role else feature.reference)(rng, rows)
    con = duckdb.connect()
    try:
        # DuckDB finds the dict `d` in this frame by name (a replacement scan) and writes it column by column.
        con.sql(f"COPY (SELECT * FROM d) TO '{_escape(str(path))}' (FORMAT parquet)")
    finally:
        con.close()


def _escape(text: str) -> str:
    return text.replace("'", "''")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per sample (default: 1,000,000)")
    parser.add_argument("--regenerate", action="store_true", help="rebuild even when a cached dataset exists")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    data = ensure_dataset(args.rows, args.regenerate)
    print(json.dumps({"reference": str(data.reference), "current": str(data.current), "rows": args.rows,
                      "features": {f.name: f.kind for f in FEATURES}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
