"""planning cost flat in the number of parcels in flight (issue 17)

- notifications: one index on (shipment_id, status) in place of the one on shipment_id. The planner asks
  for a batch's planned and cancelled messages by shipment; with only (status, due_at) and shipment_id
  apart, PostgreSQL may read every planned message (about one per parcel in flight) and filter them.
- profile_changes: an index on shipment_id (the planner asks for the changes made through a parcel's link).
- shipments: fillfactor 80 on PostgreSQL, so that an ETA or status-time update finds room on its page and
  is a heap-only update: no new entry in each of the table's indexes, and far less WAL in the change's
  commit once the parcels in flight fill more pages than a checkpoint interval touches. It applies to
  pages written from now on; to repack a large existing table, run `VACUUM FULL shipments` (or
  pg_repack) in a quiet hour.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 13:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHIPMENTS_FILLFACTOR = 80


def upgrade() -> None:
    op.create_index('ix_notifications_shipment_id_status', 'notifications', ['shipment_id', 'status'])
    op.drop_index('ix_notifications_shipment_id', table_name='notifications')
    op.create_index('ix_profile_changes_shipment_id', 'profile_changes', ['shipment_id'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'ALTER TABLE shipments SET (fillfactor = {SHIPMENTS_FILLFACTOR})')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE shipments RESET (fillfactor)')
    op.drop_index('ix_profile_changes_shipment_id', table_name='profile_changes')
    op.create_index('ix_notifications_shipment_id', 'notifications', ['shipment_id'])
    op.drop_index('ix_notifications_shipment_id_status', table_name='notifications')
