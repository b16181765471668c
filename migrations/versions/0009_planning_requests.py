"""event-driven planning: the planning outbox, the workers' dead letters (issue 17)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 06:30:00
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# bot.notify.replan.REPLAN_NOW, stored naive UTC as every datetime is
REPLAN_NOW = datetime(1970, 1, 1)


def upgrade() -> None:
    op.create_table(
        'planning_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=64), nullable=False),
        sa.Column('due_at', sa.DateTime(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_planning_requests_shipment_id', 'planning_requests', ['shipment_id'])
    op.create_index('ix_planning_requests_due_at', 'planning_requests', ['due_at'])
    op.create_table(
        'failed_tasks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task', sa.String(length=80), nullable=False),
        sa.Column('task_id', sa.String(length=64), nullable=False),
        sa.Column('arguments', sa.JSON(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('failed_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('task_id'),
    )
    op.create_index('ix_failed_tasks_failed_at', 'failed_tasks', ['failed_at'])
    # The one-off full plan: every shipment whose messages can still change is planned once by the
    # workers after the upgrade (the scheduler no longer sweeps them all every pass).
    op.execute(sa.text(
        "INSERT INTO planning_requests (shipment_id, reason, due_at, created_at) "
        "SELECT id, 'migration', :due, :now FROM shipments WHERE status NOT IN ('delivered', 'returned')"
    ).bindparams(due=REPLAN_NOW, now=datetime.utcnow()))  # noqa: DTZ003 (naive UTC, as stored)


def downgrade() -> None:
    op.drop_index('ix_failed_tasks_failed_at', table_name='failed_tasks')
    op.drop_table('failed_tasks')
    op.drop_index('ix_planning_requests_due_at', table_name='planning_requests')
    op.drop_index('ix_planning_requests_shipment_id', table_name='planning_requests')
    op.drop_table('planning_requests')
