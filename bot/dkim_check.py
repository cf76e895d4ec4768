"""DKIM signatures of a raw message, verified with dkimpy.

``verify_signatures`` checks every ``DKIM-Signature`` header and says, per
signature, its ``d=`` domain and whether it verified, failed, or could not be
checked because the key could not be fetched from DNS (a transient condition,
never a pass). The DNS look-up is injected (``TxtLookup``); by default it is
dkimpy's own resolver with a short timeout. The rule that reads these results
is ``bot.sender_checks.dkim_signatures``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import dkim
from dkim import dnsplug

# (name, timeout=seconds) -> the TXT record, or None when there is none; dkimpy's shape.
TxtLookup = Callable[..., bytes | str | None]

DNS_TIMEOUT_SECONDS = 3


class DkimStatus(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    DNS_ERROR = "dns_error"  # the key could not be fetched: try again later, never a pass


@dataclass(frozen=True, slots=True)
class DkimResult:
    domain: str | None  # the signature's d= domain, lower-cased
    status: DkimStatus
    detail: str = ""

    def __str__(self) -> str:
        text = f"d={self.domain or '?'} {self.status}"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass
class _RecordingLookup:
    """dkimpy swallows DNS errors into a plain failure; this remembers them."""

    lookup: TxtLookup
    error: str | None = None

    def __call__(self, name: bytes, timeout: int = DNS_TIMEOUT_SECONDS) -> bytes | str | None:
        try:
            return self.lookup(name, timeout=timeout)
        except Exception as exc:  # any resolver failure means "not checked", never a pass
            self.error = f"{name.decode('ascii', 'replace')}: {exc}"
            raise dkim.DnsTimeoutError(self.error) from exc


def _signature_count(data: bytes) -> int:
    try:
        return len([name for name, _ in dkim.DKIM(data).headers if name.lower() == b"dkim-signature"])
    except dkim.DKIMException:
        return 0


def verify_signatures(data: bytes, dns: TxtLookup | None = None) -> tuple[DkimResult, ...]:
    """One result per DKIM-Signature header of ``data``, topmost first; () when unsigned."""
    results = []
    for idx in range(_signature_count(data)):
        lookup = _RecordingLookup(dns or dnsplug.get_txt)
        verifier = dkim.DKIM(data, timeout=DNS_TIMEOUT_SECONDS)
        try:
            ok = verifier.verify(idx=idx, dnsfunc=lookup)
        except dkim.DKIMException as exc:  # a body hash mismatch, a malformed signature
            domain = verifier.domain.decode("ascii", "replace").lower() if verifier.domain else None
            results.append(DkimResult(domain, DkimStatus.FAIL, f"signature does not verify: {exc}"))
            continue
        domain = verifier.domain.decode("ascii", "replace").lower() if verifier.domain else None
        if ok:
            results.append(DkimResult(domain, DkimStatus.PASS))
        elif lookup.error is not None:
            results.append(DkimResult(domain, DkimStatus.DNS_ERROR, f"key look-up failed: {lookup.error}"))
        else:
            results.append(DkimResult(domain, DkimStatus.FAIL, "signature does not verify"))
    return tuple(results)
