"""after delivery: proof of delivery and claims (issue 15)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 02:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'delivery_proofs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('carrier', sa.String(length=32), nullable=False),
        sa.Column('delivered_at', sa.DateTime(), nullable=False),
        sa.Column('place', sa.String(length=24), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('neighbour', sa.String(length=120), nullable=True),
        sa.Column('lat', sa.Float(), nullable=True),
        sa.Column('lng', sa.Float(), nullable=True),
        sa.Column('distance_m', sa.Integer(), nullable=True),
        sa.Column('photo', sa.Text(), nullable=True),
        sa.Column('photo_format', sa.String(length=16), nullable=True),
        sa.Column('driver_id', sa.Integer(), nullable=True),
        sa.Column('depot_id', sa.Integer(), nullable=True),
        sa.Column('instructions_in_force', sa.Text(), nullable=True),
        sa.Column('compliance', sa.String(length=16), nullable=False),
        sa.Column('compliance_reasons', sa.JSON(), nullable=False),
        sa.Column('customer_asked_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id']),
        sa.ForeignKeyConstraint(['driver_id'], ['drivers.id']),
        sa.ForeignKeyConstraint(['depot_id'], ['depots.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_delivery_proofs_shipment_id', 'delivery_proofs', ['shipment_id'], unique=True)
    op.create_table(
        'claims',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=16), nullable=False),
        sa.Column('shipment_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('sender_id', sa.String(length=200), nullable=True),
        sa.Column('evidence', sa.JSON(), nullable=False),
        sa.Column('reports', sa.JSON(), nullable=False),
        sa.Column('opened_at', sa.DateTime(), nullable=False),
        sa.Column('due_by', sa.DateTime(), nullable=False),
        sa.Column('resolution', sa.String(length=24), nullable=True),
        sa.Column('resolution_note', sa.Text(), nullable=True),
        sa.Column('resolved_at', sa.DateTime(), nullable=True),
        sa.Column('resolved_by', sa.Integer(), nullable=True),
        sa.Column('carrier_claim_id', sa.String(length=80), nullable=True),
        sa.Column('customer_told_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id']),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id']),
        sa.ForeignKeyConstraint(['resolved_by'], ['agents.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_claims_reference', 'claims', ['reference'], unique=True)
    op.create_index('ix_claims_shipment_id', 'claims', ['shipment_id'], unique=True)
    op.create_index('ix_claims_customer_id', 'claims', ['customer_id'], unique=False)
    op.create_index('ix_claims_status', 'claims', ['status'], unique=False)


def downgrade() -> None:
    op.drop_table('claims')
    op.drop_table('delivery_proofs')
