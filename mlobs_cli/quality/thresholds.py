"""Concept-drift thresholds: the seed design's ConceptDriftDetector numbers, each overridable in the config file."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlobs_cli.drift.thresholds import FAIL_ON_LEVELS


@dataclass(frozen=True, slots=True)
class ConceptConfig:
    """Field names are the config keys (`concept.<name>`)."""

    accuracy_drop: float = field(default=0.05, metadata={"help": "accuracy drop above which, with p_value, "
                                                         "the labels show concept drift", "max": 1})
    accuracy_drop_high: float = field(default=0.10, metadata={"help": "accuracy drop above which concept drift "
                                                              "is high severity", "max": 1})
    p_value: float = field(default=0.05, metadata={"help": "one-sided t-test p-value of the window accuracies "
                                                   "below which the drop is significant", "max": 1})
    min_labels: int = field(default=30, metadata={"help": "labelled predictions a window needs to be used",
                                                  "min": 1, "max": 1_000_000_000})
    confidence_js: float = field(default=0.1, metadata={"help": "JS divergence (base 2) of output_score above "
                                                        "which confidence shifted", "max": 1})
    class_psi: float = field(default=0.1, metadata={"help": "PSI of output_class above which the class "
                                                    "distribution shifted"})
    importance_spearman: float = field(default=0.8, metadata={"help": "Spearman correlation of feature "
                                                              "importances below which importance drifted", "max": 1})
    min_indicators: int = field(default=2, metadata={"help": "label-free indicators that make potential "
                                                     "concept drift", "min": 1, "max": 3})
    prediction_psi: float = field(default=0.15, metadata={"help": "`drift predictions`: PSI of output_class "
                                                          "above which it alerts (prediction_distribution_shift)"})
    fail_on: str = field(default="medium", metadata={"help": "`drift concept` exits 1 on a finding at or above "
                                                     "this severity", "choices": FAIL_ON_LEVELS})
