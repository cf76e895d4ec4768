"""The Starlette application of the portal, its configuration and ways to run it."""

from __future__ import annotations

import hmac
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from demo.portal import db
from demo.portal.faults import Dice, FaultMiddleware
from demo.portal.formats import comma, plain, show_date
from demo.portal.orderform import OTHER, SHIP_METHODS, OrderForm, validate
from demo.portal.sessions import COOKIE, PRELOGIN_COOKIE, Session, SessionStore

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["comma"] = comma
templates.env.filters["ddmmyyyy"] = show_date


@dataclass
class PortalConfig:
    db_path: Path
    master_data: Path
    users: dict[str, str] = field(default_factory=lambda: {"clerk": "clerk-pass"})
    session_timeout: float = 900
    latency_ms: int = 0
    error_rate: float = 0.0
    commit_then_fail_rate: float = 0.0
    maintenance: bool = False
    test_api: bool = False
    seed: int | None = None
    order_prefix: str = "SO-"


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status)


def error_page(status: int, title: str, text: str) -> Response:
    html = templates.get_template("error.html").render(title=title, text=text, menu=False)
    return Response(html, status_code=status, media_type="text/html")


def invalid_token() -> Response:
    return error_page(403, "Invalid form token", "The form has expired or was not issued by this system. Please reload it.")


def server_error() -> Response:
    return error_page(500, "Internal Server Error", "The server encountered an internal error. Please try again later.")


def local_path(target: str) -> bool:
    return target.startswith("/") and not target.startswith(("//", "/\\"))


def form_text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


