"""The root of every error Whistle raises on purpose.

Each area subclasses it for each way its untrusted input can be wrong, so the
CLI and the inbox can say exactly what was wrong, while an edge an attacker can
probe (the submission site) catches the area's base class and answers with one
generic message.
"""


class WhistleError(Exception):
    """Something Whistle refused or could not do; the message is for people."""
