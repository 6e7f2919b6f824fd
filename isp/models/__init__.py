"""SQLAlchemy models, one module per aggregate; imported here so Alembic sees them all."""
from isp.models.audit import AuditEntry
from isp.models.billing import Invoice, InvoiceKind, Payment, PaymentMethod
from isp.models.customer import Counter, Customer, CustomerEvent, CustomerStatus
from isp.models.ledger import AccountKind, EntryKind, LedgerAccount, LedgerEntry
from isp.models.monitoring import (
                                   Alert,
                                   AlertEvent,
                                   AlertKind,
                                   AlertRule,
                                   AlertScope,
                                   AlertSeverity,
                                   AlertState,
                                   InterfaceRollup,
                                   InterfaceSample,
                                   MaintenanceWindow,
                                   MonitorCursor,
                                   RouterInterface,
                                   RouterLogEntry,
                                   RouterRollup,
                                   RouterSample,
)
from isp.models.notification import Notification, NotificationChannel, NotificationState, NotificationTemplate
from isp.models.plan import HotspotPlan, plan_routers, reseller_plans
from isp.models.radius_usage import RadiusRollupCursor, RadiusSessionCounter, VoucherUsageDaily
from isp.models.router import CommandState, Priority, Router, RouterCommand, RouterMode
from isp.models.security import ApiToken, IdempotencyKey, RecoveryCode, TrustedDevice, UserSession
from isp.models.service_plan import PeriodUnit, ServiceKind, ServicePlan, service_plan_routers
from isp.models.settings import Branding
from isp.models.subscription import ServiceSession, Subscription, SubscriptionState, UsageDaily
from isp.models.user import Role, User
from isp.models.voucher import Voucher, VoucherBatch, VoucherEvent, VoucherMode, VoucherState

__all__ = ["Alert", "AlertEvent", "AlertKind", "AlertRule", "AlertScope", "AlertSeverity", "AlertState",
           "InterfaceRollup", "InterfaceSample", "MaintenanceWindow", "MonitorCursor", "RouterInterface", "RouterLogEntry",
           "RouterRollup", "RouterSample",
           "AccountKind", "ApiToken", "AuditEntry", "IdempotencyKey", "RecoveryCode", "TrustedDevice",
           "UserSession", "Branding", "CommandState", "Counter", "Customer", "CustomerEvent",
           "CustomerStatus", "EntryKind", "HotspotPlan", "Invoice", "InvoiceKind", "LedgerAccount", "LedgerEntry",
           "Notification", "NotificationChannel", "NotificationState", "NotificationTemplate", "Payment",
           "PaymentMethod", "PeriodUnit", "Priority", "RadiusRollupCursor", "RadiusSessionCounter", "Role", "Router",
           "RouterCommand", "RouterMode", "ServiceKind",
           "ServicePlan", "ServiceSession", "Subscription", "SubscriptionState", "UsageDaily", "User", "Voucher",
           "VoucherBatch", "VoucherEvent", "VoucherMode", "VoucherState", "VoucherUsageDaily", "plan_routers",
           "reseller_plans",
           "service_plan_routers"]
