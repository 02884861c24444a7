"""What a project uses, in the units unified limits count in."""
from __future__ import annotations

import sqlalchemy as sa

from glance.db.sqlalchemy import models
from glance.db.sqlalchemy.engine import session_scope

MIB = 1024 * 1024
IMG = models.Image
#: statuses in which an image's data is on its way in
UPLOADING = ('saving', 'uploading', 'importing')
#: statuses in which staged data waits in the staging area
STAGED = ('uploading', 'importing')


def _mib(nbytes: int | None) -> int:
    return -(-(nbytes or 0) // MIB)         # round up: a byte uses a MiB


def project_usage(project_id: str, names: list[str]) -> dict[str, int]:
    """Current usage of ``project_id`` for each limit in ``names``."""
    live = (IMG.owner == project_id, IMG.deleted == sa.false())
    queries = {
        'image_count_total': sa.select(sa.func.count()).where(*live),
        'image_count_uploading': sa.select(sa.func.count()).where(
            *live, IMG.status.in_(UPLOADING)),
        'image_size_total': sa.select(sa.func.sum(IMG.size)).where(
            *live, IMG.status.notin_(STAGED)),
        'image_stage_total': sa.select(sa.func.sum(IMG.size)).where(
            *live, IMG.status.in_(STAGED)),
    }
    out = {}
    with session_scope(readonly=True) as session:
        for name in names:
            value = session.execute(queries[name].select_from(IMG)).scalar()
            out[name] = _mib(value) if name.startswith('image_s') \
                else int(value or 0)
    return out
