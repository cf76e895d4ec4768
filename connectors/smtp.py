"""Outgoing mail over SMTP (smtplib), one message per connection.

``SmtpTransport(settings).send(envelope)`` speaks the protocol step by step
(EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA) instead of ``send_message``, because
what a failure means depends on where it happens:

* before the server answered ``354`` to DATA it has no message: a dropped
  connection, a timeout or a 4xx is ``MailUnavailable`` / ``MailDeferred``
  (try again later), a 5xx is ``MailRejected``;
* once the content is on its way, only the final reply tells: 250 is sent,
  4xx deferred, 5xx rejected, and no reply at all (connection dropped, timeout)
  is ``DeliveryUncertain``: the server may have queued it, so it is never sent
  again without a person.

Settings errors (login refused, certificate not trusted, no STARTTLS offered)
are ``ConfigError``. Every socket operation has the configured timeout. The
password and OAuth2 tokens are never logged nor put in an error message;
smtplib's own debug output (which would show them) stays off.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from typing import Protocol

from bot.config import OAuth2Auth, PasswordAuth, SmtpSettings
from bot.errors import (
    ConfigError,
    DeliveryUncertain,
    MailDeferred,
    MailRejected,
    MailUnavailable,
    TransientError,
)
from bot.ports import Envelope

log = logging.getLogger("orderbot.smtp")

_LINE_END = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


class TokenProvider(Protocol):
    """An OAuth2 access token, fresh on request (``connectors.imap_auth``)."""

    def token(self, *, refresh: bool = False) -> str: ...


class SmtpTransport:
    """A ``Mailer`` that hands each envelope to the configured SMTP server."""

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        tokens: TokenProvider | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if isinstance(settings.auth, OAuth2Auth) and tokens is None:
            raise ConfigError("XOAUTH2 needs a token provider", key="smtp.auth")
        self.settings = settings
        self.tokens = tokens
        self.local_hostname = local_hostname
        self.where = f"smtp {settings.host}:{settings.effective_port}"
        self._tls = self._tls_context() if settings.security != "plain" else None

    def __repr__(self) -> str:  # no credentials
        return f"SmtpTransport({self.where}, {self.settings.security})"

    # --- the Mailer interface ------------------------------------------------

    def send(self, envelope: Envelope) -> None:
        smtp = self._connect()
        try:
            self._greet(smtp)
            self._transaction(smtp, envelope)
        finally:
            _close(smtp)
        log.info("%s: %s sent to %s", self.where, envelope.message_id, envelope.recipient)

    # --- steps -----------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.settings.ca_file is not None:
            try:
                context.load_verify_locations(cafile=str(self.settings.ca_file))
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"cannot load {self.settings.ca_file}: {exc}", key="smtp.ca_file") from exc
        if not self.settings.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connect(self) -> smtplib.SMTP:
        host, port, timeout = self.settings.host, self.settings.effective_port, self.settings.timeout
        try:
            if self.settings.security == "tls":
                return smtplib.SMTP_SSL(host, port, local_hostname=self.local_hostname, timeout=timeout, context=self._tls)
            return smtplib.SMTP(host, port, local_hostname=self.local_hostname, timeout=timeout)
        except ssl.SSLCertVerificationError as exc:
            raise self._untrusted(exc) from exc
        except ssl.SSLError as exc:
            raise self._tls_failed(exc) from exc
        except smtplib.SMTPConnectError as exc:
            raise MailUnavailable(f"{self.where}: refused us at connect: {_reply(exc.smtp_code, exc.smtp_error)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise MailUnavailable(f"{self.where}: cannot connect: {_describe(exc)}") from exc

    def _greet(self, smtp: smtplib.SMTP) -> None:
        """EHLO, STARTTLS when configured, and the login."""
        try:
            self._hello(smtp)
            if self.settings.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise ConfigError(f"{self.where} does not offer STARTTLS", key="smtp.security")
                try:
                    smtp.starttls(context=self._tls)
                except smtplib.SMTPResponseException as exc:
                    raise self._classify(exc.smtp_code, exc.smtp_error, "STARTTLS") from exc
                self._hello(smtp)
            if self.settings.auth is not None:
                self._login(smtp, self.settings.auth)
        except ssl.SSLCertVerificationError as exc:
            raise self._untrusted(exc) from exc
        except ssl.SSLError as exc:
            raise self._tls_failed(exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise MailUnavailable(f"{self.where}: connection failed before the message: {_describe(exc)}") from exc

    def _hello(self, smtp: smtplib.SMTP) -> None:
        code, text = smtp.ehlo()
        if code != 250:
            code, text = smtp.helo()
            if code != 250:
                raise self._classify(code, text, "EHLO/HELO")

    def _login(self, smtp: smtplib.SMTP, auth: PasswordAuth | OAuth2Auth) -> None:
        if not smtp.has_extn("auth"):
            raise ConfigError(f"{self.where} offers no AUTH (does it want STARTTLS first?)", key="smtp.auth")
        try:
            if isinstance(auth, PasswordAuth):
                smtp.login(auth.username, auth.password.get_secret_value())
            else:
                self._xoauth2(smtp, auth.username)
        except smtplib.SMTPAuthenticationError as exc:
            if 400 <= exc.smtp_code < 500:
                raise MailUnavailable(f"{self.where}: login deferred: {_reply(exc.smtp_code, exc.smtp_error)}") from exc
            raise ConfigError(
                f"{self.where} refused the login of {auth.username}: {_reply(exc.smtp_code, exc.smtp_error)}",
                key="smtp.auth",
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise ConfigError(f"{self.where}: {exc}", key="smtp.auth") from exc
        except smtplib.SMTPException as exc:
            if isinstance(exc, smtplib.SMTPServerDisconnected):
                raise
            # "No suitable authentication method found", an unexpected challenge, ...
            raise ConfigError(f"{self.where}: login failed: {type(exc).__name__}: {exc}", key="smtp.auth") from exc

    def _xoauth2(self, smtp: smtplib.SMTP, username: str) -> None:
        assert self.tokens is not None
        for refresh in (False, True):
            try:
                token = self.tokens.token(refresh=refresh)
            except TransientError as exc:
                raise MailUnavailable(f"{self.where}: no OAuth2 token for {username}: {exc}") from exc

            def respond(challenge: bytes | None = None, token: str = token) -> str:
                # After a failure the server sends a JSON challenge; the client
                # answers with an empty line to get the final error (RFC 7628).
                return f"user={username}\x01auth=Bearer {token}\x01\x01" if challenge is None else ""

            try:
                smtp.auth("XOAUTH2", respond, initial_response_ok=True)
                return
            except smtplib.SMTPAuthenticationError:
                if refresh:
                    raise
                log.info("%s: XOAUTH2 login refused; fetching a fresh token once", self.where)

    def _transaction(self, smtp: smtplib.SMTP, envelope: Envelope) -> None:
        options = self._mail_options(smtp, envelope)
        try:
            code, text = smtp.mail(envelope.sender, options)
            if code != 250:
                raise self._classify(code, text, "MAIL FROM")
            code, text = smtp.rcpt(envelope.recipient)
            if code not in (250, 251):
                raise self._classify(code, text, f"RCPT TO <{envelope.recipient}>")
            code, text = smtp.docmd("DATA")
            if code != 354:
                raise self._classify(code, text, "DATA")
        except (OSError, smtplib.SMTPException) as exc:
            raise MailUnavailable(f"{self.where}: connection failed before the message was sent: {_describe(exc)}") from exc
        # From here on the server has, or may have, the message.
        try:
            smtp.send(_data_block(envelope.data))
            code, text = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryUncertain(
                f"{self.where}: no answer after the message was sent ({_describe(exc)}); "
                f"the server may have accepted {envelope.message_id}"
            ) from exc
        if code == 250:
            return
        if 400 <= code < 600:
            raise self._classify(code, text, "end of DATA")
        raise DeliveryUncertain(f"{self.where}: unexpected answer after the message: {_reply(code, text)}")

    def _mail_options(self, smtp: smtplib.SMTP, envelope: Envelope) -> list[str]:
        options = []
        if not (envelope.sender + envelope.recipient).isascii():
            if not smtp.has_extn("smtputf8"):
                raise MailRejected(f"{self.where} does not take non-ASCII addresses (no SMTPUTF8)", code=553)
            options.append("SMTPUTF8")
        if not envelope.data.isascii():
            if not smtp.has_extn("8bitmime"):
                raise MailRejected(f"{self.where} does not take 8-bit messages (no 8BITMIME)", code=554)
            options.append("BODY=8BITMIME")
        return options

    # --- errors ----------------------------------------------------------------

    def _classify(self, code: int, text: bytes | str, step: str) -> Exception:
        """The error for a server's reply other than the expected one."""
        reply = _reply(code, text)
        if code == 421 or not 400 <= code < 600:
            return MailUnavailable(f"{self.where}: {step}: {reply}")
        if code < 500:
            return MailDeferred(f"{self.where}: {step} deferred: {reply}", code=code)
        return MailRejected(f"{self.where}: {step} refused: {reply}", code=code)

    def _untrusted(self, exc: ssl.SSLCertVerificationError) -> ConfigError:
        return ConfigError(
            f"{self.where}: the server's certificate is not trusted: {exc.verify_message or exc.reason} "
            "(give its CA in ca_file)",
            key="smtp.ca_file",
        )

    def _tls_failed(self, exc: ssl.SSLError) -> Exception:
        if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
            return MailUnavailable(f"{self.where}: TLS connection closed: {exc.reason or exc}")
        return ConfigError(f"{self.where}: TLS failed: {exc.reason or exc} (is security right for this port?)", key="smtp.security")


def _data_block(data: bytes) -> bytes:
    """The message as the DATA phase carries it: CRLF line ends, leading dots
    doubled (RFC 5321 4.5.2), ended by a line with a single dot."""
    text = _LEADING_DOT.sub(b"..", _LINE_END.sub(b"\r\n", data))
    if not text.endswith(b"\r\n"):
        text += b"\r\n"
    return text + b".\r\n"


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
