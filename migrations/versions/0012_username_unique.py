"""username unique: a service username is unique across every kind (FreeRADIUS has one user namespace)

Revision ID: 0012_username_unique
Revises: 0011_router_radius_port
Create Date: 2026-12-02 00:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012_username_unique'
down_revision = '0011_router_radius_port'
branch_labels = None
depends_on = None


def upgrade():
    # The services refuse a clash since this release; rows written before it may still hold one. Say which, and stop
    # before changing anything: renaming a subscriber's login is the operator's call, not a migration's.
    clashes = op.get_bind().execute(sa.text(
        "SELECT username, COUNT(*) FROM subscriptions GROUP BY username HAVING COUNT(*) > 1 ORDER BY username")).all()
    if clashes:
        names = ", ".join(f"'{name}' ({count} services)" for name, count in clashes[:20])
        raise RuntimeError(f"These service usernames are used by more than one service (of different kinds): {names}. "
                           "Rename all but one of each (customer page, Edit service), then run the upgrade again.")
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_subscriptions_username', ['username'])
        batch_op.drop_constraint('uq_subscriptions_kind_username', type_='unique')
        batch_op.drop_index('ix_subscriptions_username')


def downgrade():
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_subscriptions_username', ['username'], unique=False)
        batch_op.create_unique_constraint('uq_subscriptions_kind_username', ['kind', 'username'])
        batch_op.drop_constraint('uq_subscriptions_username', type_='unique')
