"""Concurrent conversations through POST /webhooks/rest/webhook: messages/s and latency percentiles.

Each conversation replays a realistic script (greeting, FAQ, product question, order lookup with
verification) as fast as replies arrive. A benchmark, not a test: it reports, it never asserts.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import List

import httpx

SCRIPT = [
    "xin chào shop",
    "phí ship bao nhiêu vậy",
    "nova x5 màu tím còn hàng không",
    "kiểm tra đơn hàng giúp mình",
    "DH1002",
    "0912345678",
    "cảm ơn shop",
]


@dataclass
class Result:
    latencies: List[float] = field(default_factory=list)
    errors: int = 0
    crossed: int = 0


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def conversation(client: httpx.AsyncClient, url: str, rounds: int, result: Result) -> None:
    sender = f"bench-{uuid.uuid4().hex[:12]}"
    for _ in range(rounds):
        for text in SCRIPT:
            started = time.perf_counter()
            try:
                response = await client.post(url, json={"sender": sender, "message": text})
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    result.errors += 1
                    continue
                replies = response.json()
                if any(r.get("recipient_id") != sender for r in replies):
                    result.crossed += 1
                result.latencies.append(elapsed)
            except httpx.HTTPError:
                result.errors += 1


async def run(url: str, conversations: int, rounds: int) -> dict:
    result = Result()
    endpoint = f"{url.rstrip('/')}/webhooks/rest/webhook"
    limits = httpx.Limits(max_connections=conversations + 5)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(conversation(client, endpoint, rounds, result) for _ in range(conversations)))
        wall = time.perf_counter() - started
    ms = [x * 1000 for x in result.latencies]
    return {"conversations": conversations, "messages": len(ms), "seconds": wall,
            "msg_per_s": len(ms) / wall if wall else 0.0, "p50": percentile(ms, 50), "p95": percentile(ms, 95),
            "p99": percentile(ms, 99), "mean": statistics.fmean(ms) if ms else float("nan"),
            "errors": result.errors, "crossed": result.crossed}


HEADER = "| conversations | messages | msg/s | p50 ms | p95 ms | p99 ms | errors | cross-talk |\n|---|---|---|---|---|---|---|---|"


def row(stats: dict) -> str:
    return (f"| {stats['conversations']} | {stats['messages']} | {stats['msg_per_s']:.1f} | {stats['p50']:.0f} | "
            f"{stats['p95']:.0f} | {stats['p99']:.0f} | {stats['errors']} | {stats['crossed']} |")


def main(args: argparse.Namespace) -> int:
    stats = asyncio.run(run(args.url, args.conversations, args.rounds))
    print(HEADER)
    print(row(stats))
    return 0
