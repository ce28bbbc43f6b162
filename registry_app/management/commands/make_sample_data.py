"""``manage.py make_sample_data --items N --seed S [--out PATH] [--force]``: sample plant DB."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from registry_app.pipeline.sample_data import STYLES, generate
from registry_app.pipeline.sources import SourceError, parse_source

MAX_ITEMS = 5_000_000


def default_out() -> Path:
    """The SQLite file the site reads by default (the path inside ``ROUTING_SOURCE``)."""
    try:
        scheme, rest = parse_source(settings.ROUTING_SOURCE)
    except SourceError as exc:
        raise CommandError(
            f"ROUTING_SOURCE is not usable ({exc.detail}); pass --out PATH."
        ) from None
    if scheme != "sqlite":
        raise CommandError(
            f"ROUTING_SOURCE is {settings.ROUTING_SOURCE!r}, not a SQLite file; "
            "pass --out PATH for the sample database."
        )
    return Path(rest)


class Command(BaseCommand):
    help = (
        "Write a synthetic plant database (SQLite) with the ERP export's three tables "
        "dbo_BI_ITEM_INFO_VIEW, dbo_BI_ROUTING_VIEW and dbo_BI_WORK_ORDER_RESULTS. "
        "With --style shopfloor, a machine-shop order log (SF_ORDERS, SF_ORDER_STEPS; read it "
        "with registry_app/pipeline/shopfloor_profile.json) instead. "
        "The same --items, --seed and --style always give the same data."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--items", type=int, required=True, help="number of items (1 … 5,000,000)"
        )
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument(
            "--out", help="SQLite file to write (default: the file in ROUTING_SOURCE)"
        )
        parser.add_argument("--force", action="store_true", help="replace an existing file")
        parser.add_argument(
            "--style",
            choices=STYLES,
            default="plant",
            help="plant (the ERP export, default) or shopfloor (a job shop's order log)",
        )

    def handle(self, *args, **options) -> None:
        items, seed = options["items"], options["seed"]
        if not 1 <= items <= MAX_ITEMS:
            raise CommandError(f"--items must be between 1 and {MAX_ITEMS:,}, not {items}.")
        if seed < 0:
            raise CommandError(f"--seed must be 0 or more, not {seed}.")
        out = Path(options["out"]).expanduser() if options["out"] else default_out()
        if out.is_dir():
            raise CommandError(
                f"{out} is a folder; --out needs a file name such as {out / 'plant.sqlite'}."
            )
        if out.exists() and not options["force"]:
            raise CommandError(f"{out} already exists; pass --force to replace it.")
        verbosity = options["verbosity"]
        last = [0.0]

        def progress(stage: str, fraction: float, message: str) -> None:
            now = time.perf_counter()
            if verbosity >= 2 or (verbosity == 1 and now - last[0] >= 2.0):
                last[0] = now
                self.stdout.write(f"  {fraction:4.0%} {stage}: {message}")

        try:
            counts = generate(
                out, items=items, seed=seed, progress=progress, style=options["style"]
            )
        except OSError as exc:
            raise CommandError(f"Cannot write {out}: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {out}: {counts['items']} items ({counts['routed_items']} with routings), "
                f"{counts['routings']} routings, {counts['operations']} operations, "
                f"{counts['work_results']} work results in {counts['seconds']:.1f} s (seed {seed})."
            )
        )
