"""away from home: holds over all of a customer's parcels, and what happened to each (issue 16, item 2)

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-02 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'holds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('mode', sa.String(length=16), nullable=False),
        sa.Column('locker_id', sa.Integer(), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('language', sa.String(length=10), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id']),
        sa.ForeignKeyConstraint(['locker_id'], ['lockers.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_holds_customer_id', 'holds', ['customer_id'])
    op.create_table(
        'hold_parcels',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hold_id', sa.Integer(), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('new_parcel', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['hold_id'], ['holds.id']),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('hold_id', 'shipment_id'),
    )
    op.create_index('ix_hold_parcels_hold_id', 'hold_parcels', ['hold_id'])
    op.create_index('ix_hold_parcels_shipment_id', 'hold_parcels', ['shipment_id'])


def downgrade() -> None:
    op.drop_index('ix_hold_parcels_shipment_id', table_name='hold_parcels')
    op.drop_index('ix_hold_parcels_hold_id', table_name='hold_parcels')
    op.drop_table('hold_parcels')
    op.drop_index('ix_holds_customer_id', table_name='holds')
    op.drop_table('holds')
