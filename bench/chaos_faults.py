"""The faults the chaos bench injects, each on the bench's own processes and stores only.

- router: a router's connections cut mid-batch (listener down for a moment, or replies cut half way);
- redis: FLUSHALL on the bench's own embedded Redis (never a shared one: the bench refuses REDIS_URL);
- worker: SIGKILL of a worker's process group (the worker and its scheduler child), then a new worker;
- database: on MariaDB, KILL CONNECTION of every connection to the bench's own database (a server restart as
  the app sees it: every pooled connection dies; the machine's MariaDB itself is never restarted); not on SQLite;
- radius: the FreeRADIUS table refuses writes (a trigger on radcheck) while a radius-mode batch is generated.
"""
from __future__ import annotations

import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import chaos_work


@dataclass
class Fault:
    """One injected fault: when, what, and what the bench saw right then."""

    at: datetime
    kind: str
    detail: str


@dataclass
class Injector:
    """Injects faults in turn (every kind that applies, in a shuffled order, again and again)."""

    harness: object
    fleet: object
    world: chaos_work.World
    rng: random.Random
    mysql: bool
    log: list[Fault] = field(default_factory=list)
    _order: list[str] = field(default_factory=list)
    _timers: list[threading.Timer] = field(default_factory=list)

    def kinds(self) -> list[str]:
        kinds = ["router", "redis", "worker"]
        if self.mysql:
            kinds.append("database")
        if self.world.radius_router is not None:
            kinds.append("radius")
        return kinds

    def next(self) -> Fault:
        """Inject the next fault; returns its record."""
        if not self._order:
            self._order = self.kinds()
            self.rng.shuffle(self._order)
        kind = self._order.pop()
        from isp.models.base import utcnow

        at = utcnow()
        detail = getattr(self, f"_{kind}")()
        fault = Fault(at, kind, detail)
        self.log.append(fault)
        return fault

    def _later(self, seconds: float, fn) -> None:
        timer = threading.Timer(seconds, fn)
        timer.daemon = True
        timer.start()
        self._timers.append(timer)

    def clear(self) -> None:
        """Cancel pending fault ends and clear every router's switches."""
        for timer in self._timers:
            timer.cancel()
        for sim in self.fleet.routers:
            sim.faults.update(down=False, drop_mid_reply=0.0)

    # -- the faults --------------------------------------------------------------------------------------------------

    def _router(self) -> str:
        app = self.harness.app
        router_id = self.rng.choice(self.world.api_routers)
        chaos_work.voucher_batch(app, self.world, self.rng, router_id)  # a batch is being pushed right now
        sim = self.fleet[self.world.sims[router_id]]
        time.sleep(self.rng.uniform(0.05, 0.4))
        if self.rng.random() < 0.5:
            seconds = self.rng.uniform(1.0, 4.0)
            sim.faults.update(down=True)
            self._later(seconds, lambda: sim.faults.update(down=False))
            return f"{sim.name}: connections cut, listener down {seconds:.1f} s mid-batch"
        seconds = self.rng.uniform(2.0, 5.0)
        sim.faults.update(drop_mid_reply=0.5)
        self._later(seconds, lambda: sim.faults.update(drop_mid_reply=0.0))
        return f"{sim.name}: half of the replies cut mid-reply for {seconds:.1f} s"

    def _redis(self) -> str:
        assert self.harness.own_redis, "FLUSHALL only on the bench's own Redis"
        keys = self.harness.redis.dbsize()
        self.harness.redis.flushall()
        return f"FLUSHALL on the bench's own Redis ({keys} keys)"

    def _worker(self) -> str:
        alive = [w for w in self.harness.workers if w.poll() is None]
        victim = self.rng.choice(alive) if alive else None
        if victim is not None:
            try:
                os.killpg(victim.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            victim.wait()
            self.harness.workers.remove(victim)
        self.harness.start_workers(1)
        return f"SIGKILL worker pid {victim.pid if victim else '-'}; a new one started"

    def _database(self) -> str:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        url = make_url(self.harness.db_url)
        engine = create_engine(url, poolclass=NullPool)
        killed = 0
        try:
            with engine.connect() as conn:
                ids = conn.execute(text("SELECT id FROM information_schema.processlist WHERE db = :db AND "
                                        "id <> CONNECTION_ID()"), {"db": url.database}).scalars().all()
                for conn_id in ids:
                    try:
                        conn.execute(text(f"KILL CONNECTION {int(conn_id)}"))
                        killed += 1
                    except Exception:  # noqa: BLE001 (it ended by itself meanwhile)
                        pass
        finally:
            engine.dispose()
        return f"KILL CONNECTION on {killed} connections to the bench's database `{url.database}` (server not restarted)"

    def _radius(self) -> str:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        from isp.extensions import db
        from isp.models import Voucher

        app = self.harness.app
        engine = create_engine(self.harness.db_url, poolclass=NullPool,
                               connect_args={} if self.mysql else {"timeout": 30})
        if self.mysql:
            create = ("CREATE TRIGGER chaos_radius_fail BEFORE INSERT ON radcheck FOR EACH ROW "
                      "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'chaos: radius write refused'")
        else:
            create = ("CREATE TRIGGER chaos_radius_fail BEFORE INSERT ON radcheck "
                      "BEGIN SELECT RAISE(ABORT, 'chaos: radius write refused'); END")
        with app.app_context():
            before = db.session.scalar(db.select(db.func.count(Voucher.id)).where(Voucher.router_id == self.world.radius_router))
            db.session.remove()
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(create)
            made = chaos_work.voucher_batch(app, self.world, self.rng, radius=True)
        finally:
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP TRIGGER IF EXISTS chaos_radius_fail")
            engine.dispose()
        with app.app_context():
            after = db.session.scalar(db.select(db.func.count(Voucher.id)).where(Voucher.router_id == self.world.radius_router))
            db.session.remove()
        outcome = "the batch was committed anyway" if made else "the batch was refused whole"
        return f"radcheck refused writes during a radius batch: {outcome} ({after - before} vouchers added)"
