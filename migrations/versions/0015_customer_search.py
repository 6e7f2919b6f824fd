"""customer search: the service-username search reads (username, customer_id) off one index on both dialects; the
'in debt' list walks (customer_id, balance) newest customer first without reading account rows

Revision ID: 0015_customer_search
Revises: 0014_monitoring
Create Date: 2026-12-02 02:40:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015_customer_search'
down_revision = '0014_monitoring'
branch_labels = None
depends_on = None

# SQLite: 0012 rebuilt `subscriptions` (batch mode), and the rebuild re-created 0007's expression index
# `username COLLATE NOCASE` as a plain `(username)`, which SQLite's case-blind LIKE cannot read as a range: every
# username search scanned the table (20-45 ms at 100,000 services). The index comes back in NOCASE order, with
# customer_id so that the search reads ids without touching the table. (A later batch rebuild of the table would
# lose the collation again: re-create it the same way.)
# MariaDB: the unique (username) index holds the service id, not the customer's: (username, customer_id) lets a
# broad prefix read thousands of customer ids off the index instead of one row each.
# Both: the customer list's 'in debt' filter walks the accounts newest customer first and keeps those below zero;
# (customer_id, balance) answers that from the index (a deep page at 100,000 customers read 12,000 account rows).


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP INDEX IF EXISTS ix_subscriptions_username_nocase')
        op.execute('CREATE INDEX ix_subscriptions_username_nocase ON subscriptions (username COLLATE NOCASE, customer_id)')
    else:
        op.create_index('ix_subscriptions_username_customer', 'subscriptions', ['username', 'customer_id'])
    op.create_index('ix_ledger_accounts_customer_balance', 'ledger_accounts', ['customer_id', 'balance'])


def downgrade():
    op.drop_index('ix_ledger_accounts_customer_balance', table_name='ledger_accounts')
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP INDEX IF EXISTS ix_subscriptions_username_nocase')
        op.execute('CREATE INDEX ix_subscriptions_username_nocase ON subscriptions (username COLLATE NOCASE)')
    else:
        op.drop_index('ix_subscriptions_username_customer', table_name='subscriptions')
