"""The whitelist of workflow settings: every key, its type, its range and its default.

Training reads the ``training`` keys at the start of a run; every inference process reads the
``runtime`` keys and picks up changes without a restart. Nothing outside this table can be set,
through the API, the admin or a blueprint. ``feature_weights`` name attributes of the training
profile (at least one attribute keeps a weight above 0); lists and objects are bounded in size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from routing_site.errors import BadInput, DomainError

MAX_ENTRIES = 500  # attributes in feature_weights, codes in a routing rule list
MAX_NAME = 100  # characters of an attribute name or a code


@dataclass(frozen=True)
class Setting:
    key: str
    kind: type | tuple
    default: Any
    scope: str  # "runtime" or "training"
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in [
        Setting("top_k", int, 20, "runtime", 1, 200, "Neighbours consulted per prediction."),
        Setting("candidates", int, 4, "runtime", 1, 20, "Candidate routings returned per item."),
        Setting(
            "min_similarity",
            float,
            0.30,
            "runtime",
            0.0,
            1.0,
            "Neighbours below this cosine similarity are ignored.",
        ),
        Setting(
            "percentiles",
            list,
            [50, 80, 90],
            "runtime",
            None,
            None,
            "Time percentiles reported per operation (each 1..99).",
        ),
        Setting(
            "support_power",
            float,
            4.0,
            "runtime",
            0.0,
            16.0,
            "Candidate support = sum of similarity ** power (higher favours the closest items).",
        ),
        Setting(
            "cluster_radius",
            float,
            0.75,
            "runtime",
            0.05,
            1.0,
            "Routings at least this edit-similar to a cluster's centre join its candidate.",
        ),
        Setting(
            "vote_share",
            float,
            0.4,
            "runtime",
            0.0,
            1.0,
            "Candidate 1: the routing nearest the op codes held by this share of the support "
            "(0 = the best cluster's medoid).",
        ),
        Setting(
            "prefer_actuals", bool, True, "runtime", help="Use work-order actuals where they exist."
        ),
        Setting(
            "cache_size", int, 1024, "runtime", 0, 1_000_000, "Cached query results (0 = off)."
        ),
        Setting(
            "feature_weights", dict, {}, "training", help="Per-attribute weight overrides (0..100)."
        ),
        Setting("embedding_dim", int, 64, "training", 8, 512, "Vector dimension after SVD."),
        Setting("hnsw_m", int, 12, "training", 4, 96, "HNSW graph degree M."),
        Setting("hnsw_ef_construction", int, 60, "training", 10, 2000, "HNSW ef at build."),
        Setting("hnsw_ef_search", int, 100, "runtime", 10, 2000, "HNSW ef at query time."),
        Setting(
            "eval_sample",
            int,
            1000,
            "training",
            0,
            100_000,
            "Held-out items evaluated with every training (0 = skip).",
        ),
        Setting(
            "routing_rules", dict, {}, "runtime", help="Rules the routing editor and API enforce."
        ),
        Setting(
            "feedback",
            str,
            "add",
            "training",
            help="Saved routings in training: off, add (new items) or override (replace too).",
        ),
        Setting(
            "prediction_log_size",
            int,
            5000,
            "runtime",
            0,
            1_000_000,
            "Live predictions kept for the shadow replay and the figures (0 = none).",
        ),
        Setting(
            "shadow_requests",
            int,
            500,
            "runtime",
            1,
            100_000,
            "Most recent logged predictions replayed by the shadow comparison.",
        ),
        Setting(
            "drift_window",
            int,
            200,
            "runtime",
            10,
            100_000,
            "Recent new-item answers compared with the training distribution.",
        ),
        Setting(
            "drift_similarity_delta",
            float,
            0.10,
            "runtime",
            0.0,
            1.0,
            "Warn when the mean best similarity moves by more than this.",
        ),
        Setting(
            "drift_low_share_delta",
            float,
            0.15,
            "runtime",
            0.0,
            1.0,
            "Warn when the share of low-confidence answers moves by more than this.",
        ),
    ]
}
FEEDBACK_MODES = ("off", "add", "override")

RULE_DEFAULTS = {
    "allowed_op_codes": "from_data",  # or an explicit list
    "allowed_work_centers": "from_data",
    "mandatory_final_ops": [],  # e.g. ["INSP-F"]: the last operation must be one of these
    "max_minutes": 100_000.0,  # any single time above this is refused
    "min_operations": 1,
}


def defaults() -> dict:
    values = {key: s.default for key, s in SETTINGS.items()}
    values["routing_rules"] = dict(RULE_DEFAULTS)
    return values


def _check_value(setting: Setting, value) -> Any:
    kinds = setting.kind if isinstance(setting.kind, tuple) else (setting.kind,)
    if setting.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and bool not in kinds:
        raise ValueError(f"must be {setting.kind.__name__}, not a boolean")
    if not isinstance(value, kinds):
        raise ValueError(f"must be {' or '.join(k.__name__ for k in kinds)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if isinstance(value, (list, dict)) and len(value) > MAX_ENTRIES:
        raise ValueError(f"at most {MAX_ENTRIES} entries")
    if setting.minimum is not None and value < setting.minimum:
        raise ValueError(f"must be at least {setting.minimum}")
    if setting.maximum is not None and value > setting.maximum:
        raise ValueError(f"must be at most {setting.maximum}")
    return value


def _check_special(key: str, value):
    if key == "percentiles":
        if (
            not value
            or len(value) > 5
            or not all(
                isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 99 for p in value
            )
        ):
            raise ValueError("must be a list of 1 to 5 integers between 1 and 99")
        return sorted(set(value))
    if key == "feature_weights":
        known = training_attributes()
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(
                f"{unknown[0]!r} is not an attribute of the training profile; known: "
                + ", ".join(sorted(known))
            )
        for name, weight in value.items():
            if (
                isinstance(weight, bool)
                or not isinstance(weight, (int, float))
                or not 0 <= weight <= 100
            ):
                raise ValueError(f"weight of {name!r} must be a number between 0 and 100")
        return {str(k): float(v) for k, v in value.items()}
    if key == "routing_rules":
        return validate_rules(value)
    if key == "feedback" and value not in FEEDBACK_MODES:
        raise ValueError(f"must be one of {', '.join(FEEDBACK_MODES)}")
    return value


def training_attributes() -> set[str]:
    """The attribute names of the input profile that training uses (feature weights' keys)."""
    from workflow_app.config import get_input_profile

    return {a["name"] for a in get_input_profile(None)["attributes"]}


MAX_CODES = 5000  # per list of codes in the routing rules
MAX_CODE_LENGTH = 64


def _codes(value) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= MAX_CODES
        and all(isinstance(x, str) and len(x) <= MAX_CODE_LENGTH for x in value)
    )


