"""What the support desk learns from its own activity: feedback, views, flags and the search
log; the monthly figures and report; stale articles."""
