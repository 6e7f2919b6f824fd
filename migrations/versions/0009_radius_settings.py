"""radius settings: what a suspension and a plan edit do on radius-mode routers

Revision ID: 0009_radius_settings
Revises: 0008_router_onboarding
Create Date: 2026-12-01 23:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009_radius_settings'
down_revision = '0008_router_onboarding'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('branding', schema=None) as batch_op:
        batch_op.add_column(sa.Column('radius_suspend_action', sa.String(length=16), nullable=False, server_default='reject'))
        batch_op.add_column(sa.Column('radius_plan_change_action', sa.String(length=16), nullable=False, server_default='coa'))


def downgrade():
    with op.batch_alter_table('branding', schema=None) as batch_op:
        batch_op.drop_column('radius_plan_change_action')
        batch_op.drop_column('radius_suspend_action')
