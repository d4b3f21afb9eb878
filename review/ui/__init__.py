"""The review app's Gradio interface: one module per tab, wired together in ``layout``.

common       the app's context, handler binding, the language-switch registry
view         ReviewView: what the review tab shows for one call, as named fields
analyze_tab  upload or pick the sample, options, transcripts, consent, agent, analyze
intake       the Analyze tab's batch queue (one row per file, updated while it runs)
library_tab  search, open, delete, export the listed calls
review_tab   player, timeline, tables, evidence, export of the open call
annotate     the annotations table and form
settings_tab the team's settings and retention (admins only)
layout       build_app (header, tabs, wiring) and launch
"""

from .analyze_tab import SAMPLES
from .layout import build_app, launch
from .view import ReviewView, ReviewWidgets

__all__ = ["SAMPLES", "ReviewView", "ReviewWidgets", "build_app", "launch"]
