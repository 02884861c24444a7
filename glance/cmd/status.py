"""glance-status upgrade check: is this deployment ready for this code?

    glance-status [--config-file FILE] upgrade check

Exit status as oslo.upgradecheck defines: 0 every check passed, 1 a warning
(works, but look at it), 2 a failure (the upgrade will not work).
"""
from __future__ import annotations

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
        try:
            with engine.get_engine().connect() as conn:
                if not sa.inspect(conn).has_table('images'):
                    return Result(Code.FAILURE, 'no images table: run '
                                  'glance-manage db sync')
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

    def _check_stores(self) -> Result:
        """The store configuration builds the stores the API would."""
        import glance_store
        try:
            glance_store.create_stores(CONF)
        except Exception as exc:  # noqa: BLE001
            return Result(Code.FAILURE, 'store configuration invalid: %s'
                          % exc)
        return Result(Code.SUCCESS)

    _upgrade_checks = (
        ('Database schema', _check_database),
        ('Image statuses', _check_image_statuses),
        ('Policy File JSON to YAML Migration',
         (common_checks.check_policy_json, {'conf': CONF})),
        ('Store configuration', _check_stores),
    )


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
