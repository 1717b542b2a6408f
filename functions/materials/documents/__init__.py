"""Documents as a context source: attachments, the last meeting's notes, standing context."""
