"""the recipient profile: standing wishes per customer, their history, what each parcel got (issue 16)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 09:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'recipient_profiles',
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('safe_place', sa.Text(), nullable=True),
        sa.Column('neighbour', sa.Text(), nullable=True),
        sa.Column('suit_days', sa.JSON(), nullable=False),
        sa.Column('never_days', sa.JSON(), nullable=False),
        sa.Column('not_before', sa.Integer(), nullable=True),
        sa.Column('not_after', sa.Integer(), nullable=True),
        sa.Column('locker_code', sa.String(length=32), nullable=True),
        sa.Column('extra_door_minutes', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id']),
        sa.PrimaryKeyConstraint('customer_id'),
    )
    op.create_table(
        'profile_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('item', sa.String(length=32), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('old', sa.JSON(), nullable=False),
        sa.Column('new', sa.JSON(), nullable=False),
        sa.Column('by', sa.String(length=16), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('actor', sa.String(length=80), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id']),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_profile_changes_customer_id', 'profile_changes', ['customer_id'])
    op.create_table(
        'profile_applications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('item', sa.String(length=32), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id']),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shipment_id', 'item'),
    )
    op.create_index('ix_profile_applications_shipment_id', 'profile_applications', ['shipment_id'])
    op.create_index('ix_profile_applications_customer_id', 'profile_applications', ['customer_id'])


def downgrade() -> None:
    op.drop_table('profile_applications')
    op.drop_table('profile_changes')
    op.drop_table('recipient_profiles')
