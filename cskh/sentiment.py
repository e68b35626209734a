"""Frustration detector: negative / neutral / positive for customer messages, Vietnamese first.

Two parts:

* a curated lexicon (Vietnamese with and without diacritics, teen code, profanity; English), matched
  with word boundaries on the views of `cskh.text` (normalised, and accent-folded). Strong
  profanity or insults aimed at the shop override the classifier: the message is negative whatever
  the model says.
* a small classifier trained on the team-written `sentiment_data/train.tsv`: TF-IDF over character
  n-grams (2-5, char_wb) of the folded text, word uni/bigrams of the normalised text (diacritics kept,
  so "ngu" and "ngủ" stay apart when the customer typed the marks), and lexicon/shape features
  (lexicon hits, share of capitals, "!!"/"??" runs, stretched letters), fed to a balanced
  LogisticRegression.

The handoff decision is separate from the label: `is_frustrated(s)` compares the negative
probability with DEFAULT_THRESHOLD, which was chosen by cross-validation on the training set
(`calibrate_threshold`) so that at most 3% of neutral messages would be handed to a human.

Nothing heavy happens at import time; `default_model()` trains on first use (well under a second
on the bundled data) and caches the fitted model in var/sentiment.pkl, keyed by a hash of
train.tsv, this module's source and version, and the scikit-learn version.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

from cskh.text import fold, has_diacritics, normalize

log = logging.getLogger(__name__)

MODULE_VERSION = "1"
LABELS: Tuple[str, ...] = ("negative", "neutral", "positive")
DATA_DIR = Path(__file__).resolve().parent / "sentiment_data"
TRAIN_PATH = DATA_DIR / "train.tsv"
TEST_PATH = DATA_DIR / "test.tsv"
CACHE_PATH = Path(__file__).resolve().parent.parent / "var" / "sentiment.pkl"

# Chosen with calibrate_threshold() on train.tsv (5-fold cross-validation, target: at most 3% of
# neutral messages handed off); scripts/eval_sentiment.py prints the value it finds today.
DEFAULT_THRESHOLD = 0.5
FALSE_HANDOFF_TARGET = 0.03
# The negative probability reported when the lexicon override fires.
OVERRIDE_PROBABILITY = 0.97


@dataclass(frozen=True)
class Sentiment:
    label: str  # "negative" | "neutral" | "positive"
    score: float  # probability of `label`, 0..1
    negative_probability: float
    signals: Tuple[str, ...] = ()  # lexicon/shape evidence, e.g. ("profanity:dm", "caps")


# --------------------------------------------------------------------------------------------
# Lexicon. Patterns are regular expressions over the folded, normalised text (lower case, chat
# abbreviations expanded, no diacritics) unless said otherwise; each is wrapped in word boundaries.

# Strong profanity and insults: any hit makes the message negative.
_STRONG_FOLDED = [
    r"dm+", r"dcm", r"dkm", r"dmm", r"dml", r"dit(?: me| cu| con me| moe)?", r"djt", r"du ma", r"du me",
    r"vcl", r"vkl", r"vcc", r"vl", r"vld", r"cc", r"clgt", r"cl", r"loz", r"dech",
    r"oc cho", r"suc vat", r"khon nan", r"mat day", r"vo hoc", r"bo lao", r"lao toet", r"hon lao",
    r"me may", r"cho chet", r"an hai", r"do rac", r"hang rac", r"an cuop", r"an chan",
    r"nhu (?:cc|cut|l|lon|loz|c|shit|hach)", r"nhu c\*+", r"c\*+",
    r"fuck\w*", r"f\*+k\w*", r"shit", r"bullshit", r"wtf", r"stfu", r"idiots?", r"stupid", r"morons?",
    r"scammers?", r"scammed", r"crap",
]
# Only when the customer typed diacritics: these words are ambiguous once folded
# (đéo/đeo, ngu/ngủ, mày/máy, tao/tạo, láo/Lào, chó/cho, lồn/lớn, vãi/vài).
_STRONG_DIACRITIC = [
    r"đéo", r"đếch", r"địt", r"lồn", r"cứt", r"ngu", r"láo", r"mày", r"tao", r"vãi\w*",
    r"(?:đồ|như|óc|con|thằng) chó", r"chó má", r"khốn", r"cút",
]
# Only when the message has no diacritics at all: contextual forms of the ambiguous words.
_STRONG_BARE = [
    r"deo (?:hieu|biet|bao gio|can|mua|giao|tra loi|thay|duoc|ra gi|on|nghe|co ai|thiet|ai)",
    r"ngu (?:the|vay|qua|vl|vcl|nhu|si|ngoc|vai)", r"(?<!che )do ngu", r"(?:thang|con|bot|nv|shop|nhan vien) ngu",
    r"lam an (?:lao|nhu l)", r"vai (?:l|lon|ca|chuong)",
]
# "lừa đảo" is an accusation, except when the customer asks whether some call or SMS is a scam.
_SCAM = re.compile(r"\blua dao\b")
_SCAM_QUESTION = re.compile(
    r"\b(?:co phai|phai khong|co lua dao|lua dao (?:khong|ha|hay khong|ko|k)\b|co that|is (?:this|it|that) (?:a )?scam)")
# Profanity used as an intensifier after praise ("ngon vl", "giao nhanh vãi") is not frustration.
_PRAISE_INTENSIFIER = re.compile(
    r"\b(?:ngon|dinh|xin|nhanh|dep|re|chat|tot|thich|hay|ok|on|muot|em|sieu|xin xo|ung|sang)"
    r" (?:vl|vcl|vkl|vai(?: ca| chuong)?|vcc|dien)\b")

# Complaint, escalation and annoyance phrases (weaker evidence, a feature for the classifier).
_COMPLAINT = [
    r"lam an", r"kieu gi", r"kieu j", r"bo cong thuong", r"so cong thuong", r"cong an", r"(?:se|di) kien", r"kien (?:shop|cong ty|ra|cac)", r"phot",
    r"toa an", r"o toa", r"luat su", r"bao chi", r"co quan chuc nang", r"bao ve nguoi tieu dung",
    r"1 sao", r"mot sao", r"that vong", r"buc\w*", r"chan (?:qua|that|ghe|vl|vai|doi|khong|shop|lam)",
    r"qua chan", r"tuc (?:qua|dien|oi|that|minh|ghe|chet)", r"uc che", r"nan (?:qua|that|thiet|ghe|voi)",
    r"met (?:qua|moi|ghe|that)", r"dien (?:mat|nguoi|len)", r"phat dien", r"qua dang", r"vo ly",
    r"vo trach nhiem", r"thai do", r"coi thuong", r"khinh", r"nhu (?:may|robot|rua|sen)", r"vo dung",
    r"te (?:qua|hai|nhat|that|vl|vai)", r"qua te", r"dich vu te", r"(?:hang )?dom", r"hang lom", r"rom",
    r"lua (?:khach|dao)", r"noi doi", r"hua (?:suong|leo|hen)", r"do loi", r"do thua", r"chat chem",
    r"cat co", r"tay chay", r"canh bao", r"khong bao gio (?:mua|quay)", r"cach mat", r"mat (?:niem tin|kien nhan)",
    r"het (?:kien nhan|tin)", r"vong vo", r"linh tinh", r"vo van", r"noi xam", r"xam (?:l|vl|xi)", r"nham nhi", r"phien",
    r"kinh khung", r"kem (?:chat luong|coi)", r"chat luong kem", r"qua kem", r"(?:mat|ton|phi) thoi gian", r"vo ich",
    r"ruom ra", r"nuot loi", r"lai (?:hong|loi|tre|giao sai|nua|bao loi)", r"haiz+", r"troi oi", r"hang gi",
    r"do hoi", r"chap nhan", r"nhanh len", r"co ai lam viec", r"(?:den|cho den) bao gio", r"bao gio moi", r"hoai",
    r"lan thu \d+", r"\d+ lan (?:roi|lien|deu)", r"(?:ba|bon|nam|may|bao nhieu|muoi) lan", r"van chua",
    r"khong ai (?:tra loi|nghe|bat|goi|chiu|xu ly|giai quyet)", r"im (?:re|lang|luon)", r"seen",
    r"quan ly", r"giam doc", r"hoan tien ngay", r"tra (?:lai )?tien (?:day|ngay|cho toi|cho tao)", r"ngay lap tuc",
    r"cau tha", r"tro (?:dua|he)", r"trach nhiem", r"doi (?:dai co|moi mat)", r"mon moi", r"chua thay ai",
    r"tien mat tat mang", r"xui", r"dep (?:di|tiem)", r"nghi ban", r"dong cua di", r"dua (?:a|toi)",
    r"ridiculous", r"unacceptable", r"worst", r"terrible", r"horrible", r"awful", r"useless", r"incompetent",
    r"disappointed", r"pathetic", r"joke", r"fed up", r"furious", r"angry", r"upset", r"never again",
    r"(?:third|fourth|fifth|\d+(?:rd|th)?) times?", r"still (?:not|no)", r"nobody", r"no one", r"refund me",
    r"money back", r"report", r"waste\w*", r"garbage", r"lie[sd]?", r"excuses", r"seriously",
    r"unbelievable", r"ruin\w*", r"rude", r"fraud", r"scam", r"enough", r"kidding", r"done with", r"the hell",
    r"copy paste", r"same (?:answer|question|thing)", r"how hard", r"what kind of", r"apolog\w*", r"for nothing",
    r"1 star", r"one star", r"how many times", r"wrong \w+ again", r"never (?:buying|ordering|buy|order)",
]
_POSITIVE = [
    r"cam on", r"cam ta", r"cam kich", r"thanks?", r"tks", r"tuyet\w*", r"hai long", r"ung y", r"ung ho",
    r"nhiet tinh", r"chu dao", r"de thuong", r"uy tin", r"xin xo", r"5 sao", r"10 diem",
    r"tan tinh", r"co tam", r"thich", r"dep", r"ngon", r"yeu shop", r"iu shop", r"xuat sac", r"on ap", r"chuc (?:shop|ca|ban|em|team|nam moi)", r"vui qua",
    r"de chiu", r"duoc viec", r"yen tam", r"dang (?:tien|dong tien)", r"khong (?:co gi de |)che", r"khen", r"gia hoi",
    r"wonderful", r"nice", r"appreciate\w*", r"5 stars", r"friendly", r"professional", r"(?:super|so|really) fast", r"fast (?:shipping|delivery)",
    r"dinh (?:qua|that|cua|ghe|vl|vcl|vai|lam)", r"qua dinh", r"(?:rat|dich vu|gia) tot", r"tot (?:qua|lam|ghe|that)",
    r"great", r"awesome", r"excellent", r"love", r"happy", r"perfect", r"amazing", r"helpful", r"cheers",
]
# Politeness markers: requests phrased like this are rarely frustration.
_POLITE = [
    r"giup", r"gium", r"dum", r"nhe", r"nha", r"vui long", r"please", r"pls", r"cho (?:minh|em|toi|chi|anh) (?:hoi|xin)",
    r"shop oi", r"ad oi", r"ban oi", r"can you", r"could you", r"may i", r"is (?:it|that|this)",
]
_NEG_EMOJI = "😡😤🤬😠👿💢😒🙄😞😩😫"
_POS_EMOJI = "❤😍🥰👍😊😘🤗💯🎉♥"


def _compile(patterns: Sequence[str]) -> "re.Pattern[str]":
    return re.compile(r"(?<!\w)(?:" + "|".join(f"(?:{p})" for p in patterns) + r")(?!\w)")


_STRONG_FOLDED_RE = _compile(_STRONG_FOLDED)
_STRONG_DIACRITIC_RE = _compile(_STRONG_DIACRITIC)
_STRONG_BARE_RE = _compile(_STRONG_BARE)
_COMPLAINT_RE = _compile(_COMPLAINT)
_POSITIVE_RE = _compile(_POSITIVE)
_POLITE_RE = _compile(_POLITE)
_WORD = re.compile(r"\w+")
_A_POLITE = re.compile(r"(?<!\w)ạ(?!\w)")  # the polite particle, only with its mark
_EXCLAIM = re.compile(r"!{2,}")
_QUESTIONS = re.compile(r"\?{2,}")
_STRETCH = re.compile(r"([^\W\d_])\1{2,}")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class Lexicon:
    """What the lexicon sees in one message."""

    strong: Tuple[str, ...]
    complaints: Tuple[str, ...]
    positives: Tuple[str, ...]
    praise_intensifier: bool
    caps_share: float  # share of upper-case letters, 0 when the message has fewer than 8 letters
    exclaim_runs: int
    question_runs: int
    stretched: int  # letters repeated three times or more ("quáaaa", "đâuuuu")
    negative_emoji: int
    positive_emoji: int
    polite: int = 0  # politeness markers ("giúp", "ạ", "nhé", "please")
    words: int = 0

    def signals(self) -> Tuple[str, ...]:
        out: List[str] = [f"profanity:{w}" for w in self.strong]
        out += [f"complaint:{w}" for w in self.complaints]
        out += [f"positive:{w}" for w in self.positives]
        if self.caps_share >= 0.6:
            out.append("caps")
        if self.exclaim_runs:
            out.append("!!")
        if self.question_runs:
            out.append("??")
        if self.stretched:
            out.append("stretched")
        if self.negative_emoji:
            out.append("negative-emoji")
        if self.positive_emoji:
            out.append("positive-emoji")
        return tuple(out)

    def vector(self) -> List[float]:
        def capped(n: int, cap: int = 3) -> float:
            return min(n, cap) / cap

        return [
            capped(len(self.strong)), capped(len(self.complaints)), capped(len(self.positives)),
            float(self.praise_intensifier), self.caps_share, float(self.caps_share >= 0.6),
            capped(self.exclaim_runs, 2), capped(self.question_runs, 2), capped(self.stretched, 2),
            capped(self.negative_emoji, 2), capped(self.positive_emoji, 2), capped(self.polite, 2),
            float(self.words <= 2), float(self.words <= 5), float(bool(self.positives) and bool(self.complaints)),
        ]


def _blank(text: str, spans: Iterable[Tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            chars[i] = " "
    return "".join(chars)


def analyse(text: str) -> Lexicon:
    """Lexicon hits and shape features of one raw message."""
    norm = normalize(text)
    folded = fold(norm)  # same length as norm: fold() maps each character to one character
    praise = [m.span() for m in _PRAISE_INTENSIFIER.finditer(folded)]
    if praise:  # "ngon vl": the profanity is praise, hide it from the strong patterns
        norm, folded = _blank(norm, praise), _blank(folded, praise)
    strong = [m.group(0) for m in _STRONG_FOLDED_RE.finditer(folded)]
    if has_diacritics(text):
        strong += [m.group(0) for m in _STRONG_DIACRITIC_RE.finditer(norm)]
    else:
        strong += [m.group(0) for m in _STRONG_BARE_RE.finditer(folded)]
    if _SCAM.search(folded) and not _SCAM_QUESTION.search(folded):
        strong.append("lua dao")
    letters = _LETTER.findall(unicodedata.normalize("NFC", text))
    caps = sum(ch.isupper() for ch in letters) / len(letters) if len(letters) >= 8 else 0.0
    return Lexicon(
        strong=tuple(strong),
        complaints=tuple(m.group(0) for m in _COMPLAINT_RE.finditer(folded)),
        positives=tuple(m.group(0) for m in _POSITIVE_RE.finditer(folded)),
        praise_intensifier=bool(praise),
        caps_share=round(caps, 3),
        exclaim_runs=len(_EXCLAIM.findall(text)),
        question_runs=len(_QUESTIONS.findall(text)),
        stretched=len(_STRETCH.findall(text.lower())),
        negative_emoji=sum(text.count(e) for e in _NEG_EMOJI),
        positive_emoji=sum(text.count(e) for e in _POS_EMOJI),
        polite=len(_POLITE_RE.findall(folded)) + len(_A_POLITE.findall(norm)),
        words=len(_WORD.findall(folded)),
    )


def lexicon_only(text: str) -> Sentiment:
    """The lexicon on its own (the baseline the evaluation compares the model with)."""
    if not text.strip():
        return Sentiment("neutral", 1.0, 0.0, ("empty",))
    lex = analyse(text)
    negative = 2 * len(lex.strong) + len(lex.complaints) + lex.exclaim_runs + lex.question_runs \
        + lex.negative_emoji + (lex.caps_share >= 0.6 and (lex.exclaim_runs + lex.question_runs) > 0)
    positive = len(lex.positives) + lex.positive_emoji + lex.praise_intensifier
    if lex.strong or negative > positive:
        return Sentiment("negative", 1.0, 1.0, lex.signals())
    if positive > 0:
        return Sentiment("positive", 1.0, 0.0, lex.signals())
    return Sentiment("neutral", 1.0, 0.0, lex.signals())


# --------------------------------------------------------------------------------------------
# Data


def load_rows(path: Path = TRAIN_PATH) -> List[Tuple[str, str]]:
    """(label, text) rows of a label<TAB>text file; blank lines and '#' comments are skipped."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            label, sep, text = line.partition("\t")
            if not sep or label not in LABELS:
                raise ValueError(f"{path}:{number}: expected label<TAB>text with label in {LABELS}")
            rows.append((label, text))
    return rows


