"""Thin command: parse arguments, call `cases.dataset`."""

from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction

from cases.dataset import Loader, read_dataset


class Command(BaseCommand):
    help = (
        "Load a data set (document, recommendations, themes, evidence, first assessments) from a JSON file."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file", type=Path, help="The JSON data set, e.g. fixtures/ohchr-xinjiang-2022.json."
        )

    def handle(self, *args, file: Path, **options):
        warnings: list[str] = []
        with transaction.atomic():
            data = read_dataset(file)
            tally = Loader(data, warn=warnings.append).run()
        # Printed after the commit, so nothing suggests a load that was rolled back.
        for message in warnings:
            self.stderr.write(self.style.WARNING(message))
        self.stdout.write(self.style.SUCCESS(f"Loaded {file}: {tally.summary()}"))
