"""Agent and lead accounts: scrypt-hashed passwords (Python's hashlib), expiring sessions with a
CSRF token each. Roles: "agent" (the console) and "lead" (the console and the admin pages)."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, List, Optional

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

metadata = MetaData()
users = Table(
    "users", metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", String(128), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
sessions = Table(
    "sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

ROLES = ("agent", "lead")
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1, "dklen": 32}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    params = dict(SCRYPT, n=int(n))
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **params)
    return hmac.compare_digest(candidate.hex(), digest)


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: str


@dataclass(frozen=True)
class Session:
    token: str
    user: User
    csrf: str
    expires_at: datetime


class AccountError(ValueError):
    """Bad account input (the message says what)."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, engine: Engine, session_minutes: int = 480,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.engine = engine
        self.session_minutes = session_minutes
        self.clock = clock
        metadata.create_all(engine)

    def create(self, username: str, password: str, role: str = "agent", display_name: str = "") -> User:
        if role not in ROLES:
            raise AccountError(f"role must be one of {ROLES}")
        if not username.isidentifier() or len(username) > 64:
            raise AccountError("username: letters, digits and underscores")
        if len(password) < 10:
            raise AccountError("password: at least 10 characters")
        try:
            with self.engine.begin() as conn:
                conn.execute(users.insert().values(username=username, display_name=display_name or username,
                                                   password_hash=hash_password(password), role=role,
                                                   created_at=self.clock()))
        except IntegrityError as error:
            raise AccountError(f"user {username} exists") from error
        return User(username, display_name or username, role)

    def list(self) -> List[User]:
        with self.engine.connect() as conn:
            return [User(r.username, r.display_name, r.role) for r in conn.execute(select(users))]

    def login(self, username: str, password: str) -> Optional[Session]:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
        if row is None:
            verify_password(password, hash_password("timing-equaliser"))
            return None
        if not verify_password(password, row.password_hash):
            return None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires = self.clock() + timedelta(minutes=self.session_minutes)
        with self.engine.begin() as conn:
            conn.execute(sessions.insert().values(token_hash=_token_hash(token), username=username, csrf=csrf,
                                                  expires_at=expires))
        return Session(token, User(row.username, row.display_name, row.role), csrf, expires)

    def session(self, token: Optional[str]) -> Optional[Session]:
        if not token:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions, users.c.display_name, users.c.role)
                               .join(users, users.c.username == sessions.c.username)
                               .where(sessions.c.token_hash == _token_hash(token))).first()
        if row is None:
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=timezone.utc)
        if expires <= self.clock():
            self.logout(token)
            return None
        return Session(token, User(row.username, row.display_name, row.role), row.csrf, expires)

    def logout(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.token_hash == _token_hash(token)))
