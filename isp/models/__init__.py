"""SQLAlchemy models, one module per aggregate; imported here so Alembic sees them all."""
from isp.models.audit import AuditEntry
from isp.models.user import Role, User

__all__ = ["AuditEntry", "Role", "User"]
