"""Import another product's web analytics exports into a tenant's daily aggregates."""

import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.management.arguments import TENANT_HELP, tenant_argument
from webimports.importer import ImportBusy, run_import
from webimports.models import WebImport
from webimports.readers import ExportError
from webimports.serializers import WebImportSerializer
from webimports.uploads import uploads_of_paths


class Command(BaseCommand):
    help = (
        "Import Plausible's CSV export (the imported_*.csv files or their zip), Umami's "
        "website_event.csv or Google Analytics reports exported as CSV into a tenant's "
        "web stats, with a progress bar, and print the receipt. Days on or after the "
        "tenant's first native page view, or already imported, are left out."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help=TENANT_HELP)
        parser.add_argument("--source", required=True, choices=WebImport.Source.values)
        parser.add_argument("files", nargs="+", help="CSV files or zips of them.")
        parser.add_argument("--json", action="store_true", help="Print the receipt as JSON.")

    def handle(self, *args, tenant, source, files, **options):
        found = tenant_argument(tenant)
        try:
            uploads = uploads_of_paths(files)
        except (OSError, ExportError) as exc:
            raise CommandError(str(exc)) from None
        bar = tqdm(
            total=sum(upload.size for upload in uploads),
            unit="B",
            unit_scale=True,
            desc=f"Importing {source}",
            file=self.stderr._out,  # the stream itself: the wrapper would add newlines
            disable=options["verbosity"] == 0,
        )
        try:
            with bar:
                receipt = run_import(found, source, uploads, progress=bar.update)
        except (ExportError, ImportBusy) as exc:
            raise CommandError(str(exc)) from None
        data = WebImportSerializer(receipt).data
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2, default=str))
            return
        skipped = ", ".join(f"{n:,} {reason}" for reason, n in receipt.rows_skipped.items())
        days = "no days"
        if receipt.start_date is not None:
            days = f"days {receipt.start_date} to {receipt.end_date}"
        self.stdout.write(
            f"Import {receipt.pk}: {receipt.rows_imported:,} of {receipt.rows_read:,} rows "
            f"imported ({skipped or 'none skipped'}), {days}."
        )
        for error in receipt.errors:
            self.stdout.write(f"  {error['file']}, line {error['line']}: {error['message']}")
