"""The `cskh` command: run, train, chat, kb build/search, db seed, load, transcripts, review."""
from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional
from urllib.parse import urlparse

from cskh.settings import KB_INDEX_KINDS
from cskh.supervisor import Supervised

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

log = logging.getLogger("cskh")


def _wait_http(url: str, timeout: float, process: Optional[subprocess.Popen] = None) -> bool:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def action_server(url: str, env: dict) -> Iterator[Optional[Supervised]]:
    """Start the rasa-sdk action server for `url` (unless one already answers there), supervised:
    restarted whenever it exits until the gateway stops."""
    parsed = urlparse(url)
    health = f"{parsed.scheme}://{parsed.netloc}/health"
    if _wait_http(health, 0.5):
        log.info("using the action server already running at %s", parsed.netloc)
        yield None
        return
    command = [sys.executable, "-m", "cskh.action_server", "--actions", "bot.actions", "--port", str(parsed.port or 5055)]
    supervised = Supervised(command, dict(env, CSKH_PARENT_PID=str(os.getpid())))  # it ends when we do
    process = supervised.start()
    try:
        if not _wait_http(health, 120, process):
            raise SystemExit(f"the action server did not start ({' '.join(command)})")
        yield supervised
    finally:
        supervised.stop()


def cmd_run(args: argparse.Namespace) -> int:
    from cskh.logging import configure as configure_logging
    from cskh.settings import get_settings

    if args.port:
        os.environ["CSKH_PORT"] = str(args.port)
    if args.host:
        os.environ["CSKH_HOST"] = args.host
    get_settings.cache_clear()
    settings = get_settings()
    # Before the heavy imports, so their warnings are log lines too (JSON in production).
    log_format = settings.effective_log_format  # CSKH_LOG_FORMAT; json by default in production
    configure_logging(log_format, settings.log_level)
    try:
        settings.check_production()
    except RuntimeError as unsafe:  # placeholder or missing secrets: refuse, before loading anything
        log.error("%s", unsafe)
        return 2
    if settings.worker_problems():
        log.error("refusing to start: %s", "; ".join(settings.worker_problems()))
        return 2

    import uvicorn

    from cskh.assistant import ModelMissing, served_model
    from cskh.setup import create_tables, ensure_database, train

    ensure_database(settings)
    if settings.workers > 1:
        create_tables(settings)  # once, before the workers race to create them
    try:
        served_model(settings)
    except ModelMissing:
        log.info("no trained model yet: training one")
        if train() != 0:
            return 1
    env = dict(os.environ, CSKH_PORT=str(settings.port))
    from connectors.gateway import create_app
    from connectors.guards import UVICORN_MAX_HEADER_BYTES

    server = action_server(settings.action_server_url, env) if settings.start_action_server else _nothing()
    with server:
        banner = f"cskh is serving on {settings.public_url}  (REST: {settings.public_url}/webhooks/rest/webhook)"
        if log_format == "json":
            log.info(banner)
        else:
            print(banner, flush=True)
        # h11 (not httptools) bounds request headers: over 64 KB is refused before the app reads it.
        options = dict(host=settings.host, port=settings.port, ws="wsproto", http="h11",
                       h11_max_incomplete_event_size=UVICORN_MAX_HEADER_BYTES, log_level=settings.log_level.lower(),
                       log_config=None if log_format == "json" else uvicorn.config.LOGGING_CONFIG)
        if settings.workers > 1:  # each worker process builds its own app (and Rasa engine) from the environment
            os.environ.update(CSKH_PORT=str(settings.port), CSKH_HOST=settings.host)
            # one /metrics for all workers: prometheus_client's multiprocess files (cskh/metrics.py)
            from cskh import metrics
            from cskh.settings import ROOT

            metrics.prepare_multiprocess(os.environ.get(metrics.MULTIPROCESS_ENV)
                                         or str(ROOT / "var" / f"metrics-{settings.port}"))
            uvicorn.run("connectors.gateway:worker_app", factory=True, workers=settings.workers, **options)
        else:
            uvicorn.run(create_app(settings), **options)
    return 0


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def cmd_train(args: argparse.Namespace) -> int:
    from cskh.settings import get_settings
    from cskh.setup import deploy_trained, train

    code = train(force=args.force)
    if code == 0:
        deploy_trained(get_settings(), by="cskh train")
    return code


