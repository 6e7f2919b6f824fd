"""debt index: ledger_entries (account_id, id, balance_after, created_at) for the debt tab's age

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # The debt tab ages every customer in debt (billing_lists.since): the latest entry at zero or above, read
    # backwards by id, then the entries after it. With this index both are a short index-only read per account
    # instead of a scan of the account's whole history.
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_account_id_balance', ['account_id', 'id', 'balance_after', 'created_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_account_id_balance')