def validate_rules(value: dict) -> dict:
    unknown = set(value) - set(RULE_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown rule(s) {sorted(unknown)}; allowed: {sorted(RULE_DEFAULTS)}")
    rules = {**RULE_DEFAULTS, **value}
    for key in ("allowed_op_codes", "allowed_work_centers"):
        v = rules[key]
        if v != "from_data" and not _codes(v):
            raise ValueError(
                f'{key} must be "from_data" or a list of at most {MAX_CODES} codes of at most '
                f"{MAX_CODE_LENGTH} characters"
            )
    if not _codes(rules["mandatory_final_ops"]):
        raise ValueError(
            f"mandatory_final_ops must be a list of at most {MAX_CODES} operation codes"
        )
    mm = rules["max_minutes"]
    if isinstance(mm, bool) or not isinstance(mm, (int, float)) or not 0 < mm <= 10_000_000:
        raise ValueError("max_minutes must be a number between 0 and 10,000,000")
    mo = rules["min_operations"]
    if isinstance(mo, bool) or not isinstance(mo, int) or not 0 <= mo <= 500:
        raise ValueError("min_operations must be an integer between 0 and 500")
    return rules


def check_feature_weights(weights: dict, attributes: list[dict]) -> None:
    """Every name an attribute of the training profile, and not every weight 0 afterwards."""
    known = {a["name"]: a.get("weight", 1.0) for a in attributes}
    unknown = sorted(name for name in weights if name not in known)
    if unknown:
        names = ", ".join(unknown[:5])
        raise ValueError(
            f"{names}: not an attribute of the training profile; known: {', '.join(known)}"
        )
    if not any(weights.get(name, weight) > 0 for name, weight in known.items()):
        raise ValueError("at least one attribute must keep a weight above 0")


def _training_attributes(profile: str | None) -> list[dict]:
    """Attributes of the input profile ``profile`` (None: the one trainings use now)."""
    from workflow_app.config import get_input_profile

    return get_input_profile(profile)["attributes"]


def _check_weights_against_profile(weights: dict, profile: str | None) -> None:
    try:
        attributes = _training_attributes(profile)
    except DomainError as exc:
        raise ValueError(f"the training profile cannot be read: {exc.detail}") from None
    check_feature_weights(weights, attributes)


def validate_changes(changes: dict, training_profile: str | None = None) -> dict:
    """Check a partial update; return the cleaned values or raise BadInput naming every key.

    ``training_profile`` names the input profile the feature weights will apply to (None: the
    one in force).
    """
    if not isinstance(changes, dict):
        raise BadInput("Send a JSON object of settings to change.")
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for key, value in changes.items():
        setting = SETTINGS.get(key)
        if setting is None:
            errors[key] = [f"unknown setting; allowed: {', '.join(sorted(SETTINGS))}"]
            continue
        try:
            cleaned[key] = _check_special(key, _check_value(setting, value))
            if key == "feature_weights":
                _check_weights_against_profile(cleaned[key], training_profile)
        except ValueError as exc:
            errors[key] = [str(exc)]
    if errors:
        first = next(iter(errors))
        raise BadInput(f"{first}: {errors[first][0]}", fields=errors, code="invalid_setting")
    return cleaned
