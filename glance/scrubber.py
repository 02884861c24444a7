"""Delayed delete: remove the data of pending_delete images (glance-scrubber).

With ``delayed_delete`` on, glance-api answers DELETE by marking the image
pending_delete and leaves its data in the stores.  The scrubber removes that
data once the image has waited ``scrub_time`` seconds, then marks the
locations and the image deleted.  The order of the steps and why a run can
be killed at any moment are in ``glance.db.pending_delete``.

Images are scrubbed ``scrub_pool_size`` at a time; one image's locations are
removed in order by the worker that took it.
"""
from __future__ import annotations

from concurrent import futures
import dataclasses
import datetime
import logging
import threading

from oslo_config import cfg

from glance.db import pending_delete
from glance.layers import location_orphans

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

scrubber_opts = [
    cfg.IntOpt('scrub_time', default=0, min=0,
               help='Seconds a pending_delete image waits before the '
                    'scrubber removes its data.  While it waits an operator '
                    'can restore it (glance-scrubber --restore IMAGE_ID); '
                    'its data keeps using store space meanwhile.  0 makes '
                    'every pending_delete image due at the next run.'),
    cfg.IntOpt('scrub_pool_size', default=1, min=1,
               help='Images whose data the scrubber removes at the same '
                    'time.  Raise it when the stores delete slowly and can '
                    'take parallel deletes.'),
    cfg.IntOpt('wakeup_time', default=300, min=0,
               help='Seconds between two runs of glance-scrubber --daemon.  '
                    'An image is scrubbed at most scrub_time + wakeup_time '
                    'seconds after its delete.'),
]

cli_opts = [
    cfg.BoolOpt('daemon', short='D', default=False,
                help='Run until stopped, scrubbing every wakeup_time '
                     'seconds.  Without it the scrubber runs once and '
                     'exits (for cron or a systemd timer).'),
    cfg.StrOpt('restore', metavar='IMAGE_ID',
               help='Bring the pending_delete image IMAGE_ID back to active '
                    'with its data and locations, then exit.  Refused once '
                    'the scrubber has begun removing its data, and together '
                    'with --daemon.'),
]

CONF.register_opts(scrubber_opts)


@dataclasses.dataclass
class Report:
    """What one run did, for the operator and for tests."""

    images: int = 0          # images found due
    scrubbed: int = 0        # images now deleted, data gone everywhere
    locations: int = 0       # locations whose data this run removed
    already_gone: int = 0    # locations whose data was already missing
    failed: int = 0          # images left pending_delete, retried next run
    skipped: int = 0         # restored or finished by someone else meanwhile

    def add(self, other: 'Report') -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) +
                    getattr(other, field.name))


def scrub_image(image_id: str) -> Report:
    """Remove every location's data of one image, then mark it deleted."""
    report = Report(images=1)
    for location in pending_delete.pending_locations(image_id):
        if not pending_delete.claim_location(location):
            LOG.info('Image %s is no longer pending_delete (restored?); '
                     'its data is left in place', image_id)
            report.skipped = 1
            return report
        try:
            # Store errors other than NotFound propagate: the location
            # stays claimed and the next run tries again.
            gone = location_orphans.delete_data(location.url, location.store)
        except Exception as exc:  # noqa: BLE001 - one image, not the run
            LOG.error('Could not delete the data of image %s at %s: %s; the '
                      'image stays pending_delete and the next run tries '
                      'again (check the store)', image_id, location.url, exc)
            report.failed = 1
            return report
        if gone:
            LOG.warning('Data of image %s at %s was already gone; marking '
                        'the location deleted', image_id, location.url)
            report.already_gone += 1
        else:
            report.locations += 1
        pending_delete.finish_location(location)
    if pending_delete.finish_image(image_id):
        LOG.info('Scrubbed image %s: its data is gone from every location '
                 'and the image is deleted', image_id)
        report.scrubbed = 1
    else:
        report.skipped = 1
    return report


def run_once() -> Report:
    """Scrub every pending_delete image older than ``scrub_time``."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    cutoff = now - datetime.timedelta(seconds=CONF.scrub_time)
    image_ids = pending_delete.due_images(cutoff)
    total = Report()
    if not image_ids:
        LOG.debug('No pending_delete image is due for scrubbing')
        return total
    LOG.info('Scrubbing %d pending_delete image(s) with %d worker(s)',
             len(image_ids), CONF.scrub_pool_size)
    with futures.ThreadPoolExecutor(CONF.scrub_pool_size) as pool:
        jobs = {pool.submit(scrub_image, i): i for i in image_ids}
        for job in futures.as_completed(jobs):
            try:
                total.add(job.result())
            except Exception as exc:  # noqa: BLE001 - e.g. database away
                LOG.error('Scrubbing image %s failed: %s; it stays '
                          'pending_delete for the next run', jobs[job], exc)
                total.add(Report(images=1, failed=1))
    LOG.info('Scrub run done: %d image(s) scrubbed, %d location(s) '
             'removed, %d already gone, %d failed, %d skipped',
             total.scrubbed, total.locations, total.already_gone,
             total.failed, total.skipped)
    return total


def run_forever(stop: threading.Event) -> None:
    """Run every ``wakeup_time`` seconds until ``stop`` is set.

    A failed run (database unreachable, say) is logged and retried at the
    next wake-up rather than ending the daemon.
    """
    LOG.info('glance-scrubber daemon started: a run every %d s, images '
             'older than %d s', CONF.wakeup_time, CONF.scrub_time)
    while not stop.is_set():
        try:
            run_once()
        except Exception as exc:  # noqa: BLE001 - keep the daemon alive
            LOG.error('Scrub run failed: %s; retrying in %d s', exc,
                      CONF.wakeup_time)
        stop.wait(CONF.wakeup_time)
    LOG.info('glance-scrubber daemon stopped')


def restore(image_id: str) -> int:
    """pending_delete -> active; the number of locations brought back."""
    count = pending_delete.restore(image_id, status='active')
    LOG.info('Restored image %s to active with %d location(s)', image_id,
             count)
    return count
