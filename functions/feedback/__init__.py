"""Users' verdicts on their prep cards, and the per-type counts built from them."""
