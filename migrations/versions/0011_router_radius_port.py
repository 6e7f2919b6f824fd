"""router radius port: where a router takes Disconnect and CoA requests (RFC 5176; RouterOS listens on 3799)

Revision ID: 0011_router_radius_port
Revises: 0010_radius_sessions
Create Date: 2026-12-01 23:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011_router_radius_port'
down_revision = '0010_radius_sessions'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('routers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('radius_incoming_port', sa.Integer(), nullable=False, server_default='3799'))


def downgrade():
    with op.batch_alter_table('routers', schema=None) as batch_op:
        batch_op.drop_column('radius_incoming_port')
