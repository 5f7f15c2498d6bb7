"""Checks of our own for schemathesis (loaded through SCHEMATHESIS_HOOKS by scripts/fuzz-api.ts).

FUZZ_CALLER names the caller of this run; FUZZ_ALLOWED maps each caller to the operations it may
get a 2xx from (schemathesis labels, "POST /v1/partners/{id}/decisions").
"""

import json
import os

import schemathesis

CALLER = os.environ.get("FUZZ_CALLER", "")
ALLOWED = json.loads(os.environ.get("FUZZ_ALLOWED", "{}"))
# What an anonymous request to a secured operation may hear: refused before anything is looked up.
ANONYMOUS_REFUSALS = {400, 401, 405, 413, 415}


def _probe(response, case):
    """A request of another method than the operation's (unsupported_method's TRACE, a CORS OPTIONS)."""
    return response.request.method.upper() != case.operation.method.upper()


@schemathesis.check
def role_boundaries(ctx, response, case):
    """A caller gets a 2xx only from the operations its role may use (API1/API5)."""
    if CALLER not in ALLOWED or _probe(response, case):
        return None
    if 200 <= response.status_code < 300 and case.operation.label not in ALLOWED[CALLER]:
        raise AssertionError(
            f"{CALLER} got {response.status_code} from {case.operation.label}, which is not for {CALLER}"
        )
    return None


@schemathesis.check
def anonymous_refused(ctx, response, case):
    """Without credentials a secured operation refuses before any lookup: never 2xx, 403, 404, 409, 422."""
    requirements = case.operation.definition.raw.get("security") or []
    # secured: some credential is required (an empty requirement, {}, makes credentials optional)
    if CALLER != "anonymous" or _probe(response, case) or not requirements or {} in requirements:
        return None
    if response.status_code not in ANONYMOUS_REFUSALS:
        raise AssertionError(
            f"no credentials, yet {case.operation.label} answered {response.status_code} "
            f"(expected one of {sorted(ANONYMOUS_REFUSALS)})"
        )
    return None
