"""Dask clusters for studies: a ``LocalCluster`` by default, or an existing scheduler.

Every worker gets :class:`TensorFlowSetup` (a ``distributed.WorkerPlugin``): it imports
TensorFlow once per worker process when the worker joins (~5 s, overlapping the other
workers' start) and sizes TF's thread pools to the worker's threads, so that ``n`` workers
of one thread each on ``n`` cores do not each start ``n`` intra-op threads.
"""
import os

from distributed import Client, LocalCluster, WorkerPlugin

__all__ = ["TensorFlowSetup", "connect"]


class TensorFlowSetup(WorkerPlugin):
    """Worker plugin: import TensorFlow and set its thread pools once per worker.

    Parameters
    ----------
    intra_op_threads, inter_op_threads : int, optional
        Default: the worker's own thread count (``nthreads``) for intra-op, 1 for inter-op.
    """

    name = "bayesquad-tensorflow-setup"
    idempotent = True

    def __init__(self, intra_op_threads=None, inter_op_threads=1):
        self.intra_op_threads = intra_op_threads
        self.inter_op_threads = inter_op_threads

    def setup(self, worker=None):
        """Called by the worker when the plugin is registered or the worker (re)starts."""
        intra = self.intra_op_threads or int(getattr(worker, "nthreads", 1) or 1)
        # before TF creates its thread pools: TF reads these when it first runs an op
        os.environ.setdefault("OMP_NUM_THREADS", str(intra))
        from bayesquad._tf import tf  # pylint: disable=import-outside-toplevel
        try:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
            tf.config.threading.set_inter_op_parallelism_threads(int(self.inter_op_threads))
        except RuntimeError:
            pass  # TF already ran an op in this process: its pools are fixed
        import arviz  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import



def connect(client=None, scheduler=None, n_workers=None):
    """``(client, owned)``: the given client, one connected to ``scheduler``, or a new
    ``LocalCluster`` (processes, one thread per worker, ``n_workers`` = cores by default).
    ``owned``: the caller must close the client and its cluster."""
    if client is not None and scheduler is not None:
        raise ValueError("pass client= or scheduler=, not both")
    owned = False
    if client is None:
        if scheduler is not None:
            if not isinstance(scheduler, str):
                raise TypeError(f"scheduler must be an address string such as "
                                f"'tcp://host:8786', got {type(scheduler).__name__}")
            client = Client(scheduler)
        else:
            n = (os.cpu_count() or 1) if n_workers is None else int(n_workers)
            if n < 1:
                raise ValueError(f"n_workers must be >= 1, got {n_workers}")
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                   dashboard_address=":0")
            client = Client(cluster)
        owned = True
    elif scheduler is not None or n_workers is not None:
        raise ValueError("n_workers/scheduler apply only without client=")
    client.register_plugin(TensorFlowSetup())
    return client, owned
