"""How far an import's data copy has got, told on its task.

While an import moves data (fetching it into staging, writing it to a
store) its task's ``message`` reads ``Copied N MiB``, as the reference
service writes it, so ``GET /v2/tasks/{id}`` shows a long import moving.
Each copy counts from zero.  The message is written at most once per
``[task] progress_interval`` seconds and only when N has grown, so a
fast copy costs a handful of task writes, not one per chunk.  Reporting
is best effort: a task that cannot be written to does not stop the copy.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Iterable, Iterator

from oslo_config import cfg

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

progress_opts = [
    cfg.IntOpt('progress_interval', default=5, min=0,
               help='Least seconds between two writes of an import task\'s '
                    'progress message ("Copied N MiB") while its data is '
                    'copied; it is written only when another whole MiB '
                    'was copied.  0 writes it at every new MiB.'),
]
CONF.register_opts(progress_opts, group='task')

MiB = 1024 * 1024


def message(copied: int) -> str:
    """The progress message for ``copied`` bytes, in whole MiB."""
    return 'Copied %d MiB' % (copied // MiB)


class Progress:
    """Counts the bytes of a copy and reports them through ``report``
    (which stores the message on the task); without one, only counts."""

    def __init__(self, report: Callable[[str], None] | None = None):
        self.report = report

    def counting(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """``chunks`` unchanged, reporting progress as they are consumed
        (a chunk counts once whoever consumes it has taken it)."""
        copied = told = 0
        last = None
        for chunk in chunks:
            yield chunk
            copied += len(chunk)
            if self.report is None or copied // MiB <= told // MiB:
                continue
            now = time.monotonic()
            if last is not None and \
                    now - last < CONF.task.progress_interval:
                continue
            self._tell(copied)
            told, last = copied, now

    def _tell(self, copied: int) -> None:
        try:
            self.report(message(copied))
        except Exception as exc:  # noqa: BLE001 - progress is best effort
            LOG.warning('Import progress (%s) not recorded on the task: '
                        '%s', message(copied), exc)