# --------------------------------------------------------------------------------------------
# Model


def _folded_view(text: str) -> str:
    return fold(normalize(text))


class SentimentModel:
    def __init__(self, c: float = 4.0) -> None:
        self.c = c
        self._char = None
        self._word = None
        self._clf = None
        self.version = MODULE_VERSION

    # features -------------------------------------------------------------------------------
    def _features(self, texts: Sequence[str], fit: bool = False):
        from scipy.sparse import csr_matrix, hstack

        folded = [_folded_view(t) for t in texts]
        normed = [normalize(t) for t in texts]
        if fit:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=1, sublinear_tf=True)
            self._word = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b",
                                         min_df=1, sublinear_tf=True)
            chars = self._char.fit_transform(folded)
            words = self._word.fit_transform(normed)
        else:
            chars = self._char.transform(folded)
            words = self._word.transform(normed)
        lexicons = [analyse(t) for t in texts]
        dense = csr_matrix(np.array([lex.vector() for lex in lexicons], dtype=np.float64))
        return hstack([chars, words, dense]).tocsr(), lexicons

    # training -------------------------------------------------------------------------------
    def train(self, rows: Sequence[Tuple[str, str]]) -> "SentimentModel":
        from sklearn.linear_model import LogisticRegression

        labels = [label for label, _ in rows]
        texts = [text for _, text in rows]
        x, _ = self._features(texts, fit=True)
        self._clf = LogisticRegression(C=self.c, class_weight="balanced", max_iter=2000)
        self._clf.fit(x, labels)
        return self

    @property
    def trained(self) -> bool:
        return self._clf is not None

    # prediction -----------------------------------------------------------------------------
    def predict(self, text: str) -> Sentiment:
        return self.predict_many([text])[0]

    def predict_many(self, texts: Sequence[str]) -> List[Sentiment]:
        if not self.trained:
            raise RuntimeError("SentimentModel is not trained: call train() or load()")
        texts = list(texts)
        out: List[Optional[Sentiment]] = [None] * len(texts)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        for i, t in enumerate(texts):
            if not t.strip():
                out[i] = Sentiment("neutral", 1.0, 0.0, ("empty",))
        if todo:
            x, lexicons = self._features([texts[i] for i in todo])
            probabilities = self._clf.predict_proba(x)
            classes = list(self._clf.classes_)
            neg = classes.index("negative")
            for row, i in enumerate(todo):
                p = probabilities[row]
                lex = lexicons[row]
                if lex.strong:  # the override: profanity/insult is negative whatever the model says
                    negative = max(float(p[neg]), OVERRIDE_PROBABILITY)
                    out[i] = Sentiment("negative", negative, negative, ("override",) + lex.signals())
                    continue
                best = int(np.argmax(p))
                out[i] = Sentiment(classes[best], float(p[best]), float(p[neg]), lex.signals())
        return out  # type: ignore[return-value]

    # persistence ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(self, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    @classmethod
    def load(cls, path: Path) -> "SentimentModel":
        """Load a model written by save(). Only load files this program wrote (pickle)."""
        with open(path, "rb") as handle:
            model = pickle.load(handle)
        if not isinstance(model, cls):
            raise TypeError(f"{path} does not hold a SentimentModel")
        return model


