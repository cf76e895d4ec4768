"""Run the demo portal: python -m demo.portal [--port 8080] [--db PATH] [--test-api]."""

from __future__ import annotations

import argparse
from pathlib import Path

from demo.portal.app import PortalConfig, serve

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description="Kestrel Order Entry v3.2 (demo portal)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--db", type=Path, default=Path("portal.db"), help="SQLite file (created if missing)")
    parser.add_argument("--master-data", type=Path, default=HERE.parent / "masterdata")
    parser.add_argument("--test-api", action="store_true", help="enable /_test/orders and /_test/reset")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    config = PortalConfig(db_path=args.db, master_data=args.master_data, test_api=args.test_api,
                          latency_ms=args.latency_ms, error_rate=args.error_rate, seed=args.seed)
    serve(config, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
