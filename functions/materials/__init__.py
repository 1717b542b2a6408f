"""Prep materials: context, generation, rendering, storage and signed links.

The flow for one meeting: `context` gathers what is known (bounded in size),
`prompt` turns it into a prompt in which meeting text is quoted data, a
`generator` fills the structured `MaterialsContent`, `render` writes HTML and
Markdown, `storage` keeps them under the user's own prefix, and `links` mints
a short-lived signed URL whenever somebody needs to open them. `handler` is
the Cloud Tasks endpoint that ties it together.
"""
