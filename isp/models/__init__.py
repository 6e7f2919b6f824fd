"""SQLAlchemy models, one module per aggregate; imported here so Alembic sees them all."""
from isp.models.audit import AuditEntry
from isp.models.router import CommandState, Priority, Router, RouterCommand, RouterMode
from isp.models.user import Role, User

__all__ = ["AuditEntry", "CommandState", "Priority", "Role", "Router", "RouterCommand", "RouterMode", "User"]
