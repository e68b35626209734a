"""Load generator: realistic scripted conversations through the REST channel or the widget's
WebSocket, in two modes.

- saturation: every conversation sends its next message as soon as the previous one is answered;
  the figure is the messages/s the service sustains.
- paced: conversations wait `think` seconds (uniform in a range, 5-8 s by default) between
  messages, as customers type; the figure is the latency distribution at that offered load.

Every message is checked: an error is a non-200 answer, a WebSocket error frame, a timeout, a
dropped connection or a message answered with nothing. Cross-talk is a reply addressed to another
conversation (REST `recipient_id`, WebSocket `reply_to`), or an order lookup answered with some
other conversation's order. A benchmark, not a test: it reports, it never asserts.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import ssl
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import httpx
import websockets

# (order code, phone) pairs of the demo shop whose lookup answers plainly (../shared/shop/SHOP.md)
ORDERS: Sequence[Tuple[str, str]] = (("DH1001", "0901234567"), ("DH1002", "0912345678"),
                                     ("DH1003", "0987654321"), ("DH1005", "0933333333"))


@dataclass(frozen=True)
class Turn:
    text: str
    expect: str = ""  # a string the replies must contain (the conversation's own order code)


def script(rng: random.Random) -> List[Turn]:
    """One customer's visit: greeting, one or two KB questions, a product question, an order lookup
    with verification, thanks. Phrasings vary so that NLU and the KB do real work."""
    code, phone = rng.choice(ORDERS)
    return [
        Turn(rng.choice(["xin chào shop", "chào shop ạ", "shop ơi"])),
        Turn(rng.choice(["phí ship bao nhiêu vậy", "đổi trả trong bao nhiêu ngày vậy shop",
                         "shop có trả góp không", "bảo hành điện thoại bao lâu"])),
        Turn(rng.choice(["nova x5 màu tím còn hàng không", "lumi book 14 giá bao nhiêu",
                         "echo buds 2 còn màu trắng không"])),
        Turn(rng.choice(["kiểm tra đơn hàng giúp mình", "cho mình hỏi đơn hàng của mình tới đâu rồi",
                         "tra cứu đơn hàng"])),
        Turn(code),
        Turn(phone, expect=code),
        Turn(rng.choice(["cảm ơn shop", "ok cảm ơn nhé", "cám ơn shop nhiều"])),
    ]


@dataclass
class Tally:
    latencies: List[float] = field(default_factory=list)  # seconds, answered messages only
    errors: Dict[str, int] = field(default_factory=dict)
    crossed: int = 0
    sent: int = 0
    # every message: (conversation, text, "answered" or the error kind), for the fault tests
    outcomes: List[Tuple[str, str, str]] = field(default_factory=list)

    def error(self, kind: str, conversation: str = "", text: str = "") -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.outcomes.append((conversation, text, kind))

    def answered(self, elapsed: float, conversation: str, text: str) -> None:
        self.latencies.append(elapsed)
        self.outcomes.append((conversation, text, "answered"))


@dataclass(frozen=True)
class Plan:
    url: str
    transport: str            # rest | ws
    conversations: int
    duration: float           # seconds of sending; messages in flight at the end are awaited
    think: Tuple[float, float] = (0.0, 0.0)  # (0, 0): saturation
    timeout: float = 30.0
    seed: int = 7


def _texts(replies: Sequence[dict]) -> str:
    return " ".join(str(r.get("text") or "") for r in replies)


async def _rest_turn(client: httpx.AsyncClient, plan: Plan, sender: str, turn: Turn, tally: Tally) -> None:
    """One message; `turn.expect` is only checked when every earlier message of the visit was
    answered (the caller clears it otherwise: a failed order code leaves nothing to look up)."""
    started = time.perf_counter()
    try:
        response = await client.post(f"{plan.url}/webhooks/rest/webhook", json={"sender": sender, "message": turn.text})
    except httpx.TimeoutException:
        tally.error("timeout", sender, turn.text)
        return
    except httpx.HTTPError as failure:
        tally.error(type(failure).__name__, sender, turn.text)
        return
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        tally.error(f"http {response.status_code}", sender, turn.text)
        return
    replies = response.json()
    if not replies:
        tally.error("no reply", sender, turn.text)
        return
    if any(r.get("recipient_id") != sender for r in replies) or (turn.expect and turn.expect not in _texts(replies)):
        tally.crossed += 1
    tally.answered(elapsed, sender, turn.text)


class _Socket:
    """One widget conversation's WebSocket. A message is answered when its ack arrives; the message
    frames before it are its replies."""

    def __init__(self, plan: Plan, conversation: str) -> None:
        self.plan, self.conversation = plan, conversation
        self.socket: Optional[websockets.WebSocketClientProtocol] = None

    async def open(self) -> None:
        base = self.plan.url.replace("http://", "ws://").replace("https://", "wss://")
        self.socket = await websockets.connect(f"{base}/ws/chat?conversation={self.conversation}",
                                               open_timeout=self.plan.timeout, max_size=2 ** 22)

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()

    async def turn(self, turn: Turn, tally: Tally) -> None:
        if self.socket is None or self.socket.closed:
            try:
                await self.open()
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException):
                tally.error("ws connect", self.conversation, turn.text)
                return
        assert self.socket is not None
        message_id = uuid.uuid4().hex[:16]
        started = time.perf_counter()
        replies: List[dict] = []
        try:
            await self.socket.send(json.dumps({"type": "message", "text": turn.text, "id": message_id}))
            while True:
                frame = json.loads(await asyncio.wait_for(self.socket.recv(), self.plan.timeout))
                kind = frame.get("type")
                if kind == "message" and frame.get("from") != "user":
                    if frame.get("reply_to") not in (None, message_id):
                        tally.crossed += 1
                    replies.append(frame)
                elif kind == "error":
                    tally.error("ws error frame", self.conversation, turn.text)
                    return
                elif kind == "ack" and frame.get("id") == message_id:
                    break
        except asyncio.TimeoutError:
            tally.error("timeout", self.conversation, turn.text)
            await self.close()
            self.socket = None
            return
        except websockets.WebSocketException:
            tally.error("ws closed", self.conversation, turn.text)
            self.socket = None
            return
        elapsed = time.perf_counter() - started
        if not replies:
            tally.error("no reply", self.conversation, turn.text)
            return
        if turn.expect and turn.expect not in _texts(replies):
            tally.crossed += 1
        tally.answered(elapsed, self.conversation, turn.text)


async def _conversation(plan: Plan, new_client: Callable[[], httpx.AsyncClient], rng: random.Random,
                        deadline: float, tally: Tally) -> None:
    low, high = plan.think
    if high:  # paced: spread the first messages over one think time, as arrivals would be
        await asyncio.sleep(rng.uniform(0, high))
    while time.perf_counter() < deadline:
        sender = f"load-{uuid.uuid4().hex[:12]}"  # a new customer after each visit
        # each customer comes with a connection of their own (the widget's WebSocket, or a REST
        # client's keep-alive connection)
        socket = _Socket(plan, sender) if plan.transport == "ws" else None
        client = new_client() if socket is None else None
        try:
            disrupted = False
            for turn in script(rng):
                if time.perf_counter() >= deadline:
                    return
                if disrupted:
                    turn = Turn(turn.text)  # this visit lost a message: its order lookup proves nothing
                tally.sent += 1
                if socket is not None:
                    await socket.turn(turn, tally)
                else:
                    assert client is not None
                    await _rest_turn(client, plan, sender, turn, tally)
                # no await since the turn recorded its outcome: the last one is this turn's
                failed = tally.outcomes[-1][2] != "answered"
                disrupted = disrupted or failed
                if failed and not high:  # a client told "busy" waits before its next message
                    await asyncio.sleep(1.0)
                if high:
                    await asyncio.sleep(rng.uniform(low, high))
        finally:
            if socket is not None:
                await socket.close()
            if client is not None:
                await client.aclose()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


async def run(plan: Plan, tally: Optional[Tally] = None) -> dict:
    """Drive the plan; return its figures (latencies in ms). Pass a Tally to keep every outcome."""
    tally = tally if tally is not None else Tally()
    # A connection per customer, as real customers come: one pool shared by all conversations
    # would send most requests over its first idle connections, and with several server workers
    # those belong to whichever worker accepted them. One TLS context for every client (building
    # one per client costs CPU that the service, on the same machine, would lose).
    context = ssl.create_default_context()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    def new_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=plan.timeout, limits=limits, verify=context)

    started = time.perf_counter()
    deadline = started + plan.duration
    await asyncio.gather(*(_conversation(plan, new_client, random.Random(plan.seed * 100_003 + i), deadline, tally)
                           for i in range(plan.conversations)))
    wall = time.perf_counter() - started
    ms = [x * 1000 for x in tally.latencies]
    return {"transport": plan.transport, "mode": "paced" if plan.think[1] else "saturation",
            "conversations": plan.conversations, "seconds": round(wall, 1), "sent": tally.sent,
            "answered": len(ms), "msg_per_s": len(ms) / wall if wall else 0.0,
            "p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99),
            "mean": statistics.fmean(ms) if ms else float("nan"),
            "errors": sum(tally.errors.values()), "error_kinds": dict(tally.errors), "crossed": tally.crossed}


HEADER = ("| transport | mode | conversations | seconds | sent | answered | msg/s | p50 ms | p95 ms | p99 ms | errors "
          "| cross-talk |\n|---|---|---|---|---|---|---|---|---|---|---|---|")


def row(stats: dict) -> str:
    kinds = ", ".join(f"{k}: {v}" for k, v in sorted(stats["error_kinds"].items()))
    return (f"| {stats['transport']} | {stats['mode']} | {stats['conversations']} | {stats['seconds']:.0f} | "
            f"{stats['sent']} | {stats['answered']} | {stats['msg_per_s']:.1f} | {stats['p50']:.0f} | "
            f"{stats['p95']:.0f} | {stats['p99']:.0f} | {stats['errors']}{f' ({kinds})' if kinds else ''} | "
            f"{stats['crossed']} |")


def parse_think(value: str) -> Tuple[float, float]:
    """"5-8" → (5.0, 8.0); "0" → saturation."""
    low, _, high = value.partition("-")
    pair = (float(low), float(high or low))
    if pair[0] < 0 or pair[1] < pair[0]:
        raise argparse.ArgumentTypeError(f"think must be LOW-HIGH seconds, got {value!r}")
    return pair


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--transport", choices=("rest", "ws"), default="rest")
    parser.add_argument("--mode", choices=("saturation", "paced"), default="saturation")
    parser.add_argument("--conversations", type=int, default=None,
                        help="concurrent conversations (default: 40 saturation, 200 paced)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of sending")
    parser.add_argument("--think", type=parse_think, default=(5.0, 8.0), help="paced: seconds between messages")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line instead")


def plan_from(args: argparse.Namespace) -> Plan:
    paced = args.mode == "paced"
    conversations = args.conversations or (200 if paced else 40)
    return Plan(url=args.url.rstrip("/"), transport=args.transport, conversations=conversations,
                duration=args.duration, think=args.think if paced else (0.0, 0.0))


def main(args: argparse.Namespace) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the table
    stats = asyncio.run(run(plan_from(args)))
    if args.json:
        print(json.dumps(stats, ensure_ascii=False))
    else:
        print(HEADER)
        print(row(stats))
    return 0
