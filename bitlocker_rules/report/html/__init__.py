"""The HTML report: one self-contained page, for a fleet (the encryption-readiness picture) or a device.

Everything is in the one file: the style sheet (``style.css``) is inline, the charts are inline
SVG drawn here, there are no scripts, fonts, images or links to fetch, so the page opens the
same offline, from a mail attachment or an artifact store. Text from the inputs is escaped with
``html.escape``; the finished page passes through ``report.masking.masked_report``.

One module per part: ``page`` (escaping, the page frame, cards, tables, badges, KPIs),
``charts`` (the inline SVG charts), ``device`` (a device's page), ``fleet`` (a fleet's page).
"""

from .device import render_html
from .fleet import render_fleet_html

__all__ = ["render_fleet_html", "render_html"]
