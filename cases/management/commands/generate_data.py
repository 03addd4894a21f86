"""Thin command: the generator lives beside the benchmark (`tests/perf/datagen.py`)."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from tests.perf.datagen import Generator, Progress

# The default number of people: one per six recommendations (50,000 at the README's 300,000).
PEOPLE_RATIO = 6


class Command(BaseCommand):
    help = (
        "Generate synthetic documents, recommendations, evidence and assessments at scale (for benchmarks)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--recommendations", type=int, required=True, help="How many recommendations.")
        parser.add_argument(
            "--seed", type=int, default=1, help="Random seed; the same seed gives the same data."
        )
        parser.add_argument(
            "--people",
            type=int,
            default=None,
            help="How many people (individual cases); default one per six recommendations.",
        )
        parser.add_argument(
            "--people-only",
            action="store_true",
            help="Only add people to a database this command filled earlier (its organisations and staff).",
        )

    def handle(self, *args, recommendations: int, seed: int, verbosity: int = 1, **options):
        people = options.get("people")
        people = recommendations // PEOPLE_RATIO if people is None else people
        if people < 0:
            raise CommandError("--people must be zero or positive.")
        if recommendations < 1:
            raise CommandError("--recommendations must be at least 1.")
        if seed < 0:
            raise CommandError("--seed must be zero or positive.")
        started = time.monotonic()
        progress = Progress(self.stderr, recommendations, enabled=verbosity > 0)
        vendor = connection.vendor
        # Synthetic data can be generated again: trade durability for speed while loading. SQLite refuses to
        # change the safety level inside a transaction (a caller's, as in the tests); then it stays as is.
        tuned = vendor == "sqlite" and not connection.in_atomic_block
        if tuned:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA synchronous=OFF")
                cursor.execute("PRAGMA cache_size=-262144")
                cursor.execute("PRAGMA temp_store=MEMORY")
        if options.get("people_only"):
            from tests.perf.datagen import ORGANISATIONS
            from tests.perf.people_datagen import PeopleGenerator

            counts = PeopleGenerator.for_generated_organisations(
                count=people, seed=seed, names=ORGANISATIONS
            ).run()
        else:
            generator = Generator(
                recommendations=recommendations, seed=seed, progress=progress, people=people
            )
            counts = generator.run()
        progress.finish()
        with connection.cursor() as cursor:
            if tuned:
                cursor.execute("PRAGMA synchronous=NORMAL")
            # Fresh statistics, so the query planner knows the tables' sizes (PostgreSQL's autovacuum would
            # get there too, later).
            if vendor in ("sqlite", "postgresql"):
                cursor.execute("ANALYZE")
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{value:,} {name.replace('_', ' ')}" for name, value in counts.items())
        self.stdout.write(
            f"Generated {summary} in {elapsed:.1f}s (seed {seed}, at {timezone.now():%Y-%m-%d %H:%M})."
        )
