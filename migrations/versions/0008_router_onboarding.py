"""router onboarding: tunnel address (unique), WireGuard key pair, RADIUS secret; the WireGuard hub settings

Revision ID: 0008_router_onboarding
Revises: 0007
Create Date: 2026-12-01 22:45:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_router_onboarding'
down_revision = '0007'
branch_labels = None
depends_on = None

HUB_COLUMNS = (
    ('hub_endpoint', 262, ''), ('hub_public_key', 64, ''), ('hub_tunnel_address', 45, '10.100.0.1'),
    ('tunnel_range', 49, '10.100.0.0/16'), ('tunnel_reserved', 1000, ''), ('radius_server_address', 45, ''),
    ('panel_address', 45, ''),
)


def upgrade():
    with op.batch_alter_table('routers', schema=None) as batch_op:
        # The unique constraint is what keeps two concurrent onboardings from taking one address.
        batch_op.add_column(sa.Column('tunnel_address', sa.String(length=45), nullable=True))
        # TEXT takes no literal default on MySQL (error 1101; MariaDB allows it): added nullable, filled, then NOT NULL.
        batch_op.add_column(sa.Column('wg_private_key_encrypted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('wg_public_key', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('radius_secret_encrypted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('api_user_generated', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_unique_constraint(batch_op.f('uq_routers_tunnel_address'), ['tunnel_address'])
    op.execute("UPDATE routers SET wg_private_key_encrypted = '', radius_secret_encrypted = ''")
    with op.batch_alter_table('routers', schema=None) as batch_op:
        batch_op.alter_column('wg_private_key_encrypted', existing_type=sa.Text(), nullable=False)
        batch_op.alter_column('radius_secret_encrypted', existing_type=sa.Text(), nullable=False)

    with op.batch_alter_table('branding', schema=None) as batch_op:
        for name, length, default in HUB_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=False, server_default=default))


def downgrade():
    with op.batch_alter_table('branding', schema=None) as batch_op:
        for name, _length, _default in reversed(HUB_COLUMNS):
            batch_op.drop_column(name)

    with op.batch_alter_table('routers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_routers_tunnel_address'), type_='unique')
        for name in ('api_user_generated', 'radius_secret_encrypted', 'wg_public_key', 'wg_private_key_encrypted',
                     'tunnel_address'):
            batch_op.drop_column(name)
