// The review workbench's only script (the CSP forbids inline script).
// Keyboard shortcuts, field <-> box highlighting, and master-data suggestions.
(function () {
  "use strict";

  function placeBoxes() {
    document.querySelectorAll(".box[data-left]").forEach(function (box) {
      box.style.left = box.dataset.left + "%";
      box.style.top = box.dataset.top + "%";
      box.style.width = box.dataset.width + "%";
      box.style.height = box.dataset.height + "%";
    });
  }

  function highlight(field, on) {
    if (!field) return;
    var name = CSS.escape(field);
    document.querySelectorAll('[data-field="' + name + '"], [data-fields~="' + name + '"]').forEach(function (el) {
      el.classList.toggle("hot", on);
      if (on && el.classList.contains("box") && el.scrollIntoView) {
        el.scrollIntoView({ block: "nearest", inline: "nearest" });
      }
    });
  }

  function linkFields(root) {
    root.querySelectorAll("[data-field]").forEach(function (el) {
      var field = el.dataset.field;
      el.addEventListener("mouseenter", function () { highlight(field, true); });
      el.addEventListener("mouseleave", function () { highlight(field, false); });
      el.addEventListener("focusin", function () { highlight(field, true); });
      el.addEventListener("focusout", function () { highlight(field, false); });
    });
    root.querySelectorAll("[data-fields]").forEach(function (el) {
      var fields = el.dataset.fields.split(" ");
      el.addEventListener("mouseenter", function () { fields.forEach(function (f) { highlight(f, true); }); });
      el.addEventListener("mouseleave", function () { fields.forEach(function (f) { highlight(f, false); }); });
    });
  }

  function typing(event) {
    var t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  function queueKeys() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("#queue tbody tr[data-href]"));
    if (!rows.length) return;
    var at = 0;
    function select(i) {
      rows[at].classList.remove("selected");
      at = Math.max(0, Math.min(rows.length - 1, i));
      rows[at].classList.add("selected");
      rows[at].focus();
    }
    select(0);
    document.addEventListener("keydown", function (e) {
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "j") { select(at + 1); e.preventDefault(); }
      else if (e.key === "k") { select(at - 1); e.preventDefault(); }
      else if (e.key === "Enter") { window.location.href = rows[at].dataset.href; e.preventDefault(); }
    });
  }

  function detailKeys() {
    if (!document.getElementById("detail")) return;
    document.addEventListener("keydown", function (e) {
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      var approve = document.querySelector("#approve");
      var reason = document.getElementById("reject-reason");
      if (e.key === "a" && approve) { approve.requestSubmit(); e.preventDefault(); }
      else if (e.key === "r" && reason) { reason.focus(); e.preventDefault(); }
      else if (e.key === "Escape") { window.location.href = "/"; }
    });
  }

  // Suggestions from master data: /api/suggest fills the input's datalist.
  function suggestions(root) {
    var customer = document.getElementById("f-customer_id");
    root.querySelectorAll("input[data-suggest]").forEach(function (input) {
      var list = document.getElementById(input.getAttribute("list"));
      if (!list) return;
      var timer = null;
      input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(function () {
          var params = new URLSearchParams({ kind: input.dataset.suggest, q: input.value });
          if (customer) params.set("customer", customer.value);
          fetch("/api/suggest?" + params.toString(), { credentials: "same-origin" })
            .then(function (r) { return r.ok ? r.json() : []; })
            .then(function (items) {
              list.replaceChildren();
              items.forEach(function (item) {
                var option = document.createElement("option");
                option.value = item.value;
                option.label = item.label; // text, never HTML
                list.appendChild(option);
              });
            });
        }, 150);
      });
    });
  }

  // Partial update (what htmx's hx-post + hx-select do): a form marked
  // data-partial="SELECTOR" is posted with fetch, and on success only the
  // element SELECTOR is replaced by its fresh copy from the current page, so
  // the source panel (the PDF, its scroll position) stays as it is.
  function partialForms(root) {
    root.querySelectorAll("form[data-partial]").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var target = form.dataset.partial;
        var flash = document.getElementById("flash");
        fetch(form.action, {
          method: "POST",
          body: new FormData(form),
          credentials: "same-origin",
          headers: { "X-Requested-With": "fetch" },
        }).then(function (r) {
          if (r.ok) return r.json().then(function (body) { return refresh(target, body.message || "Saved."); });
          return r.text().then(function (html) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            var problem = doc.getElementById("problem");
            show(flash, problem ? problem.textContent : "Not saved (" + r.status + ").", true);
          });
        }).catch(function () { show(flash, "Not saved: the workbench did not answer.", true); });
      });
    });
  }

  function show(flash, message, bad) {
    if (!flash) return;
    flash.textContent = message; // text, never HTML
    flash.classList.toggle("error", !!bad);
  }

  function refresh(selector, message) {
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(selector);
        var old = document.querySelector(selector);
        if (fresh && old) {
          old.replaceWith(fresh);
          bind(fresh);
        }
        show(document.getElementById("flash"), message, false);
      });
  }

  function bind(root) {
    linkFields(root);
    suggestions(root);
    partialForms(root);
  }

  document.addEventListener("DOMContentLoaded", function () {
    placeBoxes();
    queueKeys();
    detailKeys();
    bind(document);
  });
})();
