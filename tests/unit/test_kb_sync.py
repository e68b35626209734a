"""KB edits written by another process (another replica, the leads' pages, `cskh retrain`) reach
this process's KB: by polling the override table, and at once when another replica announces one."""
from __future__ import annotations

from typing import Dict

from cskh.events import Events
from cskh.kb_sync import AnnouncingOverrideStore, KbSync
from retrieval.corpus import Entry
from retrieval.overrides import OverrideStore
from shop import make_engine

GIFT = Entry("gift-wrapping", ("shop có gói quà không",), {"vi": "Dạ, shop gói quà miễn phí ạ."})


class FakeKb:
    def __init__(self) -> None:
        self.entries: Dict[str, Entry] = {"shipping": Entry("shipping", ("phí ship",), {"vi": "30.000₫"})}
        self.upserts = 0

    def upsert(self, entries) -> None:
        for entry in entries:
            self.entries[entry.id] = entry
            self.upserts += 1

    def delete(self, entry_id: str) -> bool:
        return self.entries.pop(entry_id, None) is not None


def test_edits_made_elsewhere_are_applied_once(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    elsewhere = OverrideStore(make_engine(f"sqlite:///{tmp_path / 'app.db'}"))  # another replica's store
    kb = FakeKb()
    sync = KbSync(kb, engine, Events())
    assert sync.apply_changes() == 0

    elsewhere.put(GIFT)
    assert sync.apply_changes() == 1 and kb.entries["gift-wrapping"] == GIFT
    assert sync.apply_changes() == 0 and kb.upserts == 1  # unchanged rows are not applied again

    changed = Entry(GIFT.id, GIFT.questions, {"vi": "Dạ, gói quà có phí 20.000₫ ạ."})
    elsewhere.put(changed)
    elsewhere.delete("shipping")
    assert sync.apply_changes() == 2
    assert kb.entries["gift-wrapping"].answers["vi"].endswith("20.000₫ ạ.") and "shipping" not in kb.entries


async def test_the_gateway_store_announces_its_edits(tmp_path):
    published = []

    class Recording(Events):
        def publish(self, topic, payload):
            published.append((topic, payload))

    store = AnnouncingOverrideStore(make_engine(f"sqlite:///{tmp_path / 'app.db'}"), Recording())
    store.put(GIFT)
    store.delete(GIFT.id)
    assert published == [("kb", {"entry_id": "gift-wrapping"})] * 2
    assert store.all() == {"gift-wrapping": None}


async def test_an_announcement_applies_the_edit_without_waiting_for_the_poll(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    kb, events = FakeKb(), Events()
    sync = KbSync(kb, engine, events, poll_seconds=0)  # no polling: only the announcement
    await sync.start()
    OverrideStore(engine).put(GIFT)
    for handler in events._handlers["kb"]:  # what RedisEvents does for another replica's event
        await handler({"entry_id": GIFT.id})
    assert kb.entries["gift-wrapping"] == GIFT
    await sync.stop()
