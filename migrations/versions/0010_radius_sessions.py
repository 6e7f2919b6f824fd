"""radius sessions: the radacct rollup's cursor, per-session last counters, voucher usage per day

Revision ID: 0010_radius_sessions
Revises: 0009_radius_settings
Create Date: 2026-12-01 23:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import isp.models.base  # noqa: F401  (custom column types used below)

# revision identifiers, used by Alembic.
revision = '0010_radius_sessions'
down_revision = '0009_radius_settings'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('radius_rollup_cursor',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('last_radacctid', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', isp.models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_radius_rollup_cursor'))
    )
    op.create_table('radius_session_counters',
    sa.Column('radacctid', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('voucher_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('open', sa.Boolean(), nullable=False),
    sa.Column('bytes_in', sa.BigInteger(), nullable=False),
    sa.Column('bytes_out', sa.BigInteger(), nullable=False),
    sa.Column('seconds', sa.BigInteger(), nullable=False),
    sa.Column('seen_at', isp.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'],
                            name=op.f('fk_radius_session_counters_subscription_id_subscriptions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'],
                            name=op.f('fk_radius_session_counters_voucher_id_vouchers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('radacctid', name=op.f('pk_radius_session_counters'))
    )
    with op.batch_alter_table('radius_session_counters', schema=None) as batch_op:
        batch_op.create_index('ix_radius_session_counters_open', ['open', 'radacctid'], unique=False)
        batch_op.create_index('ix_radius_session_counters_subscription', ['subscription_id'], unique=False)
        batch_op.create_index('ix_radius_session_counters_voucher', ['voucher_id'], unique=False)
    op.create_table('voucher_usage_daily',
    sa.Column('voucher_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('bytes_in', sa.BigInteger(), nullable=False),
    sa.Column('bytes_out', sa.BigInteger(), nullable=False),
    sa.Column('seconds', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], name=op.f('fk_voucher_usage_daily_voucher_id_vouchers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('voucher_id', 'day', name=op.f('pk_voucher_usage_daily'))
    )


def downgrade():
    op.drop_table('voucher_usage_daily')
    # Its indexes go with it (MySQL refuses to drop an index a foreign key needs while the table stays).
    op.drop_table('radius_session_counters')
    op.drop_table('radius_rollup_cursor')