# --------------------------------------------------------------------------------------------
# Handoff helpers


def is_frustrated(s: Sentiment, threshold: Optional[float] = None) -> bool:
    """Hand the conversation to a human? negative probability at or above the threshold."""
    return s.negative_probability >= (DEFAULT_THRESHOLD if threshold is None else threshold)


# worsening(): the mood is turning when the negative probability rises over the last 3 customer turns
# by at least WORSENING_RISE and ends at WORSENING_FLOOR or more. The floor sits below
# DEFAULT_THRESHOLD on purpose: at or above it, is_frustrated() already hands off.
WORSENING_FLOOR = 0.4
WORSENING_RISE = 0.15


def worsening(history: Sequence[float], floor: float = WORSENING_FLOOR, rise: float = WORSENING_RISE) -> bool:
    """Negative probability strictly rising over the last 3 customer turns (see WORSENING_FLOOR)."""
    if len(history) < 3:
        return False
    a, b, c = history[-3:]
    return a < b < c and c >= floor and c - a >= rise


def cross_validated(rows: Sequence[Tuple[str, str]], folds: int = 5, seed: int = 13, c: float = 4.0
                    ) -> List[Sentiment]:
    """Out-of-fold predictions for every row (stratified k-fold)."""
    from sklearn.model_selection import StratifiedKFold

    labels = [label for label, _ in rows]
    out: List[Optional[Sentiment]] = [None] * len(rows)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, held_idx in splitter.split(np.zeros(len(rows)), labels):
        model = SentimentModel(c=c).train([rows[i] for i in train_idx])
        for i, s in zip(held_idx, model.predict_many([rows[i][1] for i in held_idx])):
            out[i] = s
    return out  # type: ignore[return-value]


