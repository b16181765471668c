"""delays owned: goodwill for a broken delivery promise, at most once per shipment (issue 16)

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-02 09:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'goodwill_grants',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=True),
        sa.Column('slip_minutes', sa.Integer(), nullable=False),
        sa.Column('granted_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id']),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shipment_id'),
        sa.UniqueConstraint('code'),
    )
    op.create_index('ix_goodwill_grants_customer_id', 'goodwill_grants', ['customer_id'])
    op.create_index('ix_goodwill_grants_granted_at', 'goodwill_grants', ['granted_at'])


def downgrade() -> None:
    op.drop_index('ix_goodwill_grants_granted_at', table_name='goodwill_grants')
    op.drop_index('ix_goodwill_grants_customer_id', table_name='goodwill_grants')
    op.drop_table('goodwill_grants')