def cmd_chat(args: argparse.Namespace) -> int:
    import httpx

    url = args.url
    process = None
    if url is None:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, CSKH_PORT=str(port), CSKH_ACTION_SERVER_URL=f"http://127.0.0.1:{free_port()}/webhook")
        print("starting the assistant…", flush=True)
        process = subprocess.Popen([sys.executable, "-m", "cskh.cli", "run", "--port", str(port)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not _wait_http(f"{url}/health", 300, process):
            print("the assistant did not start; try `cskh run` to see why", file=sys.stderr)
            return 1
    sender = f"terminal-{os.getpid()}"
    print("Chat with the assistant (Ctrl-D to quit).")
    try:
        while True:
            try:
                text = input("bạn> ").strip()
            except EOFError:
                print()
                break
            if not text:
                continue
            reply = httpx.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
            if reply.status_code != 200:
                print(f"[{reply.status_code}] {reply.text}")
                continue
            for message in reply.json():
                if message.get("text"):
                    print(f"bot> {message['text']}")
                for button in message.get("buttons") or []:
                    print(f"     [{button['title']}] → {button['payload']}")
    finally:
        if process is not None:
            process.terminate()
    return 0


def cmd_kb_build(args: argparse.Namespace) -> int:
    from cskh.settings import get_settings
    from cskh.setup import build_kb

    settings = get_settings()
    source = Path(args.input) if args.input else settings.kb_source_dir
    out = Path(args.out) if args.out else settings.kb_index_dir
    started = time.perf_counter()
    kind = args.index_kind or settings.kb_index_kind
    kb = build_kb(source, out, args.model or settings.embedding_model, kind)
    print(f"built {out}: {len(kb.entries)} entries, {kind} index, in {time.perf_counter() - started:.1f}s")
    return 0


def cmd_kb_search(args: argparse.Namespace) -> int:
    from cskh.settings import get_settings
    from retrieval.encoder import Encoder
    from retrieval.index import read_meta
    from retrieval.search import KnowledgeBase

    index_dir = Path(args.index) if args.index else get_settings().kb_index_dir
    kb = KnowledgeBase.load(index_dir, Encoder(read_meta(index_dir)["model"]))
    with open(args.queries, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                query = json.loads(line)
                query_id, text = query["id"], str(query["text"])
            except (ValueError, KeyError, TypeError):
                print(f"{args.queries}:{number}: expected {{\"id\", \"text\"}}", file=sys.stderr)
                return 2
            hits = [{"id": h.id, "score": round(h.score, 6)} for h in kb.search(text, k=args.top_k)]
            print(json.dumps({"query_id": query_id, "hits": hits}, ensure_ascii=False), flush=True)
    return 0


def _kb_for(model: str):
    from cskh.settings import get_settings
    from retrieval.corpus import load_source
    from retrieval.encoder import Encoder
    from retrieval.search import Fusion, KnowledgeBase

    # No tuned ranker (every configuration is tuned here), a trigram index for the ranker ablation.
    return KnowledgeBase.build(load_source(get_settings().kb_source_dir), Encoder(model), Fusion(encoder=model),
                               ranker=None, trigrams=True)


def _finetuned(value: Optional[str]) -> Optional[str]:
    from cskh.settings import ROOT
    from retrieval.finetune import latest

    if value in (None, "none"):
        return None
    if value == "latest":
        found = latest(ROOT / "models" / "embedder")
        return str(found.relative_to(ROOT)) if found else None
    return value


def cmd_kb_eval(args: argparse.Namespace) -> int:
    from pathlib import Path as _Path

    from cskh.settings import get_settings
    from retrieval.evaluate import (HEADER, QUESTIONS, ablation_table, load_questions, overview_table, read_short, row,
                                    split, threshold_table, tune_and_measure)
    from retrieval.ranker import Ranker

    questions = load_questions(_Path(args.questions) if args.questions else QUESTIONS)
    dev, test = split(questions)
    print(f"questions: {len(questions)} (dev {len(dev)}, test {len(test)}: "
          f"{sum(q.entry is not None for q in test)} answerable, {sum(q.entry is None for q in test)} unanswerable)")
    shown = "test" if args.split == "test" else "dev"
    if shown == "dev":
        print("figures below are on the DEV split (where everything is tuned: fusion figures are in-sample; "
              "the ranker's scorer never saw it, its calibrator and threshold did)")
    settings = get_settings()
    base = settings.embedding_model
    configs = [("dense only", base, "dense"), ("lexical only (BM25)", base, "lexical"), ("hybrid", base, "hybrid"),
               ("hybrid + learned ranker", base, "ranker")]
    finetuned = _finetuned(args.finetuned)
    if finetuned:
        configs += [("dense only, fine-tuned encoder", finetuned, "dense"),
                    ("hybrid, fine-tuned encoder", finetuned, "hybrid"),
                    ("hybrid + learned ranker, fine-tuned encoder", finetuned, "ranker")]
    kbs = {}
    lines, styles, tuned = [], {}, {}
    for name, model, mode in configs:
        kb = kbs.get(model) or kbs.setdefault(model, _kb_for(model))
        config, metrics, by_style = tune_and_measure(kb, questions, mode, report=shown)
        lines.append(row(name, metrics))
        styles[name] = by_style
        tuned[(model, mode)] = config
        if isinstance(config, Ranker):
            print(f"tuned {name}: {len(config.features)} features, threshold={config.threshold:.3f}", file=sys.stderr)
        else:
            print(f"tuned {name}: method={config.method} w={config.dense_weight} s={config.saturation} "
                  f"threshold={config.threshold:.3f}", file=sys.stderr)
    print(f"\nquality ({shown} split)\n")
    print(HEADER)
    print("\n".join(lines))
    all_styles = sorted({s for by in styles.values() for s in by})
    print(f"\nhit@1 by question style ({shown} split)\n")
    print("| configuration | " + " | ".join(all_styles) + " |\n|---|" + "---|" * len(all_styles))
    for name, by in styles.items():
        print(f"| {name} | " + " | ".join(f"{by.get(s, float('nan')):.3f}" for s in all_styles) + " |")
    shown_questions = test if shown == "test" else dev
    print(closeness_table(kbs, configs, tuned, shown_questions, shown))
    if args.misses:
        print(misses_table(kbs[base], tuned[(base, "ranker")], dev))
    if not args.quick:
        print("\nlearned ranker: variants (scorer fitted on KB pseudo-queries; calibrator and threshold on dev)\n")
        print(ablation_table(kbs[base], questions))
        faq = settings.kb_faq_threshold
        for name, mode in (("hybrid + learned ranker (the product default)", "ranker"), ("hybrid (fusion)", "hybrid")):
            config = tuned[(base, mode)]
            print(f"\nprecision against coverage by threshold: {name}\n")
            marks = {0.5: "", 0.6: "", 0.7: "", 0.8: "", round(faq, 6): "(FAQ intent)"}
            strict = round(config.threshold, 6)
            marks[strict] = (marks.get(strict, "") + " (strict, tuned)").strip()
            print(threshold_table(kbs[base], questions, config, sorted(marks.items())))
        ranker = tuned[(base, "ranker")]
        print("\nanswers with overviews (faq_corpus `covers`): a generic question split among an overview and the "
              "entries it covers is answered with the overview\n")
        groups = [("dev", dev), ("test", test), ("short (retrieval/eval/short_vi.jsonl)", read_short())]
        print(overview_table(kbs[base], groups, ranker,
                             [(round(faq, 6), "(FAQ intent)"), (round(ranker.threshold, 6), "(strict, tuned)")]))
    if args.write:
        model = args.write_for or base
        key = _finetuned(model) or model
        tuned[(key, "hybrid")].save()
        tuned[(key, "ranker")].save()
        print(f"\nwrote retrieval/fusion.json and retrieval/ranker.json for {model}", file=sys.stderr)
    return 0


def misses_table(kb, ranker, dev: list) -> str:
    """The learned ranker's hit@1 misses on the dev split (never test: what a lead reads to mend
    the KB must not be what the KB is judged on): the question, its entry and the first three."""
    from retrieval.evaluate import results_for

    results = results_for(kb, dev, ranker)
    missed = [(q, r) for q, r in zip(dev, results) if q.entry and (not r.ids or r.ids[0] != q.entry)]
    lines = [f"\nhit@1 misses of the learned ranker on the dev split: {len(missed)} of "
             f"{sum(q.entry is not None for q in dev)} answerable questions\n",
             "| question | style | its entry | first three | text |", "|---|---|---|---|---|"]
    for q, r in missed:
        text = q.text.replace("|", "/")
        lines.append(f"| {q.id} | {q.style} | {q.entry} | {', '.join(r.ids[:3])} | {text} |")
    return "\n".join(lines)


def closeness_table(kbs: dict, configs: list, tuned: dict, questions: list, shown: str) -> str:
    """Each configuration's hit@1, MRR, answer precision, coverage and abstention (at its tuned
    threshold) on the questions that are near copies of a FAQ phrasing of the KB and on the rest,
    which only paraphrase it (an unanswerable near copy looks like something the KB answers)."""
    from retrieval.evaluate import TUNING_MAX_JACCARD, closeness, result_metrics, results_for

    some_kb = next(iter(kbs.values()))
    near = closeness([text for _, _, text in some_kb.unit_items()], questions)
    far_qs = [q for q, c in zip(questions, near) if c <= TUNING_MAX_JACCARD]
    near_qs = [q for q, c in zip(questions, near) if c > TUNING_MAX_JACCARD]
    count = lambda qs: sum(q.entry is not None for q in qs)  # noqa: E731
    unanswerable = lambda qs: sum(q.entry is None for q in qs)  # noqa: E731
    parts = (("the rest", far_qs), ("near copies", near_qs))
    columns = []
    for name, qs in parts:
        columns += [f"hit@1, {name} ({count(qs)})", f"MRR, {name}", f"precision, {name}", f"coverage, {name}",
                    f"abstention, {name} ({unanswerable(qs)})"]
    lines = [f"\nquality by closeness to the KB's phrasings ({shown} split; a near copy has a character-trigram "
             f"Jaccard similarity above {TUNING_MAX_JACCARD} with some phrasing: {count(near_qs)} of "
             f"{count(questions)} answerable questions, {unanswerable(near_qs)} of {unanswerable(questions)} "
             "unanswerable; precision, coverage and abstention at each configuration's tuned threshold)\n",
             "| configuration | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for name, model, mode in configs:
        config, kb = tuned[(model, mode)], kbs[model]
        cells = []
        for _, qs in parts:
            m = result_metrics(qs, results_for(kb, qs, config), config.threshold)
            some, none = count(qs) > 0, unanswerable(qs) > 0
            cells += [m.hit1 if some else None, m.mrr if some else None, m.precision, m.coverage if some else None,
                      m.abstention if none else None]
        lines.append(f"| {name} | " + " | ".join("–" if c is None else f"{c:.3f}" for c in cells) + " |")
    return "\n".join(lines)


def cmd_kb_public_eval(args: argparse.Namespace) -> int:
    from pathlib import Path as _Path

    from cskh.settings import ROOT, get_settings
    from retrieval.corpus import CorpusError
    from retrieval.public_qa import run

    model = args.model or get_settings().embedding_model
    try:
        print(run(_Path(args.data), model, ROOT / "models" / "embedder-public" if args.finetune else None, args.epochs,
                  args.passage_words))
    except CorpusError as error:
        print(f"cskh kb public-eval: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_kb_finetune(args: argparse.Namespace) -> int:
    from cskh.settings import ROOT, get_settings
    from retrieval.corpus import load_source
    from retrieval.evaluate import load_questions, tune_and_measure
    from retrieval.finetune import finetune

    settings = get_settings()
    entries = load_source(settings.kb_source_dir)
    out = finetune(settings.embedding_model, entries, ROOT / "models" / "embedder", epochs=args.epochs)
    name = str(out.relative_to(ROOT))
    print(f"saved {name}")
    questions = load_questions()
    print("| encoder | dense hit@1 | hybrid hit@1 | hybrid MRR |\n|---|---|---|---|")
    for label, model in (("before: " + settings.embedding_model, settings.embedding_model), ("after: " + name, name)):
        kb = _kb_for(model)
        _, dense, _ = tune_and_measure(kb, questions, "dense")
        _, hybrid, _ = tune_and_measure(kb, questions, "hybrid")
        print(f"| {label} | {dense.hit1:.3f} | {hybrid.hit1:.3f} | {hybrid.mrr:.3f} |")
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    import getpass

    from cskh.settings import get_settings
    from handoff.accounts import AccountError, Accounts
    from shop import make_engine

    password = os.environ.get("CSKH_NEW_PASSWORD") or getpass.getpass(f"password for {args.username}: ")
    try:
        user = Accounts(make_engine(get_settings().app_database_url)).create(args.username, password, args.role,
                                                                             args.name or "")
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"created {user.role} {user.username}")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from cskh.settings import get_settings
    from handoff.accounts import Accounts
    from shop import make_engine

    for user in Accounts(make_engine(get_settings().app_database_url)).list():
        print(f"{user.username}\t{user.role}\t{user.display_name}")
    return 0


def cmd_db_seed(args: argparse.Namespace) -> int:
    from cskh.settings import get_settings
    from cskh.setup import ensure_database

    ensure_database(get_settings(), reseed=True)
    print("seeded the demo shop database")
    return 0


def cmd_telegram_poll(args: argparse.Namespace) -> int:
    """`cskh run` with the Telegram connector long-polling instead of waiting for its webhook."""
    os.environ["CSKH_TELEGRAM_MODE"] = "polling"
    if not os.environ.get("CSKH_TELEGRAM_TOKEN"):
        from cskh.settings import get_settings

        if not get_settings().telegram_token:
            print("CSKH_TELEGRAM_TOKEN is not set", file=sys.stderr)
            return 2
    return cmd_run(args)


def cmd_telegram_webhook(args: argparse.Namespace) -> int:
    """Point the bot's webhook at URL (…/webhooks/telegram), signed with CSKH_TELEGRAM_SECRET."""
    import asyncio

    from connectors.telegram import ALLOWED_UPDATES, make_bot
    from cskh.settings import get_settings

    settings = get_settings()
    if not (settings.telegram_token and settings.telegram_secret):
        print("CSKH_TELEGRAM_TOKEN and CSKH_TELEGRAM_SECRET must be set", file=sys.stderr)
        return 2

    async def set_webhook() -> bool:
        async with make_bot(settings) as bot:
            return await bot.set_webhook(args.url, secret_token=settings.telegram_secret,
                                         allowed_updates=ALLOWED_UPDATES)

    ok = asyncio.run(set_webhook())
    print(f"telegram webhook {'set to' if ok else 'NOT set to'} {args.url}")
    return 0 if ok else 1


def cmd_load(args: argparse.Namespace) -> int:
    from cskh.load import main as load_main

    return load_main(args)


def cmd_sentiment(args: argparse.Namespace) -> int:
    """One JSON line per stdin line: {"text", "label", "score"} (empty lines are neutral)."""
    import io

    from cskh.sentiment import default_model

    model = default_model()
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline=None)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    for line in stdin:
        text = line.rstrip("\r\n")
        result = model.predict(text)
        print(json.dumps({"text": text, "label": result.label, "score": round(result.score, 4)},
                         ensure_ascii=False), flush=True)
    return 0


def _utf8_stdout() -> None:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")


def cmd_transcripts_export(args: argparse.Namespace) -> int:
    """Every turn as JSONL or CSV; personal data redacted unless --include-personal."""
    from cskh.settings import get_settings
    from leads.transcripts import export, read_turns

    settings = get_settings()
    if args.include_personal:
        print("WARNING: exporting personal data (phone numbers, e-mails, addresses) unredacted; "
              "for authorised leads only, keep the file safe", file=sys.stderr)
    try:
        turns = read_turns(settings.tracker_store_url, settings.app_database_url, since=args.since,
                           channel=args.channel, handoff_only=args.handoff_only, personal=args.include_personal)
        if args.out:
            with open(args.out, "w", encoding="utf-8", newline="") as handle:
                count = export(turns, handle, args.format)
            print(f"wrote {count} turns to {args.out}", file=sys.stderr)
        else:
            _utf8_stdout()
            export(turns, sys.stdout, args.format)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_review_export(args: argparse.Namespace) -> int:
    from cskh.settings import get_settings
    from leads.review import export_csv

    settings = get_settings()
    try:
        if args.out:
            count = export_csv(settings.tracker_store_url, settings.app_database_url, args.out, since=args.since,
                               channel=args.channel, unlabelled_only=args.unlabelled)
            print(f"wrote {count} turns to review to {args.out}", file=sys.stderr)
        else:
            _utf8_stdout()
            export_csv(settings.tracker_store_url, settings.app_database_url, sys.stdout, since=args.since,
                       channel=args.channel, unlabelled_only=args.unlabelled)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_review_import(args: argparse.Namespace) -> int:
    import getpass

    from cskh.settings import get_settings
    from leads.review import import_csv

    settings = get_settings()
    by = args.by or os.environ.get("USER") or getpass.getuser()
    report = import_csv(settings.tracker_store_url, settings.app_database_url, args.file, by=by)
    for line, why in report.errors:
        print(f"{args.file}:{line}: {why} (row skipped)", file=sys.stderr)
    print(f"labelled {len(report.labelled)} turn(s); {report.blank} row(s) without a label; "
          f"{len(report.errors)} invalid row(s) skipped. Run `cskh review apply` to write them.")
    return 1 if report.errors else 0


def cmd_review_apply(args: argparse.Namespace) -> int:
    from cskh.settings import get_settings
    from leads.review import apply, default_nlu_dir, format_report

    settings = get_settings()
    report = apply(settings.app_database_url, Path(args.nlu_dir) if args.nlu_dir else default_nlu_dir(),
                   Path(args.faq_dir) if args.faq_dir else settings.kb_source_dir)
    _utf8_stdout()
    print(format_report(report), end="")
    if report.examples or report.moved:
        print("retrain the model (`cskh retrain`) for the new examples to count")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="cskh", description="Vietnamese-first customer-service assistant")
    sub = root.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="serve the assistant (gateway + Rasa + action server)")
    run.add_argument("--port", type=int, default=None, help="port (default 8000, or CSKH_PORT)")
    run.add_argument("--host", default=None, help="interface (default 127.0.0.1, or CSKH_HOST)")
    run.set_defaults(func=cmd_run)

    train = sub.add_parser("train", help="train the Rasa model into models/ (skipped when nothing changed)")
    train.add_argument("--force", action="store_true")
    train.set_defaults(func=cmd_train)

    chat = sub.add_parser("chat", help="talk to the assistant in the terminal")
    chat.add_argument("--url", default=None, help="a running gateway; default: start one")
    chat.set_defaults(func=cmd_chat)

    kb = sub.add_parser("kb", help="knowledge base").add_subparsers(dest="kb_command", required=True)
    build = kb.add_parser("build", help="build the KB index")
    build.add_argument("--input", help="KB source directory or JSONL of {id, text} (default faq_corpus/)")
    build.add_argument("--out", help="index directory (default var/kb_index)")
    build.add_argument("--model", help="embedding model name or directory")
    build.add_argument("--index-kind", choices=KB_INDEX_KINDS,
                       help="FAISS index: flat (exact) or hnsw (approximate, large KBs); default CSKH_KB_INDEX_KIND")
    build.set_defaults(func=cmd_kb_build)
    search = kb.add_parser("search", help="search an index with a JSONL of {id, text} queries")
    search.add_argument("--index", help="index directory (default var/kb_index)")
    search.add_argument("--queries", required=True)
    search.add_argument("--top-k", type=int, default=5)
    search.set_defaults(func=cmd_kb_search)

    evaluate = kb.add_parser("eval", help="quality table on the Vietnamese test set (tuned on its dev split)")
    evaluate.add_argument("--questions", help="JSONL of {id, text, entry|null, style}")
    evaluate.add_argument("--finetuned", default="latest", help="fine-tuned encoder dir, 'latest' or 'none'")
    evaluate.add_argument("--write", action="store_true",
                          help="save the tuned hybrid to retrieval/fusion.json and the ranker to retrieval/ranker.json")
    evaluate.add_argument("--split", choices=("test", "dev"), default="test",
                          help="report the held-out test split (default) or the dev split the tuning used")
    evaluate.add_argument("--quick", action="store_true", help="only the quality tables (no ablation, no thresholds)")
    evaluate.add_argument("--misses", action="store_true",
                          help="also list the learned ranker's hit@1 misses on the dev split (never test)")
    evaluate.add_argument("--write-for", help="encoder whose tuned hybrid --write saves (default: CSKH_EMBEDDING_MODEL)")
    evaluate.set_defaults(func=cmd_kb_eval)
    public = kb.add_parser("public-eval", help="dense, BM25 and hybrid on public Vietnamese QA data (UIT-ViCoV19QA)")
    public.add_argument("--data", required=True, help="folder with UIT-ViCoV19QA_{val,test}.csv (and _train.csv for --finetune)")
    public.add_argument("--model", help="embedding model name or directory (default CSKH_EMBEDDING_MODEL)")
    public.add_argument("--finetune", action="store_true",
                        help="also fine-tune the encoder on UIT-ViCoV19QA_train.csv's pairs and report it")
    public.add_argument("--epochs", type=int, default=1, help="fine-tuning epochs (with --finetune)")
    public.add_argument("--passage-words", type=int, default=0,
                        help="search the answers as passages of at most N words (default: whole answers)")
    public.set_defaults(func=cmd_kb_public_eval)
    tune = kb.add_parser("finetune", help="fine-tune the embedder on the KB's question variants; before/after")
    tune.add_argument("--epochs", type=int, default=1)
    tune.set_defaults(func=cmd_kb_finetune)

    users = sub.add_parser("users", help="agent and lead accounts").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="create an account (password from CSKH_NEW_PASSWORD or a prompt)")
    add.add_argument("username")
    add.add_argument("--role", choices=["agent", "lead"], default="agent")
    add.add_argument("--name", help="display name shown to customers")
    add.set_defaults(func=cmd_users_add)
    users.add_parser("list", help="list accounts").set_defaults(func=cmd_users_list)

    db = sub.add_parser("db", help="shop database").add_subparsers(dest="db_command", required=True)
    db.add_parser("seed", help="drop and re-seed the demo shop (dates relative to today)").set_defaults(func=cmd_db_seed)

    from cskh.load import add_arguments as load_arguments

    load = sub.add_parser("load", help="load generator: scripted conversations over REST or the widget WebSocket")
    load_arguments(load)
    load.set_defaults(func=cmd_load)
    sub.add_parser("sentiment", help="label lines from stdin as negative/neutral/positive").set_defaults(
        func=cmd_sentiment)
    telegram = sub.add_parser("telegram", help="Telegram channel").add_subparsers(dest="telegram_command",
                                                                               required=True)
    poll = telegram.add_parser("poll", help="serve with the Telegram connector long-polling (development)")
    poll.add_argument("--port", type=int, default=None, help="port (default 8000, or CSKH_PORT)")
    poll.add_argument("--host", default=None, help="interface (default 127.0.0.1, or CSKH_HOST)")
    poll.set_defaults(func=cmd_telegram_poll)
    hook = telegram.add_parser("webhook", help="set the bot's webhook URL (with CSKH_TELEGRAM_SECRET)")
    hook.add_argument("url", help="public https URL of POST /webhooks/telegram")
    hook.set_defaults(func=cmd_telegram_webhook)

    transcripts = sub.add_parser("transcripts", help="conversation transcripts (support leads)").add_subparsers(
        dest="transcripts_command", required=True)
    texport = transcripts.add_parser("export", help="every turn as JSONL or CSV (personal data redacted)")
    texport.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    texport.add_argument("--since", help="only turns from this date (YYYY-MM-DD, Vietnam time) or ISO date-time")
    texport.add_argument("--channel", help="web, telegram, zalo or rest")
    texport.add_argument("--handoff-only", action="store_true", help="only conversations handed to an agent")
    texport.add_argument("--include-personal", action="store_true",
                         help="do not redact phone numbers, e-mails and addresses (authorised leads only)")
    texport.add_argument("--out", help="write to this file instead of stdout")
    texport.set_defaults(func=cmd_transcripts_export)

    review = sub.add_parser("review", help="review queue: label turns, write training data").add_subparsers(
        dest="review_command", required=True)
    rexport = review.add_parser("export", help="the review queue as CSV (fill in label / kb_entry / note)")
    rexport.add_argument("--out", help="CSV file (default stdout)")
    rexport.add_argument("--since", help="only turns from this date (YYYY-MM-DD) or ISO date-time")
    rexport.add_argument("--channel", help="web, telegram, zalo or rest")
    rexport.add_argument("--unlabelled", action="store_true", help="leave out turns already labelled")
    rexport.set_defaults(func=cmd_review_export)
    rimport = review.add_parser("import", help="store the labels filled in a review CSV")
    rimport.add_argument("file")
    rimport.add_argument("--by", help="who labelled (default: the login name)")
    rimport.set_defaults(func=cmd_review_import)
    rapply = review.add_parser("apply", help="write labelled turns to bot/data/nlu/reviewed.yml and KB overrides")
    rapply.add_argument("--nlu-dir", help="NLU data directory (default bot/data/nlu)")
    rapply.add_argument("--faq-dir", help="KB source directory (default faq_corpus/)")
    rapply.set_defaults(func=cmd_review_apply)

    from leads.cli import add_parsers as add_model_parsers

    add_model_parsers(sub)
    return root


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
