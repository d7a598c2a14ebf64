// Coffer console: the login and the session. No inline script (the CSP
// forbids it); the CSRF token lives in this page's memory only.
"use strict";

let csrf = "";

function $(id) { return document.getElementById(id); }

function show(info) {
  csrf = info ? info.csrfToken : "";
  $("login").hidden = !!info;
  $("home").hidden = !info;
  $("logout").hidden = !info;
  $("who").hidden = !info;
  $("who").textContent = info ? "Signed in as " + info.userName : "";
  if (info) { listCompartments(); }
}

async function errorText(resp) {
  try {
    const e = await resp.json();
    return e.message || resp.statusText;
  } catch (_) {
    return resp.statusText;
  }
}

async function listCompartments() {
  const ul = $("compartments");
  ul.replaceChildren();
  $("listError").textContent = "";
  const resp = await fetch("api/compartments", { credentials: "same-origin" });
  if (!resp.ok) {
    $("listError").textContent = await errorText(resp);
    return;
  }
  for (const c of await resp.json()) {
    const li = document.createElement("li");
    li.textContent = c.name + " (" + c.lifecycleState + ")";
    ul.appendChild(li);
  }
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("loginError").textContent = "";
  const body = JSON.stringify({ userName: $("userName").value, password: $("password").value });
  $("password").value = "";
  const resp = await fetch("login", { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: body });
  if (!resp.ok) {
    $("loginError").textContent = await errorText(resp);
    return;
  }
  show(await resp.json());
});

$("logout").addEventListener("click", async () => {
  await fetch("logout", { method: "POST", credentials: "same-origin", headers: { "X-Coffer-CSRF": csrf } });
  show(null);
});

(async () => {
  const resp = await fetch("session", { credentials: "same-origin" });
  show(resp.ok ? await resp.json() : null);
})();
