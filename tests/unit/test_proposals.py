"""Agent answers proposed as KB entries: which hand-offs qualify, what the question and answer are
(redacted), and accepting or dismissing them exactly once."""
import pytest

from leads import proposals
from leads.proposals import AlreadyDecided, EntryExists, UnknownProposal, accept, dismiss, list_proposals
from retrieval.corpus import Entry
from retrieval.overrides import OverrideStore
from shop import make_engine
from tests.unit.test_analytics import build_world

ENTRY = Entry("thue-may-chieu", ("shop có cho thuê máy chiếu không", "thuê máy chiếu theo ngày"),
              {"vi": "Dạ, shop chưa có dịch vụ cho thuê máy chiếu ạ."}, ("dich-vu",))


@pytest.fixture
def world(tmp_path):
    return build_world(tmp_path)


def test_a_resolved_handoff_with_agent_messages_is_a_proposal(world):
    found = list_proposals(world.tracker_url, world.app_url)
    # Minh resolved 777 without writing anything; the old hand-off had no agent message either
    assert [p["handoff_id"] for p in found] == [world.handoffs["bob"]]
    proposal = found[0]
    assert proposal == {
        "handoff_id": world.handoffs["bob"], "conversation_id": "rest-bob", "channel": "rest",
        "reason": "kb_no_answer",
        # the unsure question before the hand-off, the one that started it, and what was asked while
        # waiting for the agent; phone numbers redacted; never the CSAT answer
        "question": "Shop co cho thue may chieu khong\ný mình là thuê máy chiếu đó\n"
                    "thuê theo ngày được không, sđt mình [SĐT]",
        "questions": ["Shop co cho thue may chieu khong", "ý mình là thuê máy chiếu đó",
                      "thuê theo ngày được không, sđt mình [SĐT]"],
        "answer": "Dạ shop chưa có dịch vụ cho thuê máy chiếu ạ.\nAnh/chị gọi [SĐT] để được tư vấn thêm nhé.",
        "agent": "lan", "resolved_at": "2024-05-02T11:00:50+07:00", "csat": 4,
        "status": "pending", "entry_id": None, "decided_by": None, "decided_at": None,
    }
    assert list_proposals(world.tracker_url, world.app_url, status="pending") == found
    assert list_proposals(world.tracker_url, world.app_url, status="accepted") == []


def test_accepting_stores_the_entry_and_decides_once(world):
    bob = world.handoffs["bob"]
    decided = accept(world.app_url, bob, ENTRY, "thu", existing_ids={"shipping-fee"})
    assert (decided["handoff_id"], decided["status"], decided["entry_id"], decided["decided_by"]) == (
        bob, "accepted", "thue-may-chieu", "thu")
    assert decided["decided_at"].endswith("+07:00")
    assert OverrideStore(make_engine(world.app_url)).all()["thue-may-chieu"] == ENTRY

    assert list_proposals(world.tracker_url, world.app_url, status="pending") == []
    [accepted] = list_proposals(world.tracker_url, world.app_url, status="accepted")
    assert (accepted["handoff_id"], accepted["entry_id"], accepted["decided_by"]) == (bob, "thue-may-chieu", "thu")

    other = Entry("thue-may-chieu-2", ("abc def",), {"vi": "Dạ ok"})
    with pytest.raises(AlreadyDecided):
        accept(world.app_url, bob, other, "thu")
    with pytest.raises(AlreadyDecided):
        dismiss(world.app_url, bob, "thu")
    assert "thue-may-chieu-2" not in OverrideStore(make_engine(world.app_url)).all()


def test_dismissing(world):
    bob = world.handoffs["bob"]
    decided = dismiss(world.app_url, bob, "thu")
    assert (decided["status"], decided["entry_id"], decided["decided_by"]) == ("dismissed", None, "thu")
    assert [p["handoff_id"] for p in list_proposals(world.tracker_url, world.app_url, status="dismissed")] == [bob]
    assert list_proposals(world.tracker_url, world.app_url, status="pending") == []
    with pytest.raises(AlreadyDecided):
        accept(world.app_url, bob, ENTRY, "thu")
    assert OverrideStore(make_engine(world.app_url)).all() == {}


def test_an_existing_entry_id_is_refused_and_nothing_is_decided(world):
    bob = world.handoffs["bob"]
    with pytest.raises(EntryExists):
        accept(world.app_url, bob, ENTRY, "thu", existing_ids={"thue-may-chieu"})
    OverrideStore(make_engine(world.app_url)).put(ENTRY)  # added through /admin/kb meanwhile
    with pytest.raises(EntryExists):
        accept(world.app_url, bob, ENTRY, "thu")
    assert list_proposals(world.tracker_url, world.app_url, status="pending")[0]["handoff_id"] == bob


def test_unknown_or_unresolved_handoffs(world):
    from handoff.queue import HandoffQueue

    with pytest.raises(UnknownProposal):
        accept(world.app_url, 999999, ENTRY, "thu")
    with pytest.raises(UnknownProposal):
        dismiss(world.app_url, 999999, "thu")
    waiting = HandoffQueue(make_engine(world.app_url)).enqueue("web:alice", "web", "request_human")
    with pytest.raises(UnknownProposal):
        dismiss(world.app_url, waiting.id, "thu")
    assert issubclass(UnknownProposal, proposals.ProposalError) and issubclass(EntryExists, ValueError)
    with pytest.raises(ValueError):
        list_proposals(world.tracker_url, world.app_url, status="maybe")


def test_a_failed_kb_write_leaves_the_proposal_pending(world):
    class Failing(OverrideStore):
        def put(self, entry):
            raise OSError("disk full")

    bob = world.handoffs["bob"]
    with pytest.raises(OSError):
        accept(world.app_url, bob, ENTRY, "thu", store=Failing(make_engine(world.app_url)))
    assert list_proposals(world.tracker_url, world.app_url, status="pending")[0]["handoff_id"] == bob
    assert accept(world.app_url, bob, ENTRY, "thu")["status"] == "accepted"


def test_empty_databases(tmp_path):
    assert list_proposals(f"sqlite:///{tmp_path / 'tracker.db'}", f"sqlite:///{tmp_path / 'app.db'}") == []
    with pytest.raises(UnknownProposal):
        dismiss(f"sqlite:///{tmp_path / 'app.db'}", 1, "thu")
