"""`python -m goat_datasets.demo_api [--port 8765] [--seed 0]`: run the demo API without the goat CLI."""

from __future__ import annotations

import argparse

from goat_datasets.demo_api.app import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m goat_datasets.demo_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated world (default 0)")
    args = parser.parse_args(argv)
    serve(host=args.host, port=args.port, seed=args.seed)


if __name__ == "__main__":
    main()
