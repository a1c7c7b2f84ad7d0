"""``coffer admin gc``: remove blobs no asset uses any more (see ``coffer.store.gc``)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from coffer.cli.context import CofferCliError, Target, data_target, opened
from coffer.settings import DEFAULT_GC_GRACE
from coffer.store.blobs import FileBlobStore
from coffer.store.gc import GcResult, collect_garbage


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(result: GcResult, grace: float) -> str:
    verb = "would remove" if result.dry_run else "removed"
    line = (
        f"{verb} {_plural(result.removed, 'unreferenced blob')} ({result.removed_bytes} bytes); "
        f"kept {result.in_use} in use and {result.young} younger than {grace:g} s"
    )
    if not result.dry_run:
        line += f"; swept {_plural(result.swept, 'stale temporary file')}"
    return line


@click.command("gc")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=DEFAULT_GC_GRACE,
    show_default=True,
    help="Keep unreferenced blobs written less than this many seconds ago (an upload may be about to commit).",
)
@click.option("--dry-run", is_flag=True, help="Count what would be removed, remove nothing (works read-only).")
@data_target(None)
def gc(target: Target, grace: float, dry_run: bool) -> None:
    """Remove blobs no package version uses any more (deleted versions, refused or interrupted uploads), once they
    are older than --grace, and temporary files no running upload holds. Safe while servers run."""
    with opened(target.settings, read_only_ok=dry_run) as o:
        blobs = o.boot.blobs
        if not isinstance(blobs, FileBlobStore):
            raise CofferCliError("this blob store cannot be collected")
        console = Console(stderr=True)
        with Progress(
            SpinnerColumn(),
            TextColumn("collecting blobs"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as bar:
            task = bar.add_task("gc", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = collect_garbage(blobs, o.boot.store, grace=grace, dry_run=dry_run, progress=progress)
    click.echo(summary(result, grace))
