"""image members: one row per (image, member), unique for real

Revision ID: 2026_12_members
Revises: 2026_11_cache
Create Date: 2026-12-04 13:50:00

The old unique key was (image_id, member, deleted_at).  A live membership
has deleted_at NULL, and NULLs never compare equal, so the key let two
concurrent adds of the same member both insert a live row; the member
could then never be updated or removed.  Now (image_id, member) is unique
and a removed membership's row is brought back when the project is added
again.  Duplicate rows left by the old key are folded first: per pair the
oldest live row is kept, or else the newest removed one.
"""
from alembic import op
import sqlalchemy as sa


revision = '2026_12_members'
down_revision = '2026_11_cache'
branch_labels = None
depends_on = None

OLD = 'image_members_image_id_member_deleted_at_key'
NEW = 'uq_image_members_image_id_member'

_MEMBERS = sa.table('image_members', sa.column('id', sa.Integer),
                    sa.column('image_id', sa.String),
                    sa.column('member', sa.String),
                    sa.column('deleted', sa.Boolean))


def _redundant_ids(conn) -> list[int]:
    """Ids of every row but the one kept for its (image, member) pair."""
    kept: dict[tuple[str, str], tuple[bool, int]] = {}
    drop = []
    rows = conn.execute(sa.select(_MEMBERS.c.id, _MEMBERS.c.image_id,
                                  _MEMBERS.c.member, _MEMBERS.c.deleted)
                        .order_by(_MEMBERS.c.id))
    for row_id, image_id, member, deleted in rows:
        key = (image_id, member)
        best = kept.get(key)
        if best is None:
            kept[key] = (bool(deleted), row_id)
            continue
        best_deleted, best_id = best
        # a live row beats a removed one; among removed ones the newest
        if best_deleted and (not deleted or row_id > best_id):
            drop.append(best_id)
            kept[key] = (bool(deleted), row_id)
        else:
            drop.append(row_id)
    return drop


def upgrade() -> None:
    conn = op.get_bind()
    drop = _redundant_ids(conn)
    for start in range(0, len(drop), 500):
        conn.execute(sa.delete(_MEMBERS).where(
            _MEMBERS.c.id.in_(drop[start:start + 500])))
    with op.batch_alter_table('image_members') as batch:
        batch.drop_constraint(OLD, type_='unique')
        batch.create_unique_constraint(NEW, ['image_id', 'member'])


def downgrade() -> None:
    with op.batch_alter_table('image_members') as batch:
        batch.drop_constraint(NEW, type_='unique')
        batch.create_unique_constraint(OLD,
                                       ['image_id', 'member', 'deleted_at'])
