"""What the Redis conversation lock costs each message: cskh's lock store as shipped (issuing and
cleaning up a ticket are Redis scripts) against the same store doing those two changes as
optimistic transactions (WATCH, GET, MULTI/SET/EXEC), as it did before.

    python scripts/bench_lock_store.py [--url redis://127.0.0.1:6379/0] [--messages 2000] [--rounds 3]

One "message" is what the gateway does around each one: enter the lock of a conversation nobody
else holds (issue a ticket), then leave it (clean up). Each message uses a new conversation, as
most messages find their lock free. The ways alternate, rounds times; printed: the median over the
rounds of the wall time and this process's CPU time per message (Redis's own CPU not included),
and the commands Redis ran per message (INFO commandstats, which counts a script's call and the
GET/SET/DEL it runs inside). Round trips: a script is one; a transaction is three (WATCH, GET, then
MULTI/SET/EXEC pipelined)."""
from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Dict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cskh.locks import AtomicRedisLockStore, RenewingLockStore, lock_store  # noqa: E402


class TransactionLocks(AtomicRedisLockStore):
    """The store before the scripts: every change an optimistic transaction."""

    _issue = RenewingLockStore._issue
    cleanup = RenewingLockStore.cleanup


def _commands(store: AtomicRedisLockStore) -> int:
    stats = store.red.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


async def _measure(store: AtomicRedisLockStore, messages: int) -> Dict[str, float]:
    prefix = secrets.token_hex(4)
    for i in range(50):  # warm-up: connection, script load
        async with store.lock(f"{prefix}-warm-{i}"):
            pass
    commands = _commands(store)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(messages):
        async with store.lock(f"{prefix}-{i}"):
            pass
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_ms": 1000 * wall / messages, "cpu_ms": 1000 * cpu / messages,
            "commands": (_commands(store) - commands - 1) / messages}  # -1: the INFO call itself


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    shipped = lock_store(args.url, "bench" + secrets.token_hex(4))
    assert isinstance(shipped, AtomicRedisLockStore)
    older = TransactionLocks(host=shipped.red.connection_pool.connection_kwargs["host"],
                             port=shipped.red.connection_pool.connection_kwargs["port"],
                             db=shipped.red.connection_pool.connection_kwargs.get("db", 0),
                             key_prefix=shipped.key_prefix)
    ways = {"scripts (shipped)": shipped, "transactions (before)": older}
    found: Dict[str, list] = {name: [] for name in ways}
    for round_ in range(args.rounds):
        for name in (list(ways) if round_ % 2 == 0 else list(reversed(ways))):
            found[name].append(asyncio.run(_measure(ways[name], args.messages)))
    print(f"{args.messages} messages per round, {args.rounds} alternating rounds, medians\n")
    print("| issue + clean up | wall ms per message | client CPU ms per message | commands Redis ran per message |")
    print("|---|---|---|---|")
    for name, rounds in found.items():
        m = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        print(f"| {name} | {m['wall_ms']:.3f} | {m['cpu_ms']:.3f} | {m['commands']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
