"""`flask backup …`: back up both databases into one checked archive, and restore one (docs/backups.md)."""
from __future__ import annotations

import os
import sqlite3

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from isp.extensions import db
from isp.services import audit
from isp.services import backup as service

backup_cli = AppGroup("backup", help="Back up and restore the databases (keep ISP_ENCRYPTION_KEY separately).")


def _fail(message: str) -> click.ClickException:
    db.session.rollback()
    return click.ClickException(message)


@backup_cli.command("create")
@click.option("--output", type=click.Path(file_okay=False), help="Folder for the archive (default: BACKUP_DIR).")
def create_command(output: str | None) -> None:
    """Back up the main and radius databases into a tar.gz with a manifest and checksums."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        path, manifest = service.create(app, output)
    except service.BackupError as err:
        raise _fail(f"backup failed: {err}") from None
    except (OSError, SQLAlchemyError, sqlite3.Error) as err:
        raise _fail(f"backup failed: {type(err).__name__}: {str(err).splitlines()[0][:300]}") from None
    click.echo(f"Backup written to {path}")
    try:
        with audit.source("cli"):
            audit.record(None, "backup.create", os.path.basename(path)[:128],
                         f"{manifest['dialect']}, {sum(sum(t.values()) for t in manifest['counts'].values())} rows")
        db.session.commit()
    except SQLAlchemyError:
        # The usual moment for a backup is just before `flask db upgrade`: new code, older tables.
        db.session.rollback()
        click.echo("  (no audit entry: the database's schema is older than this code; run `flask db upgrade`)", err=True)
    click.echo(f"  revisions {manifest['revisions']['main']} / {manifest['revisions']['radius']}, "
               f"{_summary(manifest['counts'])}")
    click.echo("  Keep ISP_ENCRYPTION_KEY separately: without it the restored passwords and secrets are unreadable.")


@backup_cli.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Replace a database that already holds data.")
def restore_command(archive: str, yes: bool) -> None:
    """Verify a backup archive, then replace both configured databases with it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        result = service.restore(app, archive, force=yes)
    except service.BackupError as err:
        raise _fail(f"restore refused: {err}") from None
    except (OSError, SQLAlchemyError, sqlite3.Error) as err:
        raise _fail(f"restore failed: {type(err).__name__}: {str(err).splitlines()[0][:300]}") from None
    manifest = result["manifest"]
    try:  # recorded in the restored database, after the restore
        with audit.source("cli"):
            audit.record(None, "backup.restore", os.path.basename(archive)[:128],
                         f"backup of {manifest['created_at']}" + (", upgraded" if result["upgraded"] else ""))
        db.session.commit()
    except SQLAlchemyError as err:
        raise _fail(f"restored, but the audit entry failed: {str(err).splitlines()[0][:300]}") from None
    click.echo(f"Restored {archive} (taken {manifest['created_at']}, app {manifest['app_version']})"
               + ("; schema upgraded to this version" if result["upgraded"] else ""))
    for role, rows in result["counts"].items():
        click.echo(f"  {role}: " + ", ".join(f"{t} {n}" for t, n in sorted(rows.items()) if n))
    ledger = result["ledger"]
    if ledger:
        click.echo(f"  ledger: {ledger['accounts']} accounts, {ledger['entries']} entries, "
                   f"balances {ledger['balance_sum']}, entries sum {ledger['entry_sum']}")


def _summary(table_counts: dict[str, dict[str, int]]) -> str:
    tables = sum(len(rows) for rows in table_counts.values())
    rows = sum(sum(r.values()) for r in table_counts.values())
    return f"{tables} tables, {rows} rows"
