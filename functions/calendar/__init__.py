"""Calendar sources: the Calendar API in production, an .ics file locally."""