def calibrate_threshold(rows: Sequence[Tuple[str, str]], target: float = FALSE_HANDOFF_TARGET, folds: int = 5,
                        seed: int = 13) -> Tuple[float, float, float]:
    """The lowest threshold (0.05 steps) whose cross-validated false-handoff rate on neutral rows
    is at most `target`. Returns (threshold, false-handoff rate, negative recall) at it."""
    predictions = cross_validated(rows, folds=folds, seed=seed)
    neutral = np.array([s.negative_probability for (label, _), s in zip(rows, predictions) if label == "neutral"])
    negative = np.array([s.negative_probability for (label, _), s in zip(rows, predictions) if label == "negative"])
    for step in range(6, 20):  # 0.30 .. 0.95
        threshold = step / 20
        fhr = float(np.mean(neutral >= threshold))
        if fhr <= target:
            return threshold, fhr, float(np.mean(negative >= threshold))
    return 0.95, float(np.mean(neutral >= 0.95)), float(np.mean(negative >= 0.95))


# --------------------------------------------------------------------------------------------
# The shared model


def _cache_key(train_path: Path) -> str:
    import sklearn

    digest = hashlib.sha256(Path(train_path).read_bytes())
    digest.update(Path(__file__).read_bytes())  # lexicon or feature edits invalidate the cache too
    digest.update(f"|{MODULE_VERSION}|{sklearn.__version__}".encode())
    return digest.hexdigest()


