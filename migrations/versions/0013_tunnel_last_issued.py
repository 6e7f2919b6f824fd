"""tunnel last issued: allocation goes on after the last tunnel address handed out, so a freed one is not reused at once

Revision ID: 0013_tunnel_last_issued
Revises: 0012_username_unique
Create Date: 2026-12-02 00:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013_tunnel_last_issued'
down_revision = '0012_username_unique'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('branding', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tunnel_last_issued', sa.String(length=45), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('branding', schema=None) as batch_op:
        batch_op.drop_column('tunnel_last_issued')
