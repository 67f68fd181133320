"""The embedded demo responder (model name ``eliza``): keyword rules, not a language model.

It follows Joseph Weizenbaum's ELIZA (1966): the user's last message is matched
against an ordered list of keyword patterns, and the first rule that fits
builds the reply, often from the user's own words with the pronouns reflected
("I am sad" -> "Why do you say you are sad?"). On top of the classic rules sit
a few topical ones that a voice demo runs into: greetings, the weather, the
time and date (read from the server's clock), jokes, "tell me about ...",
names. When nothing fits, a fallback is chosen by a checksum of the input, so
the same conversation always gets the same reply: there is no randomness.

It understands nothing and knows no facts, and it says so when asked. It
exists so the server works offline and without credentials, end to end.

Honest limits, by request field:

* ``instructions`` is ignored: fixed rules cannot follow a system prompt.
* ``temperature`` is ignored: the responder is deterministic.
* ``max_output_tokens`` caps the reply's words (one word counted as one token).
* ``messages``: the last user message is answered; earlier user messages are
  read only to remember the person's name ("my name is Sam") and to pick the
  next joke.

Replies are usually two or three sentences, so sentence-by-sentence speech has
something to chain, and they are streamed word by word (``"Hello"``, ``" there,"``...)
with no artificial delay.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Self

from handlers.providers.base import ChatMessage, LlmRequest, ProviderError

MODEL_NAME = "eliza"

Clock = Callable[[], datetime]


def _system_clock() -> datetime:
    return datetime.now().astimezone()


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Pronoun reflection, word by word ("my" -> "your"), applied to echoed fragments.
_REFLECTIONS: dict[str, str] = {
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "am": "are",
    "i'm": "you are",
    "i've": "you have",
    "i'll": "you will",
    "i'd": "you would",
    "we": "you",
    "us": "you",
    "our": "your",
    "your": "my",
    "yours": "mine",
    "yourself": "myself",
    "you're": "I am",
    "you've": "I have",
    "you'll": "I will",
    "you'd": "I would",
}
# After "you" these make it the subject ("you are" -> "I am"); elsewhere it is the object
# ("tell you" -> "tell me").
_VERBS_AFTER_SUBJECT = _words(
    "are were was have had will would can could do don't did didn't should shall may "
    "might must know think want need feel like love hate said say see make made "
    "always never"
)
_REFLECTED_VERBS: dict[str, str] = {"are": "am", "were": "was"}

_JOKES: tuple[str, ...] = (
    "Why don't scientists trust atoms? Because they make up everything.",
    "I told my computer I needed a break. It said it would go to sleep and think about it.",
    "Why did the scarecrow win an award? Because he was outstanding in his field.",
    "What do you call a fake noodle? An impasta.",
    "Why do programmers prefer dark mode? Because light attracts bugs.",
    "How does a penguin build its house? Igloos it together.",
)

_FALLBACKS: tuple[str, ...] = (
    "I see. Please tell me more about that.",
    "That's interesting. What makes you say so?",
    "I'm only a small offline demo, so I may not follow everything. Could you put it another way?",
    "Go on, I'm listening. How does that make you feel?",
    "Let's explore that a little. What comes to mind first when you think about it?",
)

_QUESTION_FALLBACKS: tuple[str, ...] = (
    "That's a good question, but I'm a simple rule-based demo and can't really answer it. "
    "I can tell you the time, tell a joke, or just chat.",
    "I wish I knew. I'm an offline demo without any real knowledge, so I can only follow "
    "a few rules. What made you wonder about it?",
    "Hmm, I can't look that up: I have no internet and no real knowledge. Why do you ask?",
)

_QUESTION_WORDS = _words(
    "what why how when where who which whose can could would will do does did is are "
    "should shall may"
)


def _normalise(text: str) -> str:
    """Lower case, straight apostrophes, letters/digits/apostrophes only, single spaces."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[^\w\s']+", " ", text)
    return " ".join(text.split())


