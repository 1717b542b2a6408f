"""Two kinds of failure, told apart by what the caller should do next.

Cloud Tasks delivers at least once and retries any answer outside 2xx, so
every failure a background handler can meet comes down to one question:
would the same request succeed later? A `TransientError` says yes (quota,
5xx, a network blip, a store held by another writer): retry with backoff. A
`PermanentError` says no (the payload is malformed, the user revoked the
grant, the model refused): settle the work, record why, and stop.

The tree, each class with the module it lives in (indentation is direct
subclassing; "also" names the feature's own base, which catches both kinds):

* TransientError                    functions.errors
  - RetryLater                      functions.tasks.endpoint
    · CredentialsUnavailable        functions.oauth.credentials
  - TransientGenerationError        functions.materials.generator  also GenerationError
  - TransientDeliveryError          functions.notify.port          also DeliveryError
  - StoreBusy                       functions.store.port           also StoreError
  - StorageError                    functions.materials.storage
  - RateLimited                     functions.calendar.port        also CalendarError
  - CalendarUnavailable             functions.calendar.port        also CalendarError
    · IcsFileError                  functions.calendar.ics
  - _ExchangeUnavailable            functions.oauth.flow
  - SignInUnavailable               functions.oauth.signin
* PermanentError                    functions.errors
  - BadTask                         functions.tasks.endpoint
  - GenerationFailed                functions.materials.generator  also GenerationError
    · ModelNotFound                 functions.materials.vertex
    · AnswerTruncated               functions.materials.vertex
    · AnswerStopped                 functions.materials.vertex
  - PermanentDeliveryError          functions.notify.port          also DeliveryError
  - ReconnectNeeded                 functions.oauth.credentials
  - AccessRevoked                   functions.calendar.port        also CalendarError
  - PermissionDenied                functions.calendar.port        also CalendarError
  - _ExchangeRefused                functions.oauth.flow
  - SignInRefused                   functions.oauth.signin

What each base becomes on the wire is decided in one place, `functions.web`
(`task_failure` for task targets, `guarded` for every other entry point):

* TransientError: a task target answers 503 (`retry`), which Cloud Tasks
  retries with the queue's backoff; any other entry point answers 503
  (`unavailable`).
* PermanentError: a task target answers 200 (`dropped`, with the message), so
  the queue stops retrying; any other entry point answers 500, because a
  permanent failure that reached it was not handled where it had a better
  answer (a card, a page: the OAuth callback shows "try again" with a 503
  for `_ExchangeUnavailable` and "this link has expired" with a 400 for
  `_ExchangeRefused`).

Handlers still catch the specific classes where they have something better
to do (mark the user, release a claim, count a retry budget); the mapping is
for what escapes them. Left out of the tree on purpose: outcomes that only
the caller can act on (`NotFound`, `Conflict`, `EventNotFound`,
`SyncTokenExpired`, `EventExists`, `InvalidTransition`) and refusals that
their endpoint answers where it detects them (`TokenRejected` is a 401,
`UnusableJson` a 400). No class is both transient and permanent.

Messages of these exceptions go to logs and to the task queue's answer:
they name the failure, never a token or meeting content.
"""

from __future__ import annotations


class TransientError(Exception):
    """The same request may succeed later: retry it with backoff."""


class PermanentError(Exception):
    """Retrying cannot help until something else changes: settle the work and stop."""
