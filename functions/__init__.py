"""Background work and the domain of the meeting-prep add-on.

`functions.domain` is pure Python; everything that talks to Google or to a
database lives in an adapter module beside it and is imported lazily.
"""
