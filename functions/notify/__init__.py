"""Telling users about their meetings: Gmail and Google Chat delivery, exactly once."""
