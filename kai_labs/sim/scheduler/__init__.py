"""The default scheduler (kube-scheduler's outcome, not its code): see :mod:`.scheduler`."""

from .scheduler import Scheduler

__all__ = ["Scheduler"]
