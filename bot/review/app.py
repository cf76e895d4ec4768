"""The workbench's web application (Starlette, Jinja2, a small own script).

    app = create_app(store, master, settings=ReviewSettings(), mail=mail_queue)

Every response carries a strict Content-Security-Policy (no inline script or
style, no remote anything, frames only from here) and ``no-store``. Every
change is a POST with the session's CSRF token (form field ``csrf`` or header
``X-CSRF-Token``); without it: 403. Sessions are cookies (HttpOnly,
SameSite=Strict, Secure under TLS) naming a server-side session row.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.config import ReviewSettings
from bot.errors import InvalidTransition, OrderbotError, UnreadableInput
from bot.model import RawMessage, ReasonCode
from bot.outgoing import MailQueue
from bot.review import render
from bot.review.actions import Refused, Workbench, is_request
from bot.review.audit import Audit
from bot.review.auth import Accounts, Session, csrf_ok
from bot.review.corrections import Corrections, EditError, text
from bot.review.locks import Locks
from bot.review.queries import failed_keying, mail_for_a_person, review_queue, unreadable_messages
from bot.review.store import Clock, ReviewDb, utc_now
from bot.store import Store
from connectors.masterdata import MasterData
from extractors.mime import parse_message

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "orderbot_review"
LOGIN_CSRF_COOKIE = "orderbot_review_login"
CSP = (
    "default-src 'self'; img-src 'self' data:; frame-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Failed logins of one name within the window, after which that name is refused
# until the window has passed (the attempts are in the audit).
MAX_FAILED_LOGINS = 5
LOGIN_WINDOW = timedelta(minutes=15)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.scheme == "https":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def create_app(
    store: Store,
    master: MasterData,
    *,
    settings: ReviewSettings | None = None,
    mail: MailQueue | None = None,
    clock: Clock = utc_now,
) -> Starlette:
    settings = settings or ReviewSettings()
    db = ReviewDb.for_store(store, clock)
    accounts = Accounts(db, idle=timedelta(minutes=settings.session_idle_minutes))
    audit = Audit(db)
    bench = Workbench(
        store, master, Locks(db, ttl=timedelta(minutes=settings.lock_minutes)), audit, Corrections(db), mail
    )
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    templates.globals.update(text=text)

    def secure(request: Request) -> bool:
        if settings.secure_cookies == "auto":
            return request.url.scheme == "https"
        return settings.secure_cookies == "always"

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        session: Session | None = getattr(request.state, "session", None)
        body = templates.get_template(name).render(session=session, request=request, **context)
        return HTMLResponse(body, status_code=status)

    def current(request: Request) -> Session:
        session = accounts.session(request.cookies.get(SESSION_COOKIE))
        if session is None:
            raise HTTPException(401)
        request.state.session = session
        return session

    async def posted(request: Request) -> tuple[Session, FormData]:
        """The session and form of a change; 401 without a session, 403 without its CSRF token."""
        session = current(request)
        form = await request.form()
        token = form.get("csrf") or request.headers.get("x-csrf-token")
        if not csrf_ok(session, token if isinstance(token, str) else None):
            raise HTTPException(403, "missing or wrong CSRF token")
        return session, form

    def back_to(order_id: int | None = None) -> RedirectResponse:
        return RedirectResponse(f"/orders/{order_id}" if order_id else "/", status_code=303)

    # --- login ------------------------------------------------------------------

    async def login_form(request: Request) -> Response:
        token = secrets.token_urlsafe(32)
        response = page(request, "login.html", csrf=token, error=None)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure(request), path="/login")
        return response

    async def login(request: Request) -> Response:
        form = await request.form()
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        submitted = str(form.get("csrf") or "")
        if not cookie or not hmac.compare_digest(cookie, submitted):
            raise HTTPException(403, "missing or wrong CSRF token")
        name = str(form.get("name") or "")[:64]
        recent = audit.count_since(name or "?", "login_failed", db.now() - LOGIN_WINDOW)
        user = None if recent >= MAX_FAILED_LOGINS else accounts.authenticate(name, str(form.get("password") or ""))
        if user is None:
            audit.record(name or "?", "login_failed")
            token = secrets.token_urlsafe(32)
            problem = "Wrong name or password."
            if recent >= MAX_FAILED_LOGINS:
                problem = f"Too many failed logins for this name: wait {LOGIN_WINDOW.seconds // 60} minutes."
            response = page(request, "login.html", 429 if recent >= MAX_FAILED_LOGINS else 401, csrf=token, error=problem)
            response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure(request), path="/login")
            return response
        token, _ = accounts.start_session(user)
        audit.record(user.name, "login")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure(request), path="/")
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    async def logout(request: Request) -> Response:
        session, _ = await posted(request)
        accounts.end_session(request.cookies.get(SESSION_COOKIE))
        audit.record(session.user.name, "logout")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # --- pages ------------------------------------------------------------------

    async def queue(request: Request) -> Response:
        session = current(request)
        reason = request.query_params.get("reason") or None
        if reason is not None and reason not in ReasonCode.__members__.values():
            raise HTTPException(400, f"unknown reason {reason!r}")
        customer = request.query_params.get("customer") or None
        q = review_queue(store, reason=reason, customer=customer)
        failed = failed_keying(store)
        audit.record(session.user.name, "view_queue", field="filter", after=f"reason={reason or ''} customer={customer or ''}")
        return page(request, "queue.html", queue=q, reason=reason, customer=customer, locks=bench.locks.all_live(),
                    failed=failed, unreadable=unreadable_messages(store), mails=mail_for_a_person(store))

    async def original(request: Request) -> Response:
        """The message as it arrived, to open in a mail program (never rendered here)."""
        session = current(request)
        ledger_id = request.path_params["ledger_id"]
        try:
            entry = store.message(ledger_id)
        except KeyError:
            raise HTTPException(404, f"there is no message {ledger_id}") from None
        audit.record(session.user.name, "download_message", field="message", after=str(ledger_id))
        return Response(store.raw_bytes(entry.sha256), media_type="message/rfc822", headers={
            "Content-Disposition": f'attachment; filename="message-{ledger_id}.eml"',
            "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})

    def from_the_queue(handler: Callable[[Session, Request, FormData], int | None]) -> Callable[[Request], Awaitable[Response]]:
        """A change made from the queue page on a message or a mail; back to the
        order the handler returns, else to the queue."""
        async def endpoint(request: Request) -> Response:
            session, form = await posted(request)
            try:
                order_id = handler(session, request, form)
            except Refused as exc:
                return page(request, "error.html", exc.status, message=str(exc), order_id=None)
            except (InvalidTransition, OrderbotError) as exc:
                return page(request, "error.html", 409, message=str(exc), order_id=None)
            return back_to(order_id)

        return endpoint

    def settle_mail(s: Session, request: Request, form: FormData) -> None:
        bench.settle_mail(s.user, request.path_params["mail_id"], _text(form, "status"), _text(form, "reason"))

    def review_message(s: Session, request: Request, form: FormData) -> int:
        return bench.review_message(s.user, request.path_params["ledger_id"]).id

    async def detail(request: Request) -> Response:
        session = current(request)
        order_id = request.path_params["order_id"]
        try:
            stored = store.get_order(order_id)
        except KeyError:
            raise HTTPException(404, f"there is no order {order_id}") from None
        lock = bench.locks.acquire(order_id, session.user.name) if stored.state.value == "needs_review" else None
        audit.record(session.user.name, "view", order_id)
        entry = store.message(stored.ledger_id)
        raw = store.raw_bytes(entry.sha256)
        mail = render.email_view(raw)
        try:  # the text the extractors read (quoted history removed): field spans point into it
            body = parse_message(RawMessage(raw, origin=entry.origin, name=entry.name)).body
        except UnreadableInput:
            body = mail.text
        sources = []
        for doc in store.documents(stored.ledger_id):
            source: dict[str, Any] = {"doc": doc, "kind": "other"}
            data = store.raw_bytes(doc.sha256)
            try:
                if render.is_pdf(doc.content_type):
                    source["kind"] = "pdf"
                    source["pages"] = [
                        render.PdfPage(n, w, h, render.boxes_for(stored.order, doc.name, n, w, h))
                        for n, (w, h) in enumerate(render.pdf_pages(data), start=1)
                    ]
                elif render.is_sheet(doc.name, doc.content_type):
                    source["kind"] = "sheet"
                    source["rows"] = render.sheet_rows(doc.name, doc.content_type, data)
            except Exception as exc:  # noqa: BLE001 - a broken attachment is shown as such, never a 500
                source["kind"] = "broken"
                source["problem"] = f"{type(exc).__name__}: {exc}"
            sources.append(source)
        return page(
            request,
            "detail.html",
            stored=stored,
            order=stored.order,
            entry=entry,
            mail=mail,
            body=render.text_segments(body, stored.order),
            sources=sources,
            lock=lock,
            mine=lock is not None and lock.holder == session.user.name,
            request_kind=is_request(stored),
            addresses=master.addresses(stored.customer_id) if stored.customer_id else (),
            outgoing=store.outgoing_mails(order_id=order_id),
            error=request.query_params.get("error"),
        )

    async def history(request: Request) -> Response:
        session = current(request)
        order_id = request.path_params["order_id"]
        try:
            stored = store.get_order(order_id)
        except KeyError:
            raise HTTPException(404) from None
        audit.record(session.user.name, "view_history", order_id)
        return page(request, "history.html", stored=stored, items=audit.history(store, order_id))

    async def page_png(request: Request) -> Response:
        current(request)
        order_id, doc_id, number = (request.path_params[k] for k in ("order_id", "doc_id", "page"))
        stored = store.get_order(order_id)
        doc = next((d for d in store.documents(stored.ledger_id) if d.id == doc_id), None)
        if doc is None or not render.is_pdf(doc.content_type):
            raise HTTPException(404)
        try:
            png = render.pdf_page_png(store.raw_bytes(doc.sha256), number)
        except IndexError:
            raise HTTPException(404) from None
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    async def suggest(request: Request) -> Response:
        current(request)
        kind = request.query_params.get("kind", "")
        q = (request.query_params.get("q") or "").strip().upper()
        customer = request.query_params.get("customer") or ""
        out: list[dict[str, str]] = []
        if kind == "customer":
            for c in master.customers():
                if not q or q in c.customer_id.upper() or q in c.name.upper():
                    out.append({"value": c.customer_id, "label": c.name})
        elif kind == "ship_to":
            for a in master.addresses(customer):
                out.append({"value": a.address_id, "label": f"{a.name}, {a.street}, {a.postal_code} {a.city}, {a.country}"})
        elif kind == "sku":
            xref = master.cross_reference(customer, q) if customer and q else None
            for p in master.products():
                own = master.customer_skus(customer, p.sku) if customer else ()
                hit = (
                    not q or p.sku == xref or q in p.sku.upper() or q in p.description.upper()
                    or any(q in s.upper() for s in own)
                )
                if hit:
                    label = p.description + (f" (your part {', '.join(own)})" if own else "")
                    out.append({"value": p.sku, "label": label})
        else:
            raise HTTPException(400, "kind is customer, ship_to or sku")
        return JSONResponse(out[:50])

    # --- changes ----------------------------------------------------------------

    def acting(handler: Callable[[Session, int, FormData], Any]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session, form = await posted(request)
            order_id = request.path_params["order_id"]
            try:
                done = handler(session, order_id, form)
            except Refused as exc:
                return page(request, "error.html", exc.status, message=str(exc), order_id=order_id)
            except (EditError, InvalidTransition, ValueError, OrderbotError) as exc:
                return page(request, "error.html", 409, message=str(exc), order_id=order_id)
            if request.headers.get("x-requested-with") == "fetch":
                return JSONResponse({"ok": True, "message": done if isinstance(done, str) else "Done."})
            return back_to(order_id if form.get("stay") else None)

        return endpoint

    def _text(form: FormData, key: str) -> str:
        value = form.get(key)
        return value if isinstance(value, str) else ""

    def edit(s: Session, order_id: int, form: FormData) -> str:
        changes = bench.edit(s.user, order_id, {k: v for k, v in form.items() if isinstance(v, str)})
        return f"Saved: {', '.join(c.field for c in changes)}." if changes else "Nothing changed."

    def release(s: Session, order_id: int, form: FormData) -> None:
        bench.locks.release(order_id, s.user.name)
        audit.record(s.user.name, "release", order_id)

    def takeover(s: Session, order_id: int, form: FormData) -> None:
        if s.user.role != "supervisor":
            raise Refused("only a supervisor takes over an order someone else holds", 403)
        before = bench.locks.current(order_id)
        bench.locks.acquire(order_id, s.user.name, force=True)
        audit.record(s.user.name, "take_over", order_id, field="lock", before=before.holder if before else None, after=s.user.name)

    def duplicate(s: Session, order_id: int, form: FormData) -> None:
        raw = _text(form, "original").strip().lstrip("#")
        if not raw.isdigit():
            raise Refused("give the number of the order this one duplicates", 400)
        bench.duplicate(s.user, order_id, int(raw))

    routes = [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", queue, methods=["GET"]),
        Route("/orders/{order_id:int}", detail, methods=["GET"]),
        Route("/messages/{ledger_id:int}/original", original, methods=["GET"]),
        Route("/messages/{ledger_id:int}/review", from_the_queue(review_message), methods=["POST"]),
        Route("/mail/{mail_id:int}/settle", from_the_queue(settle_mail), methods=["POST"]),
        Route("/orders/{order_id:int}/history", history, methods=["GET"]),
        Route("/orders/{order_id:int}/documents/{doc_id:int}/pages/{page:int}.png", page_png, methods=["GET"]),
        Route("/api/suggest", suggest, methods=["GET"]),
        Route("/orders/{order_id:int}/edit", acting(edit), methods=["POST"]),
        Route("/orders/{order_id:int}/approve", acting(lambda s, o, f: bench.approve(s.user, o)), methods=["POST"]),
        Route("/orders/{order_id:int}/reject", acting(lambda s, o, f: bench.reject(s.user, o, _text(f, "reason"))), methods=["POST"]),
        Route("/orders/{order_id:int}/ask", acting(lambda s, o, f: bench.ask_customer(s.user, o)), methods=["POST"]),
        Route("/orders/{order_id:int}/duplicate", acting(duplicate), methods=["POST"]),
        Route("/orders/{order_id:int}/apply", acting(lambda s, o, f: bench.apply_request(s.user, o, _text(f, "note"))), methods=["POST"]),
        Route("/orders/{order_id:int}/decline", acting(lambda s, o, f: bench.decline_request(s.user, o, _text(f, "reason"))), methods=["POST"]),
        Route("/orders/{order_id:int}/release", acting(release), methods=["POST"]),
        Route("/orders/{order_id:int}/reopen", acting(lambda s, o, f: bench.reopen(s.user, o)), methods=["POST"]),
        Route("/orders/{order_id:int}/takeover", acting(takeover), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 401:
            if request.method == "GET" and not request.url.path.startswith("/api/"):
                return RedirectResponse("/login", status_code=303)
            return page(request, "error.html", 401, message="Your session has ended: log in again.", order_id=None)
        return page(request, "error.html", exc.status_code, message=exc.detail, order_id=None)

    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: http_error},
    )
    app.state.workbench = bench
    app.state.accounts = accounts
    return app
