"""The canonical data model every stage after extraction sees (DESIGN §3).

Extraction turns whatever the plant's source calls things into three pandas DataFrames with
exactly these columns; features, training, evaluation and the runtime never see source names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

# item: one row per item_code; the attribute columns follow, named by the profile's attribute
# names (for the plant-default profile those are the source column names, e.g. PART_TYPE).
ITEM_KEY = "item_code"

OPERATION_COLUMNS = [
    "item_code",  # str
    "routing_no",  # str
    "seq",  # int, the operation's position key within the routing (PROC_SEQ)
    "op_code",  # str
    "op_name",  # str
    "work_center",  # str
    "work_center_name",  # str
    "in_house",  # bool
    "setup_min",  # float minutes
    "run_min",  # float minutes per run_qty units
    "run_qty",  # float > 0
    "queue_min",  # float minutes
    "wait_min",  # float minutes
    "move_min",  # float minutes
    "valid_from",  # datetime64 or NaT
    "valid_to",  # datetime64 or NaT
    "inserted_at",  # datetime64 or NaT
]

WORK_RESULT_COLUMNS = [
    "item_code",
    "routing_no",
    "seq",
    "op_code",
    "work_center",
    "reported_at",  # datetime64 or NaT
    "setup_hours",  # float
    "run_hours",  # float, machine worked hours for the order
    "order_qty",  # float
    "bad_qty",  # float
]


@dataclass
class ExtractReport:
    """What extraction read and what it had to drop or repair, per table and reason."""

    rows_read: dict[str, int] = field(default_factory=dict)
    rows_kept: dict[str, int] = field(default_factory=dict)
    problems: dict[str, dict[str, int]] = field(default_factory=dict)  # table -> reason -> count
    examples: dict[str, list[str]] = field(default_factory=dict)  # table -> a few messages
    seconds: float = 0.0
    formats: dict[str, str] = field(default_factory=dict)  # table -> detected file format
    readers: dict[str, str] = field(default_factory=dict)  # table -> the reader that read it

    def count(self, table: str, reason: str, n: int = 1, example: str | None = None) -> None:
        bucket = self.problems.setdefault(table, {})
        bucket[reason] = bucket.get(reason, 0) + n
        if example is not None:
            ex = self.examples.setdefault(table, [])
            if len(ex) < 5:
                ex.append(example)

    def as_dict(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "problems": self.problems,
            "examples": self.examples,
            "seconds": round(self.seconds, 3),
            "formats": self.formats,
            "readers": self.readers,
        }


@dataclass
class PlantData:
    items: pd.DataFrame  # item_code + one column per attribute
    operations: pd.DataFrame  # OPERATION_COLUMNS
    work_results: pd.DataFrame  # WORK_RESULT_COLUMNS (may be empty)
    report: ExtractReport