class Portal:
    """The request handlers; the config object is shared and read live on every request."""

    def __init__(self, config: PortalConfig) -> None:
        self.config = config
        self.sessions = SessionStore()
        self.dice = Dice(config.seed)

    # -- sessions -------------------------------------------------------------
    def session(self, request: Request) -> Session | Response:
        """The live session, or the redirect to the login page."""
        sid = request.cookies.get(COOKIE)
        session = self.sessions.touch(sid, self.config.session_timeout)
        if session is not None:
            return session
        return RedirectResponse("/login?expired=1" if sid else "/login", status_code=303)

    @staticmethod
    def csrf_ok(form: Any, expected: str | None) -> bool:
        return bool(expected) and hmac.compare_digest(form_text(form, "csrf_token"), expected or "")

    # -- login ----------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        token = request.cookies.get(PRELOGIN_COOKIE) or secrets.token_urlsafe(24)
        if request.method == "GET":
            response = render(request, "login.html", csrf_token=token, username="", error=None,
                              expired=request.query_params.get("expired") == "1",
                              next=request.query_params.get("next", ""))
        else:
            form = await request.form()
            if not self.csrf_ok(form, request.cookies.get(PRELOGIN_COOKIE)):
                return invalid_token()
            username, password = form_text(form, "username").strip(), form_text(form, "password")
            target = form_text(form, "next") or request.query_params.get("next", "")
            if self.credentials_ok(username, password):
                self.sessions.end(request.cookies.get(COOKIE))
                session = self.sessions.create(username)
                response = RedirectResponse(target if local_path(target) else "/menu", status_code=303)
                response.set_cookie(COOKIE, session.sid, httponly=True, samesite="lax")
                response.delete_cookie(PRELOGIN_COOKIE)
                return response
            response = render(request, "login.html", csrf_token=token, username=username, expired=False,
                              error="Invalid user name or password.", next=target)
        response.set_cookie(PRELOGIN_COOKIE, token, httponly=True, samesite="lax")
        return response

    def credentials_ok(self, username: str, password: str) -> bool:
        expected = self.config.users.get(username)
        # Compare against a dummy for unknown users too, so timing does not tell users apart.
        ok = hmac.compare_digest(password.encode(), (expected or "\0invalid").encode())
        return ok and expected is not None

    async def logout(self, request: Request) -> Response:
        self.sessions.end(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    async def menu(self, request: Request) -> Response:
        session = self.session(request)
        if isinstance(session, Response):
            return session
        return render(request, "menu.html", user=session.user)

    # -- order entry ----------------------------------------------------------
    async def new_order(self, request: Request) -> Response:
        session = self.session(request)
        if isinstance(session, Response):
            return session
        if request.method == "GET":
            return self.order_page(request, session, OrderForm(session.new_form_token()))
        form = await request.form()
        if not self.csrf_ok(form, session.csrf_token):
            return invalid_token()
        order_form = OrderForm.from_post(form)
        with db.connect(self.config.db_path) as conn:
            saved = db.order_for_token(conn, order_form.form_token) if order_form.form_token else None
        if saved:
            return RedirectResponse(f"/orders/{saved}", status_code=303)
        if order_form.form_token not in session.form_tokens:
            fresh = OrderForm(session.new_form_token())
            message = "The order form has expired. Please enter the order again."
            return self.order_page(request, session, fresh, errors=[message])
        action = form_text(form, "action") or form_text(form, "postback_action")
        if action == "add_rows":
            order_form.add_rows()
            return self.order_page(request, session, order_form)
        if action == "save":
            return self.save(request, session, order_form, form_text(form, "price_confirmed") == "1")
        return self.select_customer(request, session, order_form)

    def select_customer(self, request: Request, session: Session, order_form: OrderForm) -> Response:
        key = order_form.customer_key
        order_form.customer_no = key
        with db.connect(self.config.db_path) as conn:
            known = bool(key) and db.customer(conn, key) is not None
        if not known:
            order_form.selected_customer, order_form.ship_to = "", ""
            message = f"Unknown customer {key}." if key else "Customer no.: required."
            return self.order_page(request, session, order_form, errors=[message])
        if order_form.selected_customer != key:
            order_form.selected_customer, order_form.ship_to = key, ""
        return self.order_page(request, session, order_form)

    def save(self, request: Request, session: Session, order_form: OrderForm, price_confirmed: bool) -> Response:
        with db.connect(self.config.db_path) as conn:
            result = validate(order_form, conn, session.user, price_confirmed)
            if result.order is None:
                if db.customer(conn, order_form.customer_key) is not None:
                    order_form.customer_no = order_form.selected_customer = order_form.customer_key
                return self.order_page(request, session, order_form, errors=result.errors,
                                       row_messages=result.row_messages)
            number, created = db.insert_order(conn, result.order, self.config.order_prefix)
        session.form_tokens.discard(order_form.form_token)
        if created and self.dice.hits(self.config.commit_then_fail_rate):
            return server_error()
        return RedirectResponse(f"/orders/{number}?saved=1" if created else f"/orders/{number}", status_code=303)

    def order_page(self, request: Request, session: Session, order_form: OrderForm,
                   errors: list[str] | None = None, row_messages: dict[int, str] | None = None) -> Response:
        with db.connect(self.config.db_path) as conn:
            products = db.products(conn)
            selected = order_form.selected_customer
            addresses = db.addresses(conn, selected) if selected else []
        options = [(a["address_id"], db.address_text(a)) for a in addresses]
        if selected:
            options.append((OTHER, "Other address…"))
        return render(
            request, "order_form.html", form=order_form, csrf_token=session.csrf_token,
            ship_to_options=options, ship_methods=SHIP_METHODS, products=products,
            list_prices={sku: p["unit_price"] for sku, p in products.items()},
            errors=errors or [], row_messages=row_messages or {},
        )

    # -- order display and search -----------------------------------------------
    async def order_detail(self, request: Request) -> Response:
        session = self.session(request)
        if isinstance(session, Response):
            return session
        number = request.path_params["number"]
        with db.connect(self.config.db_path) as conn:
            order = db.order(conn, number)
            lines = db.order_lines(conn, number) if order else []
        if order is None:
            return render(request, "error.html", 404, title="Order not found",
                          text=f"Order {number} does not exist.", menu=True)
        shown = [self.shown_line(ln) for ln in lines]
        total = sum((ln["amount"] for ln in shown), Decimal("0.00"))
        return render(request, "order_detail.html", order=order, lines=shown, total=total,
                      saved=request.query_params.get("saved") == "1", ship_methods=SHIP_METHODS)

    @staticmethod
    def shown_line(line: Any) -> dict[str, Any]:
        qty, price = Decimal(line["quantity"]), Decimal(line["unit_price"])
        return {"pos": line["pos"], "item": line["item"], "description": line["description"] or "",
                "uom": line["uom"] or "", "qty": plain(qty), "price": price,
                "amount": (qty * price).quantize(Decimal("0.01"))}

    async def search(self, request: Request) -> Response:
        session = self.session(request)
        if isinstance(session, Response):
            return session
        params = request.query_params
        customer_no, ref = params.get("customer_no", "").strip().upper(), params.get("customer_ref", "")
        searched = "customer_no" in params or "customer_ref" in params
        results = []
        if searched:
            with db.connect(self.config.db_path) as conn:
                for order in db.search_orders(conn, customer_no, ref):
                    amounts = (self.shown_line(ln)["amount"] for ln in db.order_lines(conn, order["order_number"]))
                    results.append({"order": order, "total": sum(amounts, Decimal("0.00"))})
        return render(request, "search.html", customer_no=params.get("customer_no", ""),
                      customer_ref=ref, searched=searched, results=results)

    async def customer_lookup(self, request: Request) -> Response:
        session = self.session(request)
        if isinstance(session, Response):
            return session
        query = request.query_params.get("q", "")
        with db.connect(self.config.db_path) as conn:
            rows = db.customers(conn, query)
        return render(request, "lookup.html", customers=rows, q=query)

    # -- test API ---------------------------------------------------------------
    async def test_orders(self, request: Request) -> Response:
        if not self.config.test_api:
            return error_page(404, "Not Found", "The page does not exist.")
        with db.connect(self.config.db_path) as conn:
            payload = [self.order_json(conn, o) for o in db.all_orders(conn)]
        return JSONResponse(payload)

    @staticmethod
    def order_json(conn: Any, order: Any) -> dict[str, Any]:
        return {
            "order_number": order["order_number"], "customer_no": order["customer_no"],
            "customer_ref": order["customer_ref"], "requested_date": order["requested_date"],
            "ship_method": order["ship_method"], "rush": bool(order["rush"]),
            "ship_to": order["ship_to"], "ship_to_text": order["ship_to_text"],
            "created_at": order["created_at"], "form_token": order["form_token"],
            "lines": [{"pos": ln["pos"], "item": ln["item"], "quantity": ln["quantity"],
                       "unit_price": ln["unit_price"]} for ln in db.order_lines(conn, order["order_number"])],
        }

    async def test_reset(self, request: Request) -> Response:
        if not self.config.test_api:
            return error_page(404, "Not Found", "The page does not exist.")
        with db.connect(self.config.db_path) as conn:
            db.reset_orders(conn)
        return JSONResponse({"ok": True})


async def home(request: Request) -> Response:
    return RedirectResponse("/menu", status_code=303)


def create_app(config: PortalConfig) -> Starlette:
    """The portal app; creates the database or reloads master data into an existing one (orders are kept)."""
    db.initialise(Path(config.db_path), Path(config.master_data))
    portal = Portal(config)
    routes = [
        Route("/", home),
        Route("/login", portal.login, methods=["GET", "POST"]),
        Route("/logout", portal.logout),
        Route("/menu", portal.menu),
        Route("/orders/new", portal.new_order, methods=["GET", "POST"]),
        Route("/orders/search", portal.search),
        Route("/orders/{number}", portal.order_detail),
        Route("/customers/lookup", portal.customer_lookup),
        Route("/_test/orders", portal.test_orders),
        Route("/_test/reset", portal.test_reset, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(FaultMiddleware, config=config, dice=portal.dice, render_error=error_page)
    app.state.portal = portal
    return app


def serve(config: PortalConfig, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Run the portal in the foreground until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port)


class PortalServer:
    """A portal served by uvicorn in a background thread."""

    def __init__(self, config: PortalConfig, host: str, port: int) -> None:
        self.config = config
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        bound = self._sock.getsockname()[1]
        self.url = f"http://[{host}]:{bound}" if ":" in host else f"http://{host}:{bound}"
        uv_config = uvicorn.Config(create_app(config), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(uv_config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="portal-server", daemon=True)

    def start(self) -> PortalServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the portal server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_in_thread(config: PortalConfig, host: str = "127.0.0.1", port: int = 0) -> PortalServer:
    """Start the portal on a free port (port=0) in a daemon thread; stop it with .stop() or a with block."""
    return PortalServer(config, host, port).start()
