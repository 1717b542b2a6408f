"""After the meeting: one question about outcomes, answers kept with the meeting."""