def reflect(fragment: str) -> str:
    """Swap first and second person: "my job makes me sad" -> "your job makes you sad"."""
    words = fragment.split()
    reflected: list[str] = []
    for index, word in enumerate(words):
        previous = words[index - 1] if index else ""
        following = words[index + 1] if index + 1 < len(words) else ""
        if word == "you":
            reflected.append("I" if following in _VERBS_AFTER_SUBJECT else "me")
        elif previous == "you" and word in _REFLECTED_VERBS:
            reflected.append(_REFLECTED_VERBS[word])
        elif previous == "i" and word == "was":
            reflected.append("were")
        else:
            reflected.append(_REFLECTIONS.get(word, word))
    return " ".join(reflected)


def _capitalised_name(raw: str) -> str:
    return " ".join(part.capitalize() for part in raw.split())


_NAME_STATEMENT = re.compile(
    r"\b(?:my name is|my name's|call me|i am called|i'm called)"
    r"\s+([a-z][a-z'-]*(?: [a-z][a-z'-]*)?)"
)
_NOT_NAMES = _words("not a an the just very really so sad happy tired fine")


def _name_in(text: str) -> str | None:
    match = _NAME_STATEMENT.search(_normalise(text))
    if match is None:
        return None
    words = match.group(1).split()
    # "my name is Sam and ..." -> Sam; keep two words only for a first + last name.
    name_words = [words[0]] + [w for w in words[1:2] if w not in ("and", "but", "so", "i")]
    if name_words[0] in _NOT_NAMES:
        return None
    return _capitalised_name(" ".join(name_words))


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a rule may use: the normalised input and facts read from the conversation."""

    text: str
    name: str | None
    earlier_jokes: int
    checksum: int
    now: datetime

    def pick(self, options: tuple[str, ...]) -> str:
        return options[self.checksum % len(options)]

    @property
    def hello(self) -> str:
        return f"Hello, {self.name}!" if self.name else "Hello!"


# "the job": how pocketsphinx often hears "a joke".
_JOKE_REQUEST = re.compile(
    r"\b(?:jokes?|something funny|make me laugh|tell me (?:a|the|another) job)\b"
)

Rule = tuple[re.Pattern[str], Callable[[re.Match[str], _Facts], str | None]]
"""A pattern, and what to answer when it matches (None: let the later rules try)."""


def _greeting(match: re.Match[str], turn: _Facts) -> str:
    del match
    if re.search(r"\bhow (?:are|were|r) (?:you|ya)\b|\bhow's it going\b", turn.text):
        return (
            f"{turn.hello} I'm doing well, thank you for asking. "
            "How are you today, and what would you like to talk about?"
        )
    return f"{turn.hello} It's nice to hear from you. What would you like to talk about today?"


def _weather(match: re.Match[str], turn: _Facts) -> str:
    del match, turn
    return (
        "I can't look outside, and as an offline demo I have no weather service to ask. "
        "I hope it's pleasant where you are. Is it sunny or gloomy today?"
    )


def _time(match: re.Match[str], turn: _Facts) -> str:
    del match
    clock = turn.now.strftime("%I:%M %p").lstrip("0")
    zone = turn.now.strftime("%Z") or "local time"
    return (
        f"By this server's clock it's {clock} ({zone}). "
        "Is there something you need to be on time for?"
    )


def _date(match: re.Match[str], turn: _Facts) -> str:
    del match
    day = f"{turn.now.strftime('%A')}, {turn.now.day} {turn.now.strftime('%B %Y')}"
    return f"By this server's clock, today is {day}. Anything special planned?"


def _joke(match: re.Match[str], turn: _Facts) -> str:
    del match
    joke = _JOKES[(turn.checksum + turn.earlier_jokes) % len(_JOKES)]
    return f"Here's one. {joke}"


def _history(match: re.Match[str], turn: _Facts) -> str:
    del turn
    topic = f"The history of {reflect(match.group(1))}" if match.group(1) else "History"
    return (
        f"{topic} is a big subject, and I'm only a rule-based demo "
        "that knows no real history. "
        "Places are usually settled for water, trade or safety, and people stay for each other. "
        "What would you like to know about it?"
    )


def _tell_me_about(match: re.Match[str], turn: _Facts) -> str:
    del turn
    subject = reflect(match.group(1))
    return (
        f"I'd love to talk about {subject}, but I'm a simple offline demo with no real "
        f"knowledge of it. What do you find interesting about {subject}?"
    )


def _name_told(match: re.Match[str], turn: _Facts) -> str | None:
    del match
    name = _name_in(turn.text)
    if name is None:  # "call me a taxi"
        return None
    return f"Nice to meet you, {name}. What would you like to talk about today?"


def _ask_my_name(match: re.Match[str], turn: _Facts) -> str:
    del match
    if turn.name:
        return f"Your name is {turn.name}; you told me earlier. What else can I do for you?"
    return "You haven't told me your name yet. What should I call you?"


def _who_are_you(match: re.Match[str], turn: _Facts) -> str:
    del match, turn
    return (
        "I'm the offline demo responder: about two dozen keyword rules in the style of ELIZA, "
        "not a real AI model. I can chat a little, tell the time and tell jokes. "
        "What would you like to try?"
    )


def _thanks(match: re.Match[str], turn: _Facts) -> str:
    del match
    who = f", {turn.name}" if turn.name else ""
    return f"You're welcome{who}! Is there anything else on your mind?"


def _goodbye(match: re.Match[str], turn: _Facts) -> str:
    del match
    who = f", {turn.name}" if turn.name else ""
    return f"Goodbye{who}! It was nice talking with you."


def _i_am(match: re.Match[str], turn: _Facts) -> str:
    del turn
    state = reflect(match.group(1))
    return f"Why do you say you are {state}? How long have you been {state}?"


def _i_was(match: re.Match[str], turn: _Facts) -> str:
    del turn
    state = reflect(match.group(1))
    return f"Were you really {state}? What happened then?"


def _i_feel(match: re.Match[str], turn: _Facts) -> str:
    del turn
    feeling = reflect(match.group(1))
    return f"Why do you feel {feeling}? Tell me more about that feeling."


def _i_want(match: re.Match[str], turn: _Facts) -> str:
    del turn
    wish = reflect(match.group(2))
    return f"What would it mean to you if you got {wish}? Why do you {match.group(1)} {wish}?"


def _i_think(match: re.Match[str], turn: _Facts) -> str:
    del turn
    thought = reflect(match.group(1))
    return f"Do you really think {thought}? What makes you think so?"


def _because(match: re.Match[str], turn: _Facts) -> str:
    del match, turn
    return "Is that the real reason? What other reasons come to mind?"


def _you_are(match: re.Match[str], turn: _Facts) -> str:
    del turn
    quality = reflect(match.group(1))
    return f"What makes you think I am {quality}? Perhaps you would like me to be {quality}."


def _can_you(match: re.Match[str], turn: _Facts) -> str:
    del turn
    ability = reflect(match.group(1))
    return (
        f"I'm a simple offline demo, so I probably can't {ability}. "
        "I can chat, tell the time or tell a joke. Would any of those help?"
    )


def _family(match: re.Match[str], turn: _Facts) -> str:
    del turn
    return f"Tell me more about your {match.group(1)}. How do you get along?"


def _yes(match: re.Match[str], turn: _Facts) -> str:
    del match, turn
    return "You seem quite sure. Can you tell me more?"


def _no(match: re.Match[str], turn: _Facts) -> str:
    del match, turn
    return "Why not? I'd like to understand."


# First match wins, so the specific rules come before the general ones.
_RULES: tuple[Rule, ...] = tuple(
    (re.compile(pattern), respond)
    for pattern, respond in (
        (r"\b(?:what(?:'s| is) my name|do you (?:know|remember) my name)\b", _ask_my_name),
        (r"\b(?:my name is|my name's|call me|i am called|i'm called)\b", _name_told),
        (
            r"\b(?:what(?:'s| is) your name|who are you|what are you|are you (?:a )?(?:robot|human|"
            r"real|ai|bot))\b",
            _who_are_you,
        ),
        (r"\b(?:weather|raining|rain|sunny|snowing|forecast|temperature outside)\b", _weather),
        (r"\b(?:what time|the time|time is it)\b", _time),
        (r"\b(?:what day|the date|what's the date|today's date)\b", _date),
        (_JOKE_REQUEST.pattern, _joke),
        (r"\bhistory(?: of)?(?: (.+?))?(?: and\b.*)?$", _history),
        (r"\btell me about (.+)$", _tell_me_about),
        # "how were you": how pocketsphinx often hears "how are you".
        (
            r"^(?:hi|hello|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening))"
            r"(?: there)?(?: \w+)?$|\bhow (?:are|were|r) (?:you|ya)\b|\bhow's it going\b",
            _greeting,
        ),
        (r"\b(?:thank you|thanks|cheers)\b", _thanks),
        (r"\b(?:goodbye|bye|see you|good night)\b", _goodbye),
        (r"\bi feel (.+)$", _i_feel),
        (r"\b(?:i am|i'm) (.+)$", _i_am),
        (r"\bi was (.+)$", _i_was),
        (r"\bi (want|need) (.+)$", _i_want),
        (r"\bi (?:think|believe) (.+)$", _i_think),
        (r"\bbecause\b", _because),
        (r"\b(?:you are|you're) (.+)$", _you_are),
        (r"^(?:can|could|will|would) you (.+)$", _can_you),
        (
            r"\bmy (mother|father|mom|mum|dad|sister|brother|family|wife|husband|children|kids)\b",
            _family,
        ),
        (r"^(?:yes|yeah|yep|sure|of course)\b", _yes),
        (r"^(?:no|nope|nah|not really)\b", _no),
    )
)

_EMPTY_REPLY = (
    "I didn't catch anything there. Could you say that again? "
    "You can ask me the time, ask for a joke, or just tell me how you are."
)


def reply_to(messages: tuple[ChatMessage, ...], now: datetime) -> str:
    """The whole reply to the conversation's last user message."""
    user_texts = [message.content for message in messages if message.role == "user"]
    last = _normalise(user_texts[-1]) if user_texts else ""
    if not last:
        return _EMPTY_REPLY
    names = [name for name in map(_name_in, user_texts) if name]
    turn = _Facts(
        text=last,
        name=names[-1] if names else None,
        earlier_jokes=sum(1 for text in user_texts[:-1] if _JOKE_REQUEST.search(_normalise(text))),
        checksum=zlib.crc32(last.encode()),  # stable across processes, unlike hash()
        now=now,
    )
    for pattern, respond in _RULES:
        match = pattern.search(last)
        reply = respond(match, turn) if match is not None else None
        if reply is not None:
            return reply
    if last.split()[0] in _QUESTION_WORDS:
        return turn.pick(_QUESTION_FALLBACKS)
    return turn.pick(_FALLBACKS)


def word_deltas(reply: str, max_words: int | None) -> list[str]:
    """``"Hello there, you"`` -> ``["Hello", " there,", " you"]``, at most ``max_words`` of them."""
    deltas = re.findall(r"\s*\S+", reply)
    if max_words is not None:
        deltas = deltas[: max(max_words, 1)]
    return deltas


class LocalLanguageModel:
    """The offline demo responder; see the module docstring. Not a language model."""

    def __init__(self, clock: Clock = _system_clock) -> None:
        self._clock = clock

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        del env  # nothing to configure: no credentials, no settings
        return cls()

    async def respond(self, request: LlmRequest) -> AsyncIterator[str]:
        if request.model != MODEL_NAME:
            raise ProviderError(
                f"the local responder has one model, {MODEL_NAME!r}; got {request.model!r}"
            )
        reply = reply_to(request.messages, self._clock())
        for delta in word_deltas(reply, request.max_output_tokens):
            yield delta
            await asyncio.sleep(0)  # let other sessions run between words
