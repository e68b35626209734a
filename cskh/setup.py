"""Everything `make run` and `make test` need before serving: database, KB index, model."""
from __future__ import annotations

import logging
from dataclasses import replace
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Optional

from cskh.settings import ROOT, Settings
from retrieval.corpus import load_source
from retrieval.encoder import Encoder
from retrieval.index import IndexMismatch, read_meta
from retrieval.overrides import OverrideStore
from retrieval.search import KnowledgeBase
from shop import ensure_seeded, make_engine, seed

log = logging.getLogger(__name__)


def ensure_database(settings: Settings, reseed: bool = False) -> None:
    engine = make_engine(settings.database_url)
    try:
        if reseed:
            seed(engine)
            log.info("shop database seeded")
        elif ensure_seeded(engine):
            log.info("shop database was empty: seeded the demo shop")
    finally:
        engine.dispose()


def create_tables(settings: Settings) -> None:
    """Every table a gateway opens, created by this one process. `cskh run` calls it before it
    starts several workers: each would otherwise CREATE TABLE at the same moment, and on a fresh
    PostgreSQL database all but one fail (a duplicate pg_type row), taking the service down."""
    from connectors import telegram, zalo
    from cskh import conversation
    from cskh.tracker_store import tracker_store
    from handoff import accounts, queue
    from leads import proposals, retrain, review
    from leads.models import registry_engine
    from retrieval import overrides

    engine = make_engine(settings.app_database_url)
    try:
        for module in (conversation, telegram, zalo, accounts, queue, review, proposals, retrain, overrides):
            module.metadata.create_all(engine)
        registry_engine(engine)  # the model registry's tables and their added columns
    finally:
        engine.dispose()
    tracker_store(settings.tracker_store_url).engine.dispose()  # Rasa creates its events table


def build_kb(source: Path, out: Path, model: str, index_kind: str = "flat") -> KnowledgeBase:
    kb = KnowledgeBase.build(load_source(source), Encoder(model), index_kind=index_kind)
    kb.save(out)
    return kb


def _kb_is_current(index_dir: Path, source: Path, model: str, index_kind: str) -> bool:
    try:
        meta = read_meta(index_dir)
    except FileNotFoundError:
        return False
    newest_source = max((p.stat().st_mtime for p in source.rglob("*") if p.is_file()), default=0.0)
    return (meta.get("model") == model and meta.get("kind", "flat") == index_kind
            and (index_dir / "meta.json").stat().st_mtime >= newest_source)


def open_kb(settings: Settings, overrides: Optional[OverrideStore] = None) -> KnowledgeBase:
    """Load the KB index, building it first when it is missing, stale, or built with another model
    or index kind."""
    index_dir, source, model = settings.kb_index_dir, settings.kb_source_dir, settings.embedding_model
    kb: Optional[KnowledgeBase] = None
    if _kb_is_current(index_dir, source, model, settings.kb_index_kind):
        try:
            kb = KnowledgeBase.load(index_dir, Encoder(model))
        except IndexMismatch as mismatch:
            log.warning("%s", mismatch)
    if kb is None:
        log.info("building the KB index from %s", source)
        kb = build_kb(source, index_dir, model, settings.kb_index_kind)
    if overrides is not None:
        for entry_id, entry in overrides.all().items():
            if entry is None:
                kb.delete(entry_id)
            else:
                kb.upsert([entry])
    if settings.kb_min_score is not None:
        kb.fusion = replace(kb.fusion, threshold=settings.kb_min_score)
        if kb.ranker is not None:
            kb.ranker = replace(kb.ranker, threshold=settings.kb_min_score)
    return kb


KEEP_MODELS = 5


def prune_models(model_dir: Path, keep: int = KEEP_MODELS, protected: Iterable[str] = ()) -> None:
    """Keep the newest `keep` models and the protected ones (served, or a rollback's target)."""
    spare = set(protected)
    models = sorted(Path(model_dir).glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in models[keep:]:
        if old.name not in spare:
            old.unlink()


def train(force: bool = False, out: Optional[Path] = None) -> int:
    """`rasa train` on this repository's data; Rasa itself skips training when nothing changed."""
    command = [sys.executable, "-m", "rasa", "train", "--config", str(ROOT / "config.yml"),
               "--domain", str(ROOT / "domain.yml"), "--data", str(ROOT / "bot" / "data"),
               "--out", str(out or ROOT / "models")]
    if force:
        command.append("--force")
    code = subprocess.call(command, cwd=ROOT)
    if code == 0:
        from cskh.settings import get_settings
        from leads.models import ModelRegistry

        model_dir = out or ROOT / "models"
        prune_models(model_dir, protected=ModelRegistry(get_settings().app_database_url, model_dir).protected())
    return code


def deploy_trained(settings: Settings, by: Optional[str] = None) -> Optional[str]:
    """Register the newest model file as served (a hand-trained model is deployed without the gate;
    `cskh retrain` is the gated path), then prune old files."""
    from leads.models import ModelRegistry, newest_model

    registry = ModelRegistry(settings.app_database_url, settings.model_dir)
    newest = newest_model(settings.model_dir)
    if newest is None:
        return None
    if registry.current() != newest.name:
        registry.deploy(newest.name, "train", by)
    return newest.name
