"""glance-status upgrade check: is this deployment ready for this code?

    glance-status [--config-file FILE] upgrade check

Exit status as oslo.upgradecheck defines: 0 every check passed, 1 a warning
(works, but look at it), 2 a failure (the upgrade will not work).
"""
from __future__ import annotations

import datetime
import sys

from oslo_config import cfg
from oslo_upgradecheck import common_checks
from oslo_upgradecheck import upgradecheck
import sqlalchemy as sa

CONF = cfg.CONF
Code = upgradecheck.Code
Result = upgradecheck.Result


class Checks(upgradecheck.UpgradeCommands):
    """The checks, in the order operators should fix what they report."""

    def _check_database(self) -> Result:
        """Reachable, and at the revision this code expects."""
        from glance.db import migration
        try:
            have, want = set(migration.current()), set(migration.heads())
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return Result(Code.FAILURE, 'database unreachable: %s'
                          % str(exc).splitlines()[0])
        if have != want:
            return Result(Code.FAILURE, 'database is at %s, the code '
                          'expects %s: run glance-manage db sync' % (
                              ', '.join(sorted(have)) or 'no revision',
                              ', '.join(sorted(want))))
        return Result(Code.SUCCESS)

    def _check_image_statuses(self) -> Result:
        """Images in a status this code has no transitions for."""
        from glance.db.sqlalchemy import engine
        from glance.domain import image
        missing = _no_images_table()
        if missing:
            return missing
        try:
            with engine.get_engine().connect() as conn:
                rows = conn.execute(sa.text(
                    'SELECT status, COUNT(*) FROM images GROUP BY status'
                )).all()
        except Exception as exc:  # noqa: BLE001
            return Result(Code.FAILURE, 'cannot read images: %s'
                          % str(exc).splitlines()[0])
        unknown = {s: n for s, n in rows if s not in image.STATUSES}
        if unknown:
            return Result(Code.FAILURE, 'images in unknown statuses: %s'
                          % ', '.join('%s (%d)' % kv
                                      for kv in sorted(unknown.items())))
        return Result(Code.SUCCESS)

    def _check_pending_delete(self) -> Result:
        """Deleted images whose data should have been scrubbed by now.

        Their data still fills the stores: either no glance-scrubber runs
        (cron, timer or --daemon), or it keeps failing on them (its log
        says why).
        """
        import glance.scrubber  # noqa: F401 - scrub_time, wakeup_time
        from glance.db import pending_delete
        grace = CONF.scrub_time + 2 * CONF.wakeup_time
        cutoff = datetime.datetime.now(datetime.timezone.utc).replace(
            tzinfo=None) - datetime.timedelta(seconds=grace)
        missing = _no_images_table()
        if missing:
            return missing
        try:
            overdue = pending_delete.due_images(cutoff)
        except Exception as exc:  # noqa: BLE001
            return Result(Code.FAILURE, 'cannot read images: %s'
                          % str(exc).splitlines()[0])
        if overdue:
            return Result(Code.WARNING, (
                '%d pending_delete image(s) waited more than scrub_time + '
                '2 x wakeup_time (%d s) and still hold data in the stores, '
                'e.g. %s: run glance-scrubber (and check its log)')
                % (len(overdue), grace, ', '.join(overdue[:3])))
        return Result(Code.SUCCESS)

    def _check_stores(self) -> Result:
        """The store configuration builds the stores the API would."""
        from glance import store as glance_store
        try:
            glance_store.create_stores(CONF)
        except Exception as exc:  # noqa: BLE001
            return Result(Code.FAILURE, 'store configuration invalid: %s'
                          % exc)
        return Result(Code.SUCCESS)

    def _check_jobboard(self) -> Result:
        """In distributed mode, the jobboard and taskflow's tables."""
        from glance.async_ import jobs
        if not jobs.distributed():
            return Result(Code.SUCCESS, 'imports run in-process')
        try:
            board = jobs.open_board(with_persistence=False)
            try:
                count = board.job_count
            finally:
                board.close()
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return Result(Code.FAILURE, 'jobboard %s unreachable: %s' % (
                CONF.jobboard.backend_url, str(exc).splitlines()[0]))
        try:
            jobs.check_persistence()
        except Exception as exc:  # noqa: BLE001
            return Result(Code.FAILURE, 'taskflow persistence not usable '
                          '(run glance-manage db sync): %s'
                          % str(exc).splitlines()[0])
        workers = len(list(jobs.iter_workers()))
        if not workers:
            return Result(Code.WARNING, 'jobboard reachable (%d jobs) but '
                          'no glance-worker is running' % count)
        return Result(Code.SUCCESS, 'jobboard reachable: %d jobs, %d '
                      'worker conductor(s)' % (count, workers))

    _upgrade_checks = (
        ('Database schema', _check_database),
        ('Image statuses', _check_image_statuses),
        ('Pending delete images', _check_pending_delete),
        ('Policy File JSON to YAML Migration',
         (common_checks.check_policy_json, {'conf': CONF})),
        ('Store configuration', _check_stores),
        ('Import jobboard', _check_jobboard),
    )


def _no_images_table() -> Result | None:
    """A failure when the images table cannot be read, else None."""
    from glance.db.sqlalchemy import engine
    try:
        with engine.get_engine().connect() as conn:
            if sa.inspect(conn).has_table('images'):
                return None
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return Result(Code.FAILURE, 'cannot read images: %s'
                      % str(exc).splitlines()[0])
    return Result(Code.FAILURE, 'no images table: run glance-manage db sync')


def main(argv: list[str] | None = None) -> int:
    import glance.common.startup  # noqa: F401 - registers every option
    from oslo_policy import opts as policy_opts
    policy_opts.set_defaults(CONF)
    if argv is not None:
        sys.argv[1:] = argv
    try:
        return upgradecheck.main(CONF, project='glance',
                                 upgrade_command=Checks())
    except Exception as exc:  # noqa: BLE001 - one line for operators
        print('glance-status: %s' % exc, file=sys.stderr)
        return 255


if __name__ == '__main__':
    sys.exit(main())
