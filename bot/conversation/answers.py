"""Short answers read the same way everywhere, in English, German and Dutch: cancel, yes, no. Only the
standard library, so the Rasa runtime's add-ons (Python 3.10) can use it as well as the actions."""

from __future__ import annotations

import re
import unicodedata


def fold(text: str) -> str:
    """Lower case without accents or umlauts ("Übermorgen" -> "ubermorgen", "Straße" -> "strasse"), curly
    apostrophes made straight: the words below are spelt that way, and customers type either."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("ß", "ss").replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# -- cancel, yes and no ------------------------------------------------------------------------------
# A cancel starts the message, after at most two fillers ("oh", "ach", "nee"): some phrases whatever follows
# ("never mind, ill be home after all"), others only when nothing but politeness or a new sentence follows, as
# they also start ordinary answers ("leave it at the door", "egal wann, Hauptsache Samstag", "lass mal sehen").
_LEAD = r"(?:(?:oh|ah|ach|och|ok|okay|oke|na|naja|nah|no|nope|nee|neen|nein|ne|sorry|hmm+|actually|eigentlich|" \
        r"eigenlijk|ja|yes|dann|then)[\s,.!]+){0,2}"
_CANCEL_ALWAYS = r"cancel|never\s*mind|nevermind|nvm|forget (?:it|that|about it)|vergiss (?:es|das)|abbrechen|" \
                 r"schon gut|laat (?:maar|het) zitten|annuleren|annuleer|hoeft (?:al )?niet meer|niet meer nodig|" \
                 r"nicht mehr notig|stornieren"
_CANCEL_ALONE = r"(?:(?:ist|is) )?(?:mir )?egal|lass (?:mal|es)(?: gut sein)?|lass gut sein|doch nicht|toch niet|" \
                r"laat maar|nein,? danke(?: schon)?|nee,? dank (?:je|u)(?:wel)?|nee,? dankjewel|nee,? bedankt|" \
                r"no,? thanks?(?: you)?|leave it|stop|stopp|don'?t bother|nope,? (?:leave|forget) it|hoeft niet|" \
                r"niet nodig|nicht notig|brauch(?:e)? (?:ich )?(?:es |das )?nicht(?: mehr)?"
_NEW_SENTENCE = r"please|pls|bitte|danke|thanks?|thank you|graag|bedankt|dank je|i|i'?ll|ill|i'?m|im|ich|ik|we|wir"
CANCEL = re.compile(rf"^\s*{_LEAD}(?:(?:{_CANCEL_ALWAYS})\b|(?:{_CANCEL_ALONE})(?=[\s,.!?;:-]*(?:$|(?:{_NEW_SENTENCE})\b)))")

_POLITE = r"please|pls|bitte|danke|dankeschon|thanks?|thank you|thx|graag|bedankt|dank je(?:wel)?|dankjewel"
_YES_WORDS = r"yes|yep|yeah|yea|yup|ya|y|sure|ok|okay|oke|okey|correct|right|fine|perfect|great|sounds good|go ahead|" \
             r"ja|jo|jep|jup|jap|jawohl|jawoll|genau|passt(?: so)?|klar|alles klar|gerne?|richtig|stimmt|korrekt|" \
             r"einverstanden|prima|super|top|mach das|klopt|doe maar|is goed|goed|akkoord|zeker|prima|helemaal goed|prima zo"
_NO_WORDS = r"no|nope|nah|n|nein|ne|nee|neen|noe|lieber nicht|liever niet|besser nicht|no way|auf keinen fall|" \
            r"zeker niet|echt niet"
YES = re.compile(rf"(?:{_YES_WORDS})(?:[\s,.!]+(?:{_YES_WORDS}|{_POLITE}))*[\s,.!]*")
NO = re.compile(rf"(?:{_NO_WORDS})(?:[\s,.!]+(?:{_NO_WORDS}|{_POLITE}))*[\s,.!]*")
# "no, Sunday" / "nee, bij de buren" at a confirmation: the no-word in front of a correction
NO_PREFIX = re.compile(r"^\s*(?:no|nope|nah|nein|ne|nee|neen|n[oö]|actually|eigentlich|eigenlijk|doch)\b[,.!]?\s*",
                       re.IGNORECASE)


# A no in front of something else: "no, actually can you ...", "nee toch niet, andere vraag", "doch nicht, ..."
# (not "no problem", not "actually" or "doch" alone: those come before a yes as well)
_NO_FIRST = re.compile(r"^\s*(?:(?:no|nope|nah|nein|ne|nee|neen|noe)\b(?![\s,.!]*(?:problem|probleem|worries|prob)\b)|"
                       r"toch niet\b|doch nicht\b|lieber nicht\b|liever niet\b)")


def starts_with_no(text: str) -> bool:
    """The message opens with a no, whatever follows."""
    return _NO_FIRST.match(fold(text)) is not None


def is_cancel(text: str) -> bool:
    """The customer stops what they were doing: "never mind", "vergiss es", "laat maar zitten" (see CANCEL)."""
    return CANCEL.match(fold(text)) is not None


def is_yes(text: str) -> bool:
    """A plain yes, nothing else: "yes please", "ja, passt", "jep klopt", "doe maar"."""
    return YES.fullmatch(fold(text).strip()) is not None


def is_no(text: str) -> bool:
    """A plain no, nothing else: "no", "nein danke", "nee", "liever niet"."""
    return NO.fullmatch(fold(text).strip()) is not None


# -- stopping our messages ---------------------------------------------------------------------------
# Words without which a message is no opt-out ("telefoonnummer van jullie?" once came out as one): stop, no more,
# unsubscribe, leave me alone, in the three languages. Deliberately wide: it only vetoes an unsure classifier.
_STOP_WORDS = re.compile(
    r"\b(?:stop\w*|quit|enough|unsub\w*|opt|remove|block\w*|spam\w*|never|no more|not? (?:text|sms|messag)\w*|"
    r"don'?t|dont|alone|annoying|cancel|"
    r"keine?|kein\w*|nicht mehr|nie wieder|abmelden|abbestell\w*|austragen|entfern\w*|sperr\w*|ruhe|genug|"
    r"h[oö]e?rt? auf|aufh[oö]e?ren|schluss|nerv\w*|"
    r"geen|niet meer|nooit|afmelden|uitschrijv\w*|uitzetten|verwijder\w*|blokk\w*|rust|genoeg|hou op|houd op|"
    r"ophouden|irritant)\b")


def says_stop(text: str) -> bool:
    """The message has a word of stopping or unsubscribing in it ("bitte keine SMS mehr", "afmelden", "STOP")."""
    return _STOP_WORDS.search(fold(text)) is not None


AFFIRM_MIN_CONFIDENCE = 0.7  # real yeses score 0.85+; keyboard mash ("asdf jkl") can reach 0.5 as affirm


def said_yes(text: str, intent: str | None, confidence: float | None) -> bool:
    """A yes that may change something: by its words, or by the classifier when it is sure."""
    if is_yes(text):
        return True
    return intent == "affirm" and (confidence or 0.0) >= AFFIRM_MIN_CONFIDENCE
