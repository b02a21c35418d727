"""A live progress bar (rich) updated once per compiled chunk; a no-op when disabled."""
import contextlib
import sys
import time

import numpy as np

__all__ = ["progress_bar", "sampling_divergences"]


def sampling_divergences(infos, warmup):
    """Divergent transitions after warm-up in chunk infos (rows ``[n, chains]`` in order).

    Warm-up divergences are left out, as the verdict leaves them out: the step size is
    still being tuned then, and those transitions are discarded.
    """
    count, start = 0, 0
    for info in infos:
        rows = np.asarray(info["diverging"])
        count += int(rows[max(0, warmup - start):].sum())
        start += len(rows)
    return count


@contextlib.contextmanager
def progress_bar(total, warmup, enabled=True, description="NUTS"):
    """Yield ``update(done, divergences)``; shows phase, steps/s and divergences so far.

    ``divergences`` counts transitions after warm-up (as the verdict does); during warm-up
    the column reads "-" rather than a count the verdict would not repeat.
    """
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
        task = bar.add_task(f"{description} warm-up", total=total, rate="-", div="-")

        def update(done, divergences):
            now = time.perf_counter()
            if first_done[0] is None:
                # the first chunk includes compilation: rates start after it
                first_done[:] = [done, now]
                rate = "-"
            else:
                rate = f"{(done - first_done[0]) / max(now - first_done[1], 1e-9):.1f}"
            phase = "warm-up" if done < warmup else "sampling"
            bar.update(task, completed=done, rate=rate,
                       div=int(divergences) if done >= warmup else "-",
                       description=f"{description} {phase}")
        yield update