_lock = threading.Lock()
_default: Optional[SentimentModel] = None


def default_model(train_path: Path = TRAIN_PATH, cache_path: Optional[Path] = CACHE_PATH) -> SentimentModel:
    """The model trained on train.tsv, from var/sentiment.pkl when that is up to date (else trained in memory)."""
    global _default
    with _lock:
        if _default is not None and train_path == TRAIN_PATH and cache_path == CACHE_PATH:
            return _default
        key = _cache_key(train_path)
        model = None
        if cache_path is not None and Path(cache_path).exists():
            try:
                with open(cache_path, "rb") as handle:
                    cached = pickle.load(handle)
                if isinstance(cached, dict) and cached.get("key") == key and isinstance(cached.get("model"),
                                                                                        SentimentModel):
                    model = cached["model"]
            except Exception as error:  # a stale or broken cache is only a cache
                log.info("ignoring the sentiment cache %s: %s", cache_path, error)
        if model is None:
            model = SentimentModel().train(load_rows(train_path))
            if cache_path is not None:
                try:
                    Path(cache_path).parent.mkdir(parents=True, exist_ok=True)
                    fd, tmp = tempfile.mkstemp(dir=Path(cache_path).parent, suffix=".tmp")
                    with os.fdopen(fd, "wb") as handle:
                        pickle.dump({"key": key, "model": model}, handle, protocol=pickle.HIGHEST_PROTOCOL)
                    os.replace(tmp, cache_path)
                except OSError as error:
                    log.info("could not cache the sentiment model at %s: %s", cache_path, error)
        if train_path == TRAIN_PATH and cache_path == CACHE_PATH:
            _default = model
        return model


def predict(text: str) -> Sentiment:
    return default_model().predict(text)
