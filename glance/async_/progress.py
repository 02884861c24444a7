"""How far an import's data copy has got, told on its task two ways.

* ``message``: while an import moves data (fetching it into staging,
  writing it to a store) its task's message reads ``Copied N MiB``, as the
  reference service writes it (``Progress``).  Each copy counts from zero;
  the message is written only when N has grown.
* ``result``: machine-readable progress (``record``/``counting``)::

      {"progress": {"stage": "fetch", "bytes_done": 5242880,
                    "bytes_total": 10485760}}

  ``stage`` is ``fetch`` (web-download, glance-download and copy-image
  bringing the data into staging) or ``write:STORE`` (``write:`` for the
  only store of a single-store deployment); ``bytes_total`` is null when
  the source does not say its size.  It is a single column update of a
  task still ``processing``, so it never races with the task's own
  status; when the task ends its result is the reference's.

Both are written at most once per ``[task] progress_interval`` seconds and
are best effort: a task that cannot be written to does not stop the copy.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable, Iterator

from oslo_config import cfg

from glance import gateway

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

progress_opts = [
    cfg.FloatOpt('progress_interval', default=5.0, min=0,
                 help='Least seconds between two progress records of an '
                      'import task while its data is copied: the message '
                      '("Copied N MiB", written only when another whole '
                      'MiB was copied) and the machine-readable progress '
                      'in its result.  0 records at every step.'),
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


def record(spec: Any, stage: str, done: int, total: int | None) -> None:
    """Write the progress of ``spec``'s task now."""
    result = {'progress': {'stage': stage, 'bytes_done': done,
                           'bytes_total': total}}
    try:
        gateway.get_internal_task_repo(spec.context).record_progress(
            spec.task_id, result)
    except Exception as exc:  # noqa: BLE001 - progress never fails an import
        LOG.warning('Progress of task %s not recorded: %s', spec.task_id,
                    exc)


def counting(chunks: Iterable[bytes], spec: Any, stage: str,
             total: int | None = None) -> Iterator[bytes]:
    """Pass ``chunks`` on, recording how many bytes went through."""
    interval = CONF.task.progress_interval
    done = 0
    last = time.monotonic()
    record(spec, stage, 0, total)
    for chunk in chunks:
        done += len(chunk)
        now = time.monotonic()
        if now - last >= interval:
            last = now
            record(spec, stage, done, total)
        yield chunk
    record(spec, stage, done, total)
