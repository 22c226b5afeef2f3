"""The source's pages: landing, report, receipt, check-in, follow-up, channels, about.

Every flow works with JavaScript off (``plain``); with it on, the page encrypts and the
server stores what it sent (``sealed``). ``pages`` serves what takes nothing; ``common``
holds what they share, the one ``submit`` blueprint among it.
"""

from whistle.submit.views import pages, plain, sealed
from whistle.submit.views.common import blueprint, checkin_page

#: The routes that check the CSRF token themselves (see ``app.create_app``).
CSRF_EXEMPT = (
    plain.report_post,
    plain.followup_post,
    plain.receipt_post,
    sealed.report_sealed,
    sealed.followup_sealed,
    sealed.checkin_sealed,
    sealed.forget_copy_sealed,
)

__all__ = ["CSRF_EXEMPT", "blueprint", "checkin_page", "pages", "plain", "sealed"]
