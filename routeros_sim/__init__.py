"""A protocol-faithful RouterOS API simulator: virtual MikroTik routers on loopback."""

from .clock import SimClock
from .config import FaultConfig, RouterConfig, load_toml
from .control import ControlError, control
from .fleet import Fleet
from .menus import Trap
from .router import VirtualRouter
from .tls import client_context

__all__ = ["ControlError", "FaultConfig", "Fleet", "RouterConfig", "SimClock", "Trap",
           "VirtualRouter", "client_context", "control", "load_toml"]
