"""Measuring on a Dask cluster: partitions measured by workers through one shared ledger, a cluster-wide request cap.

``pip install 'humekit[dask]'`` (Dask's ``distributed`` scheduler). Importing :mod:`humekit` does not import
this package, nor Dask: ``humekit.measure_distributed`` loads it when first used.

- :mod:`~humekit.distributed.measuring`: :func:`measure_distributed`, one Dask task per partition;
- :mod:`~humekit.distributed.budget`: the cap on requests in flight, a ``distributed.Semaphore``;
- :mod:`~humekit.distributed.workers`: what each worker builds for itself (its backend; it reads its own key);
- :mod:`~humekit.distributed.parts`: each partition's results as its own part of the Parquet dataset;
- :mod:`~humekit.distributed.summary`: :class:`DistributedResult`, what the call returns.
"""

from humekit.distributed.budget import RequestBudget
from humekit.distributed.measuring import DEFAULT_MAX_IN_FLIGHT, measure_distributed
from humekit.distributed.summary import DistributedResult
from humekit.distributed.workers import BackendFactory

__all__ = ["BackendFactory", "DEFAULT_MAX_IN_FLIGHT", "DistributedResult", "RequestBudget", "measure_distributed"]
