"""Many fits: simulation-based calibration and toy studies on a Dask cluster.

:func:`calibrate` runs hundreds to thousands of independent fits (parameters from the prior
for SBC, fixed for toys) as Dask tasks -- on a ``LocalCluster`` of the machine's cores by
default, or on an existing cluster (``client=``/``scheduler=``; dask-jobqueue for
SLURM/HTCondor) -- and writes each fit's record as it arrives, so a study resumes where it
stopped. :func:`load_study` reads the records as an ``xarray.Dataset`` and
:func:`rank_uniformity` tests its ranks. MAP studies fit their data sets in batches, many
per compiled program (:func:`bayesquad.inference.find_map_batch`).
"""

from bayesquad.calibration._cluster import TensorFlowSetup
from bayesquad.calibration._results import load_study, rank_uniformity
from bayesquad.calibration._study import BATCH_SIZE, DEFAULT_LEVELS, calibrate

__all__ = ["BATCH_SIZE", "DEFAULT_LEVELS", "TensorFlowSetup", "calibrate", "load_study",
           "rank_uniformity"]
