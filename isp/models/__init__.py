"""SQLAlchemy models, one module per aggregate; imported here so Alembic sees them all."""
from isp.models.audit import AuditEntry
from isp.models.ledger import AccountKind, EntryKind, LedgerAccount, LedgerEntry
from isp.models.plan import HotspotPlan, plan_routers, reseller_plans
from isp.models.router import CommandState, Priority, Router, RouterCommand, RouterMode
from isp.models.settings import Branding
from isp.models.user import Role, User
from isp.models.voucher import Voucher, VoucherBatch, VoucherEvent, VoucherMode, VoucherState

__all__ = ["AccountKind", "AuditEntry", "Branding", "CommandState", "EntryKind", "HotspotPlan", "LedgerAccount",
           "LedgerEntry", "Priority", "Role", "Router", "RouterCommand", "RouterMode", "User", "Voucher", "VoucherBatch",
           "VoucherEvent", "VoucherMode", "VoucherState", "plan_routers", "reseller_plans"]
