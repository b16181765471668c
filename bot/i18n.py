"""Customer-facing strings of the tracking page and the console's messages to customers, per locale.

English is complete; another locale falls back to English for a key it lacks.
"""

from __future__ import annotations

from collections.abc import Callable

LOCALES = ("en", "de", "nl")

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Parcel {number}",
        "status.label_created": "Label created", "status.in_transit": "On its way to us",
        "status.at_depot": "At the depot", "status.out_for_delivery": "Out for delivery",
        "status.failed_attempt": "We missed you", "status.at_locker": "Ready at the locker",
        "status.delivered": "Delivered", "status.returned": "Returned to sender",
        "step.label_created": "Label created", "step.in_transit": "In transit", "step.at_depot": "At the depot",
        "step.out_for_delivery": "Out for delivery", "step.delivered": "Delivered",
        "headline.out_for_delivery": "Out for delivery: {window}", "headline.on_way": "On its way: {window}",
        "headline.on_way_locker": "On its way to the {locker} locker: {window}",
        "headline.failed": "We missed you. Next try {window}", "headline.failed_no_window": "We missed you; we'll try again.",
        "headline.at_locker": "Ready at the {locker} locker", "headline.delivered": "Delivered {day} at {time}",
        "headline.delivered_plain": "Delivered", "headline.returned": "Went back to the sender",
        "headline.label_created": "The sender has made the label; we don't have it yet.",
        "headline.on_way_plain": "On its way",
        "today": "today", "tomorrow": "tomorrow", "yesterday": "yesterday",
        "eta": "Delivery window", "eta.none": "No window yet", "stops_away": "{n} stops away",
        "stops_away.one": "1 stop away", "stops_away.next": "You're next",
        "map": "Map", "map.label": "Map: the driver's position, the route and where your parcel goes",
        "map.driver": "Driver", "map.destination": "Your address", "map.locker": "Locker", "map.depot": "Depot",
        "map.waiting": "The map shows the driver once your parcel is out for delivery.",
        "timeline": "Progress", "history": "History", "history.none": "No updates yet.",
        "proof": "Delivered", "proof.where": "Where it was left", "proof.locker": "Locker",
        "proof.code": "Pickup code", "proof.at": "When",
        "proof.photo.alt": "The driver's photo of where the parcel was left",
        "proof.map": "Where it was left, against your address", "proof.map.address": "Your address",
        "proof.map.drop": "Where it was left",
        "actions": "Change your delivery", "action.reschedule": "Another day or time",
        "action.locker": "Send it to a locker", "action.instructions": "Leave instructions",
        "action.return": "Return an item", "action.person": "Talk to a person",
        "actions.none": "Nothing to change: your parcel is with the driver or has arrived.",
        "chat": "Chat with us", "chat.hint": "Ask anything about this parcel, or pick a change above.",
        "chat.input": "Type a message…",
        "updated": "Updated {time}", "live": "This page updates by itself.",
        "language": "Language",
        "invalid.title": "Find your parcel",
        "invalid.text": "This tracking link is not valid or has expired. Enter your tracking number and the "
                        "delivery postcode to see your parcel.",
        "invalid.unavailable": "Tracking is unavailable for a moment. Please try again shortly.",
        "lookup.number": "Tracking number", "lookup.postcode": "Delivery postcode", "lookup.submit": "Find my parcel",
        "lookup.nomatch": "We couldn't find a parcel with that tracking number and postcode. Check both and try again.",
        "lookup.limited": "Too many attempts. Please wait a while and try again.",
        "lookup.number.help": "Starts with DS, on your message or receipt",
        "agent.back": "You're back with the Doorstep assistant. Ask me anything about your delivery.",
        "change.reschedule": "Done: parcel …{short} now comes {window}.",
        "change.locker": "Done: parcel …{short} goes to the {locker} locker ({address}). "
                         "You'll get the pickup code when it's there.",
        "change.return": "Return {rma} booked. {how}",
        "change.return.locker": "At the {locker} locker, scan code {code} and put the parcel in.",
        "change.return.label": "The label ({code}) is on its way to your email.",
    },
    "de": {
        "title": "Paket {number}",
        "status.label_created": "Label erstellt", "status.in_transit": "Auf dem Weg zu uns",
        "status.at_depot": "Im Depot", "status.out_for_delivery": "In Zustellung",
        "status.failed_attempt": "Wir haben Sie nicht angetroffen", "status.at_locker": "Abholbereit an der Packstation",
        "status.delivered": "Zugestellt", "status.returned": "Zurück an den Absender",
        "step.label_created": "Label erstellt", "step.in_transit": "Unterwegs", "step.at_depot": "Im Depot",
        "step.out_for_delivery": "In Zustellung", "step.delivered": "Zugestellt",
        "headline.out_for_delivery": "In Zustellung: {window}", "headline.on_way": "Unterwegs: {window}",
        "headline.on_way_locker": "Unterwegs zur Packstation {locker}: {window}",
        "headline.failed": "Wir haben Sie nicht angetroffen. Nächster Versuch {window}",
        "headline.failed_no_window": "Wir haben Sie nicht angetroffen; wir versuchen es erneut.",
        "headline.at_locker": "Abholbereit an der Packstation {locker}", "headline.delivered": "Zugestellt {day} um {time}",
        "headline.delivered_plain": "Zugestellt", "headline.returned": "Zurück an den Absender",
        "headline.label_created": "Der Absender hat das Label erstellt; das Paket ist noch nicht bei uns.",
        "headline.on_way_plain": "Unterwegs",
        "today": "heute", "tomorrow": "morgen", "yesterday": "gestern",
        "eta": "Zustellfenster", "eta.none": "Noch kein Zeitfenster", "stops_away": "noch {n} Stopps",
        "stops_away.one": "noch 1 Stopp", "stops_away.next": "Sie sind als Nächstes dran",
        "map": "Karte", "map.label": "Karte: Position des Fahrers, Route und Zieladresse Ihres Pakets",
        "map.driver": "Fahrer", "map.destination": "Ihre Adresse", "map.locker": "Packstation", "map.depot": "Depot",
        "map.waiting": "Die Karte zeigt den Fahrer, sobald Ihr Paket in Zustellung ist.",
        "timeline": "Fortschritt", "history": "Verlauf", "history.none": "Noch keine Neuigkeiten.",
        "proof": "Zugestellt", "proof.where": "Abgelegt", "proof.locker": "Packstation",
        "proof.code": "Abholcode", "proof.at": "Wann",
        "proof.photo.alt": "Foto des Fahrers: wo das Paket abgelegt wurde",
        "proof.map": "Ablageort im Vergleich zu Ihrer Adresse", "proof.map.address": "Ihre Adresse",
        "proof.map.drop": "Ablageort",
        "actions": "Zustellung ändern", "action.reschedule": "Anderer Tag oder andere Zeit",
        "action.locker": "An eine Packstation", "action.instructions": "Hinweis für den Fahrer",
        "action.return": "Artikel zurücksenden", "action.person": "Mit einer Person sprechen",
        "actions.none": "Nichts zu ändern: Ihr Paket ist beim Fahrer oder schon angekommen.",
        "chat": "Chat", "chat.hint": "Fragen Sie alles zu diesem Paket oder wählen Sie oben eine Änderung.",
        "chat.input": "Nachricht schreiben…",
        "updated": "Aktualisiert {time}", "live": "Diese Seite aktualisiert sich von selbst.",
        "language": "Sprache",
        "invalid.title": "Paket finden",
        "invalid.text": "Dieser Link ist ungültig oder abgelaufen. Geben Sie Sendungsnummer und Postleitzahl der "
                        "Lieferadresse ein, um Ihr Paket zu sehen.",
        "invalid.unavailable": "Die Sendungsverfolgung ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.",
        "lookup.number": "Sendungsnummer", "lookup.postcode": "Postleitzahl der Lieferadresse",
        "lookup.submit": "Paket finden",
        "lookup.nomatch": "Wir haben kein Paket mit dieser Sendungsnummer und Postleitzahl gefunden. Bitte prüfen Sie beides.",
        "lookup.limited": "Zu viele Versuche. Bitte warten Sie etwas und versuchen Sie es dann erneut.",
        "lookup.number.help": "Beginnt mit DS, steht in Ihrer Nachricht oder auf dem Beleg",
        "agent.back": "Sie schreiben wieder mit dem Doorstep-Assistenten. Fragen Sie mich alles zu Ihrer Lieferung.",
        "change.reschedule": "Erledigt: Paket …{short} kommt jetzt {window}.",
        "change.locker": "Erledigt: Paket …{short} geht an die Packstation {locker} ({address}). "
                         "Den Abholcode bekommen Sie, sobald es dort ist.",
        "change.return": "Rücksendung {rma} ist gebucht. {how}",
        "change.return.locker": "Scannen Sie an der Packstation {locker} den Code {code} und legen Sie das Paket hinein.",
        "change.return.label": "Das Label ({code}) kommt per E-Mail.",
    },
    "nl": {
        "title": "Pakket {number}",
        "status.label_created": "Label gemaakt", "status.in_transit": "Onderweg naar ons",
        "status.at_depot": "In het depot", "status.out_for_delivery": "Wordt bezorgd",
        "status.failed_attempt": "We hebben je gemist", "status.at_locker": "Klaar in de pakketkluis",
        "status.delivered": "Bezorgd", "status.returned": "Terug naar de afzender",
        "step.label_created": "Label gemaakt", "step.in_transit": "Onderweg", "step.at_depot": "In het depot",
        "step.out_for_delivery": "Wordt bezorgd", "step.delivered": "Bezorgd",
        "headline.out_for_delivery": "Wordt bezorgd: {window}", "headline.on_way": "Onderweg: {window}",
        "headline.on_way_locker": "Onderweg naar pakketkluis {locker}: {window}",
        "headline.failed": "We hebben je gemist. Volgende poging {window}",
        "headline.failed_no_window": "We hebben je gemist; we proberen het opnieuw.",
        "headline.at_locker": "Klaar in pakketkluis {locker}", "headline.delivered": "Bezorgd {day} om {time}",
        "headline.delivered_plain": "Bezorgd", "headline.returned": "Terug naar de afzender",
        "headline.label_created": "De afzender heeft het label gemaakt; het pakket is nog niet bij ons.",
        "headline.on_way_plain": "Onderweg",
        "today": "vandaag", "tomorrow": "morgen", "yesterday": "gisteren",
        "eta": "Bezorgvenster", "eta.none": "Nog geen tijdvenster", "stops_away": "nog {n} stops",
        "stops_away.one": "nog 1 stop", "stops_away.next": "Jij bent de volgende",
        "map": "Kaart", "map.label": "Kaart: waar de bezorger is, de route en waar je pakket heen gaat",
        "map.driver": "Bezorger", "map.destination": "Jouw adres", "map.locker": "Pakketkluis", "map.depot": "Depot",
        "map.waiting": "De kaart toont de bezorger zodra je pakket wordt bezorgd.",
        "timeline": "Voortgang", "history": "Geschiedenis", "history.none": "Nog geen updates.",
        "proof": "Bezorgd", "proof.where": "Waar het ligt", "proof.locker": "Pakketkluis",
        "proof.code": "Ophaalcode", "proof.at": "Wanneer",
        "proof.photo.alt": "Foto van de bezorger: waar het pakket is neergezet",
        "proof.map": "Waar het ligt, ten opzichte van je adres", "proof.map.address": "Jouw adres",
        "proof.map.drop": "Waar het ligt",
        "actions": "Bezorging wijzigen", "action.reschedule": "Andere dag of tijd",
        "action.locker": "Naar een pakketkluis", "action.instructions": "Notitie voor de bezorger",
        "action.return": "Artikel retourneren", "action.person": "Met een medewerker praten",
        "actions.none": "Niets te wijzigen: je pakket is bij de bezorger of al aangekomen.",
        "chat": "Chat met ons", "chat.hint": "Vraag alles over dit pakket, of kies hierboven een wijziging.",
        "chat.input": "Typ een bericht…",
        "updated": "Bijgewerkt {time}", "live": "Deze pagina werkt zichzelf bij.",
        "language": "Taal",
        "invalid.title": "Vind je pakket",
        "invalid.text": "Deze link is ongeldig of verlopen. Vul je trackingnummer en de postcode van het "
                        "bezorgadres in om je pakket te zien.",
        "invalid.unavailable": "Tracking is even niet beschikbaar. Probeer het zo nog eens.",
        "lookup.number": "Trackingnummer", "lookup.postcode": "Postcode van het bezorgadres",
        "lookup.submit": "Vind mijn pakket",
        "lookup.nomatch": "We vonden geen pakket met dit trackingnummer en deze postcode. Controleer beide.",
        "lookup.limited": "Te veel pogingen. Wacht even en probeer het dan opnieuw.",
        "lookup.number.help": "Begint met DS, staat in je bericht of op je bon",
        "agent.back": "Je praat weer met de Doorstep-assistent. Vraag me alles over je bezorging.",
        "change.reschedule": "Klaar: pakket …{short} komt nu {window}.",
        "change.locker": "Klaar: pakket …{short} gaat naar pakketkluis {locker} ({address}). "
                         "Je krijgt de ophaalcode zodra het er ligt.",
        "change.return": "Retour {rma} is geboekt. {how}",
        "change.return.locker": "Scan bij pakketkluis {locker} de code {code} en leg het pakket erin.",
        "change.return.label": "Het label ({code}) komt per e-mail.",
    },
}


def locale_of(raw: str | None) -> str:
    """'de-DE' → 'de'; anything unknown → 'en'."""
    code = (raw or "en").split("-", 1)[0].split("_", 1)[0].lower()
    return code if code in LOCALES else "en"


def translator(locale: str) -> Callable[..., str]:
    """t(key, **values) in this locale, falling back to English."""
    table, fallback = STRINGS[locale_of(locale)], STRINGS["en"]

    def t(key: str, **values: object) -> str:
        text = table.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return t


def best_locale(accept_language: str | None) -> str:
    """The first supported language in an Accept-Language header."""
    for part in (accept_language or "").split(","):
        code = locale_of(part.split(";", 1)[0].strip())
        if part.strip() and code in LOCALES and part.strip().lower().startswith(code):
            return code
    return "en"
