"""The periodic task behind the model watcher and the KB sync."""
import asyncio

from cskh.polling import Every


def test_every_runs_its_action_repeatedly_until_stopped():
    calls = []

    async def scenario():
        async def action():
            calls.append(1)

        poll = Every(0.01, action, "test")
        poll.start()
        poll.start()  # idempotent: still one task
        await asyncio.sleep(0.1)
        await poll.stop()
        seen = len(calls)
        await asyncio.sleep(0.05)
        return seen

    seen = asyncio.run(scenario())
    assert seen >= 3 and len(calls) == seen


def test_every_with_zero_seconds_never_starts():
    async def scenario():
        async def action():
            raise AssertionError("must not run")

        poll = Every(0, action, "off")
        poll.start()
        await asyncio.sleep(0.02)
        await poll.stop()

    asyncio.run(scenario())
