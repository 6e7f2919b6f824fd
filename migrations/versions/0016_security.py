"""security: second factor (recovery codes, trusted devices), server-side sessions, API tokens and idempotency
keys, a readable audit trail (changes, ip, via, target), and the security settings (2FA required, IP allow-lists)

Revision ID: 0016_security
Revises: 0015_customer_search
Create Date: 2026-12-02 06:03:28.120518

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

import isp.models.base  # noqa: F401  (custom column types used below)


# revision identifiers, used by Alembic.
revision = '0016_security'
down_revision = '0015_customer_search'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.String(length=200), nullable=False),
    sa.Column('created_at', isp.models.base.UTCDateTime(), nullable=False),
    sa.Column('expires_at', isp.models.base.UTCDateTime(), nullable=True),
    sa.Column('last_used_at', isp.models.base.UTCDateTime(), nullable=True),
    sa.Column('last_used_ip', sa.String(length=45), nullable=False),
    sa.Column('revoked_at', isp.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', isp.models.base.UTCDateTime(), nullable=False),
    sa.Column('used_at', isp.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes'))
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_user_id'), ['user_id'], unique=False)

    op.create_table('trusted_devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=False, server_default=''),
    sa.Column('created_at', isp.models.base.UTCDateTime(), nullable=False),
    sa.Column('expires_at', isp.models.base.UTCDateTime(), nullable=False),
    sa.Column('last_used_at', isp.models.base.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', isp.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_trusted_devices_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trusted_devices')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_trusted_devices_token_hash'))
    )
    with op.batch_alter_table('trusted_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trusted_devices_user_id'), ['user_id'], unique=False)

    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', isp.models.base.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', isp.models.base.UTCDateTime(), nullable=False),
    sa.Column('expires_at', isp.models.base.UTCDateTime(), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=False, server_default=''),
    sa.Column('user_agent', sa.String(length=255), nullable=False),
    sa.Column('two_factor', sa.Boolean(), nullable=False),
    sa.Column('ended_at', isp.models.base.UTCDateTime(), nullable=True),
    sa.Column('ended_reason', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('public_id', name=op.f('uq_user_sessions_public_id'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_user_sessions_user_ended', ['user_id', 'ended_at'], unique=False)

    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=128).with_variant(mysql.VARCHAR(128, collation='utf8mb4_bin'), 'mysql', 'mariadb'), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response_body', sa.Text(), nullable=False),
    sa.Column('created_at', isp.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_idempotency_keys_token_id_api_tokens'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('token_id', 'key', name='uq_idempotency_keys_token_key')
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_keys_created_at'), ['created_at'], unique=False)

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('changes', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('ip', sa.String(length=45), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('via', sa.String(length=8), nullable=False, server_default='web'))
        batch_op.add_column(sa.Column('target_type', sa.String(length=32), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('target_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_audit_log_target', ['target_type', 'target_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_via'), ['via'], unique=False)

    with op.batch_alter_table('branding', schema=None) as batch_op:
        batch_op.add_column(sa.Column('require_2fa_admin', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('require_2fa_operator', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('remember_device_days', sa.Integer(), nullable=False, server_default='30'))
        batch_op.add_column(sa.Column('allow_cidrs_admin', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('allow_cidrs_operator', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('allow_cidrs_reseller', sa.Text(), nullable=False, server_default=''))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled_at', isp.models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_enabled_at')
        batch_op.drop_column('totp_secret')

    with op.batch_alter_table('branding', schema=None) as batch_op:
        batch_op.drop_column('allow_cidrs_reseller')
        batch_op.drop_column('allow_cidrs_operator')
        batch_op.drop_column('allow_cidrs_admin')
        batch_op.drop_column('remember_device_days')
        batch_op.drop_column('require_2fa_operator')
        batch_op.drop_column('require_2fa_admin')

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_via'))
        batch_op.drop_index('ix_audit_log_target')
        batch_op.drop_column('target_id')
        batch_op.drop_column('target_type')
        batch_op.drop_column('via')
        batch_op.drop_column('ip')
        batch_op.drop_column('changes')

    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_keys_created_at'))

    op.drop_table('idempotency_keys')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_user_sessions_user_ended')

    op.drop_table('user_sessions')
    with op.batch_alter_table('trusted_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trusted_devices_user_id'))

    op.drop_table('trusted_devices')
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_user_id'))

    op.drop_table('recovery_codes')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
