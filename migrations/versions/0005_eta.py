"""ETA engine: log of the windows it set (issue 6)

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "eta_window_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("old_start", sa.DateTime(), nullable=True),
        sa.Column("old_end", sa.DateTime(), nullable=True),
        sa.Column("new_start", sa.DateTime(), nullable=False),
        sa.Column("new_end", sa.DateTime(), nullable=False),
        sa.Column("moved", sa.Boolean(), nullable=False),
        sa.Column("point_eta", sa.DateTime(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["route_id"], ["routes.id"]),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("eta_window_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_eta_window_changes_route_id"), ["route_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_eta_window_changes_shipment_id"), ["shipment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("eta_window_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eta_window_changes_shipment_id"))
        batch_op.drop_index(batch_op.f("ix_eta_window_changes_route_id"))
    op.drop_table("eta_window_changes")
