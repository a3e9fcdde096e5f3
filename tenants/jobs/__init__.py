"""Background jobs: the registry (registry.py), the outbox (outbox.py) and the RQ worker.

``tenants.jobs.run_queued_job`` stays importable for one release: jobs queued in Redis before
the registry came name this dotted path. Drop it once no such job can be left.
"""

from tenants.jobs.outbox import run_queued_job

__all__ = ["run_queued_job"]
