"""``python -m backend``: the backend's command line.

serve   the REST/WebSocket API (HOST:PORT), analysing batches with the LLM at LLM_URL
demo    the main job on the embedded default: LLM server + backend + a few camera scenarios, live
        (--frigate: Frigate over MQTT in, Home Assistant and phone notifications out)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from backend.api.app import create_app
    from backend.config.settings import get_settings

    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level.lower())
    return 0


def _demo(args: argparse.Namespace) -> int:
    if args.frigate:
        from backend.demo_frigate import run_frigate_demo

        return run_frigate_demo(keep_running=args.keep_running, llm_url=args.llm_url)
    from backend.demo import run_demo

    return run_demo(scenarios=args.scenarios, keep_running=args.keep_running, llm_url=args.llm_url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backend", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the API server").set_defaults(handler=_serve)
    demo = commands.add_parser("demo", help="feed sample camera scenarios and show the risk events live")
    demo.add_argument("--scenarios", type=int, default=4, help="how many sample scenarios to feed (default 4)")
    demo.add_argument(
        "--frigate",
        action="store_true",
        help="replay a Frigate session through an MQTT broker; show Home Assistant's entities and the notifications",
    )
    demo.add_argument("--keep-running", action="store_true", help="keep serving (API docs at /docs) until Ctrl-C")
    demo.add_argument(
        "--llm-url",
        default=None,
        help="LLM server to use (default LLM_URL; the embedded server is started if none answers)",
    )
    demo.set_defaults(handler=_demo)
    from backend.evaluation.cli import register

    register(commands)
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
