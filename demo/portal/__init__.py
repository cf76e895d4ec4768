"""Kestrel Order Entry v3.2: a legacy, server-rendered order-entry portal to drive in demos and tests."""

from demo.portal.app import PortalConfig, PortalServer, create_app, run_in_thread, serve

__all__ = ["PortalConfig", "PortalServer", "create_app", "run_in_thread", "serve"]
