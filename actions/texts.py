"""What the bot says from actions, in one place. Short: an SMS segment is 160 GSM characters.

English msgids for `bot.text.t` (marked with N_ so Babel's extractor finds them); say them with
`t(reply_language(tracker), texts.X)`.
"""

from bot.text import N_

VERIFY_FAILED = N_("That tracking number and postcode don't match a delivery I can show you. "
                   "Please check both and send the tracking number again.")
VERIFY_LOCKED = N_("I still can't match those details, so I've stopped trying for now. Reply AGENT for a person.")
ASK_ADDRESS = N_("Who or where should it go to? A neighbour (name and house no.) or a new address with postcode.")
ASK_INSTRUCTIONS = N_('What should the driver know? E.g. "leave it at the back door" or "code 4711".')
ASK_POSTCODE = N_("Thanks. And the postcode of the delivery address?")
ASK_RETURN_REASON = N_("Sorry it didn't work out. Why are you sending it back? (A few words is fine.)")
NO_ACTIVE_SHIPMENT = N_("I can't see a parcel on its way to you right now. If you have a tracking number, "
                        "send it and I'll look.")
BAD_POSTCODE = N_("Please send the 5-digit postcode of the delivery address.")
NOT_UNDERSTOOD = N_('Sorry, I didn\'t get that. Try "where is my parcel?" or "move it to saturday". '
                    'Reply AGENT for a person.')
HANDOFF = N_("I've passed this to our team with what we've said so far. "
             "A person will reply here, usually within 15 minutes (8:00-20:00).")
ASK_TRACKING_NUMBER = N_("First I need to check it's your parcel. What's the tracking number? It starts with DS.")
BAD_TRACKING_NUMBER = N_("That doesn't look like a tracking number. It's DS followed by 10 digits, e.g. DS1234567890.")
RATING_THANKS = N_("Thank you for rating your delivery! Reply any time if you need anything.")
RATING_LOW = N_("Sorry it wasn't good. I've asked a person from our team to look into it: "
                "they will reply here, usually within 15 minutes (8:00-20:00).")
HELP = N_("I can say where your parcel is, move it, send it to a locker, pass on instructions or book a return. "
          "AGENT for a person, STOP to stop texts.")
