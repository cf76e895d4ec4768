"""Bundled demo assets: sample master data, a sample inbox and the legacy order-entry portal."""
