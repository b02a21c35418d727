"""A live progress bar (rich) updated once per compiled chunk; a no-op when disabled."""
import contextlib
import sys
import time

__all__ = ["progress_bar"]


@contextlib.contextmanager
def progress_bar(total, warmup, enabled=True, description="NUTS"):
    """Yield ``update(done, divergences)``; shows phase, steps/s and divergences so far."""
    if not enabled:
        yield lambda done, divergences: None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]:>7} it/s"),
               TextColumn("divergences {task.fields[div]}"), TimeElapsedColumn(),
               TimeRemainingColumn()]
    first_done = [None, None]
    with Progress(*columns, transient=False, console=Console(file=sys.stderr)) as bar:
        task = bar.add_task(f"{description} warm-up", total=total, rate="-", div=0)

        def update(done, divergences):
            now = time.perf_counter()
            if first_done[0] is None:
                # the first chunk includes compilation: rates start after it
                first_done[:] = [done, now]
                rate = "-"
            else:
                rate = f"{(done - first_done[0]) / max(now - first_done[1], 1e-9):.1f}"
            phase = "warm-up" if done < warmup else "sampling"
            bar.update(task, completed=done, rate=rate, div=int(divergences),
                       description=f"{description} {phase}")
        yield update
