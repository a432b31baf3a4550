"""``crosschq-worker``: run the processes, the sandboxes and the operator commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from config.errors import ConfigError

if TYPE_CHECKING:
    from config.settings import Settings
    from worker.deps import Deps


def _settings(level: str | None = None) -> Settings:
    from config.logs import configure_logging
    from config.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log.format, level or settings.log.level)
    return settings


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings()
    from worker.web import build_receiver, create_app

    application = create_app(build_receiver(settings))
    uvicorn.run(application, host=args.host, port=args.port, log_config=None, access_log=False)
    return 0


def _celery(argv: list[str]) -> int:
    from worker.app import app

    _settings()
    app.start(argv)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    queues = args.queues or "ingest,ats,crosschq,periodic"
    argv = ["worker", "-Q", queues, "--loglevel", "INFO", "-c", str(args.concurrency)]
    if args.hostname:
        argv += ["-n", args.hostname]
    return _celery(argv)


def cmd_beat(args: argparse.Namespace) -> int:
    schedule = os.path.join(args.state_dir, "celerybeat-schedule")
    return _celery(["beat", "--loglevel", "INFO", "-s", schedule])


def cmd_sandbox(args: argparse.Namespace) -> int:
    if args.which == "crosschq":
        from connectors.crosschq import sandbox as cq_sandbox

        return cq_sandbox.main(args.rest)
    from connectors.greenhouse import sandbox as gh_sandbox

    return gh_sandbox.main(args.rest)


def _deps() -> Deps:
    _settings()
    from worker.deps import get_deps

    return get_deps()


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def cmd_failures(args: argparse.Namespace) -> int:
    deps = _deps()
    records = deps.store.dead_letters(args.limit)
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    if not records:
        print("no failures")
    for rec in records:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(rec["at"]))
        print(f"{when}Z  {rec['task']}  kwargs={json.dumps(rec['kwargs'])} args={json.dumps(rec['args'])}")
        print(f"    {rec['reason']}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    deps = _deps()
    from worker.app import app

    # Load the configuration before send_task builds the AMQP router: loading it afterwards,
    # from inside that router's own update hook, recurses (celery.app.amqp.flush_routes).
    app.conf.broker_url  # noqa: B018
    if args.all_failed:
        records = deps.store.dead_letters(1000)
        for rec in records:
            event_id = (rec.get("kwargs") or {}).get("event_id")
            if event_id:
                deps.store.requeue_event(str(event_id))
            app.send_task(rec["task"], args=rec["args"], kwargs=rec["kwargs"])
            deps.store.remove_dead_letter(rec)
            print(f"re-enqueued {rec['task']} {json.dumps(rec['kwargs'])}")
        print(f"{len(records)} task(s) re-enqueued")
        return 0
    if not args.event_id:
        print("give an EVENT_ID or --all-failed", file=sys.stderr)
        return 2
    stored = deps.store.load_event(args.event_id)
    if stored is None:
        print(f"no stored event {args.event_id}", file=sys.stderr)
        return 1
    task = "ats.process_event" if stored.source == "ats" else "crosschq.process_webhook"
    deps.store.requeue_event(args.event_id)
    app.send_task(task, kwargs={"event_id": args.event_id})
    print(f"re-enqueued {task} event_id={args.event_id}")
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    deps = _deps()
    entries = deps.store.timeline(args.connector, args.application_id)
    if not entries:
        print("nothing recorded for this application")
        return 1
    for entry in entries:
        when = time.strftime("%H:%M:%S", time.gmtime(entry.pop("at")))
        what = entry.pop("what")
        rest = " ".join(f"{k}={v}" for k, v in entry.items())
        print(f"{when}  {what:32s} {rest}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from worker.demo import run_demo

    return run_demo(redis_db=args.redis_db)


def cmd_run(args: argparse.Namespace) -> int:
    from worker.run import run_stack

    settings = _settings()
    sandbox = args.sandbox or os.environ.get("SANDBOX", "").strip().lower() in ("1", "true", "yes")
    return run_stack(settings.redis.url, settings.redis.embedded, sandbox=sandbox)


def cmd_flower(args: argparse.Namespace) -> int:
    settings = _settings()
    user, password = settings.flower.user, settings.flower.password.get_secret_value()
    if not user or not password:
        print(
            "flower: refusing to start without FLOWER_USER and FLOWER_PASSWORD "
            "(an open Flower lets anyone who reaches its port run tasks)",
            file=sys.stderr,
        )
        return 2
    if ":" in user or "," in user + password:
        print("flower: FLOWER_USER must not contain ':', nor either setting ','", file=sys.stderr)
        return 2
    # Given to Flower through its environment, not the command line, so `ps` never shows it.
    os.environ["FLOWER_BASIC_AUTH"] = f"{user}:{password}"
    port = args.port or settings.flower.port
    return _celery(["flower", f"--address={args.address}", f"--port={port}"])


def cmd_check(args: argparse.Namespace) -> int:
    from config.logs import configure_logging
    from worker.checks import run_checks

    configure_logging("auto", "ERROR")
    results = run_checks()
    for result in results:
        print(result.line())
    return 1 if any(result.failed for result in results) else 0


def cmd_rules_test(args: argparse.Namespace) -> int:
    from connectors.errors import IntegrationError
    from worker.rules_preview import preview

    settings = _settings("ERROR")
    try:
        report, would_send = preview(settings, args.connector, args.application_id, stage=args.stage)
    except IntegrationError as exc:
        print(f"cannot read application {args.application_id}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0 if would_send else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crosschq-worker", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    web = sub.add_parser("web", help="run the webhook receiver")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    web.set_defaults(func=cmd_web)

    wk = sub.add_parser("worker", help="run a Celery worker")
    wk.add_argument("--queues", default="")
    wk.add_argument("--concurrency", type=int, default=2)
    wk.add_argument("--hostname", default="")
    wk.set_defaults(func=cmd_worker)

    beat = sub.add_parser("beat", help="run Celery beat")
    beat.add_argument("--state-dir", default=os.environ.get("BEAT_STATE_DIR", "."))
    beat.set_defaults(func=cmd_beat)

    sandbox = sub.add_parser("sandbox", help="run a local sandbox of Crosschq or Greenhouse")
    sandbox.add_argument("which", choices=["crosschq", "greenhouse"])
    sandbox.add_argument("rest", nargs=argparse.REMAINDER)
    sandbox.set_defaults(func=cmd_sandbox)

    failures = sub.add_parser("failures", help="list dead letters")
    failures.add_argument("--limit", type=_positive, default=50, help="how many, newest first")
    failures.add_argument("--json", action="store_true")
    failures.set_defaults(func=cmd_failures)

    replay = sub.add_parser("replay", help="re-enqueue a stored event or every dead letter")
    replay.add_argument("event_id", nargs="?")
    replay.add_argument("--all-failed", action="store_true")
    replay.set_defaults(func=cmd_replay)

    timeline = sub.add_parser("timeline", help="what happened to one application")
    timeline.add_argument("application_id")
    timeline.add_argument("--connector", default="greenhouse")
    timeline.set_defaults(func=cmd_timeline)
    _operator_parsers(sub)
    return parser


def _operator_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="play the whole pipeline on local sandboxes and check the result")
    demo.add_argument("--redis-db", type=int, default=14, help="database used on a reachable Redis")
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", help="run the Procfile's processes under honcho (SANDBOX=1 adds sandboxes)")
    run.add_argument("--sandbox", action="store_true", help="also run both sandboxes (as SANDBOX=1)")
    run.set_defaults(func=cmd_run)

    flower = sub.add_parser("flower", help="run Flower with basic auth (FLOWER_USER, FLOWER_PASSWORD)")
    flower.add_argument("--address", default="127.0.0.1")
    flower.add_argument("--port", type=int, help="default: FLOWER_PORT")
    flower.set_defaults(func=cmd_flower)

    check = sub.add_parser("check", help="check settings, Redis, credentials and rules")
    check.set_defaults(func=cmd_check)

    rules = sub.add_parser("rules", help="work with the trigger rules")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    test = rules_sub.add_parser("test", help="what a trigger would send for an application (sends nothing)")
    test.add_argument("--connector", default="greenhouse")
    test.add_argument("--application-id", required=True)
    test.add_argument("--stage", help="evaluate as if the application were in this stage")
    test.set_defaults(func=cmd_rules_test)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
