"""return label documents

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 12:00:11.651859
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label_document', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('label_format', sa.String(length=16), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.drop_column('label_format')
        batch_op.drop_column('label_document')

