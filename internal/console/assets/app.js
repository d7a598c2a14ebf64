// Coffer console. No inline script (the CSP forbids it); the CSRF token
// and a revealed secret's content live in this page's memory and DOM only:
// never in the URL, history, storage or a cache. Pages are views under the
// URL's fragment (#/vault/<id>, ...), which holds only OCIDs.
"use strict";

let csrf = "";
let tenancy = "";
let userID = "";
let target = {}; // the current view's resource as the explain API names it (OCIDs only)
let generation = 0; // the current view; a slow answer for an older one is dropped

function $(id) { return document.getElementById(id); }

// el builds an element: attributes (text via textContent, never HTML) and
// children (nodes or strings).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) { continue; }
    if (k === "text") { e.textContent = v; } else if (k === "click") { e.addEventListener("click", v); } else { e.setAttribute(k, v === true ? "" : v); }
  }
  for (const c of children) { if (c !== null && c !== undefined) { e.append(c); } }
  return e;
}

class APIError extends Error {
  constructor(status, code, message, what) { super(message); this.status = status; this.code = code; this.what = what; }
}
class SignedOut extends Error {}

// call sends a request to the console's API and returns the response,
// or throws: a change carries the CSRF token (and ifMatch, the version the
// page showed, when given). Answers are never cached (the server says
// no-store; so does the request).
async function call(method, path, body, what, ifMatch) {
  const opts = { method: method, credentials: "same-origin", cache: "no-store", headers: {} };
  if (method !== "GET") { opts.headers["X-Coffer-CSRF"] = csrf; }
  if (ifMatch) { opts.headers["If-Match"] = ifMatch; }
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  if (resp.status === 401) {
    show(null);
    throw new SignedOut();
  }
  if (!resp.ok) {
    let e = {};
    try { e = await resp.json(); } catch (_) { /* not JSON */ }
    throw new APIError(resp.status, e.code || "", e.message || resp.statusText, what);
  }
  return resp;
}

// api calls the console's API and returns the answer's JSON (null when it
// has none: some changes, ScheduleSecretDeletion and CancelSecretDeletion,
// answer 200 with no body, as OCI's do).
async function api(method, path, body, what, ifMatch) {
  const resp = await call(method, path, body, what, ifMatch);
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

let deniedQuestion = null; // the operation and target of the last denial (OCIDs only)

function clearMessages() {
  for (const id of ["denied", "denied-why", "error", "denied-own-result"]) { $(id).hidden = true; $(id).textContent = ""; }
  $("denied-own").hidden = true;
  deniedQuestion = null;
  $("denied-explain").hidden = true;
  $("denied-explain").removeAttribute("href");
}

// explainLink is the explain page's fragment for a question: OCIDs and an
// operation name only, never content.
function explainLink(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) { if (v) { p.set(k, v); } }
  return "#/explain/" + p.toString();
}

function failed(e) {
  if (e instanceof SignedOut) { return; }
  if (e instanceof APIError && e.code === "NotAuthorizedOrNotFound") {
    $("denied").textContent = e.message;
    $("denied-why").textContent = "No policy lets you do " + e.what + " here, or it does not exist.";
    $("denied").hidden = false;
    $("denied-why").hidden = false;
    $("denied-explain").href = explainLink(Object.assign({ userId: userID, operation: e.what }, target));
    $("denied-explain").hidden = false;
    deniedQuestion = Object.assign({ operation: e.what }, target);
    $("denied-own").hidden = false;
    return;
  }
  $("error").textContent = (e.what ? e.what + ": " : "") + (e.code ? e.code + ": " : "") + e.message;
  $("error").hidden = false;
}

function show(info) {
  csrf = info ? info.csrfToken : "";
  tenancy = info ? info.tenancyId : "";
  userID = info ? info.userId : "";
  $("login").hidden = !!info;
  $("nav").hidden = !info;
  $("logout").hidden = !info;
  $("who").hidden = !info;
  $("who").textContent = info ? "Signed in as " + info.userName : "";
  $("view").replaceChildren();
  clearMessages();
  if (info) { route(); } else { $("login-user").focus(); }
}

function link(href, text) { return el("a", { href: href, text: text }); }
function enc(s) { return encodeURIComponent(s); }
function q(params) { return "?" + new URLSearchParams(params).toString(); }

// maxListed bounds what one view lists: a list's pages are followed up
// to it.
const maxListed = 1000;

// listAll follows a list's pages (opc-next-page) up to maxListed items.
async function listAll(path, what) {
  const out = [];
  let page = "";
  for (;;) {
    const sep = path.includes("?") ? "&" : "?";
    const resp = await call("GET", path + (page ? sep + "page=" + enc(page) : ""), undefined, what);
    out.push(...await resp.json());
    page = resp.headers.get("opc-next-page") || "";
    if (!page || out.length >= maxListed) { return out; }
  }
}

function table(headers, tbodyID, rows) {
  return el("div", { class: "scroll" }, el("table", {},
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", { id: tbodyID }, ...rows)));
}

function when(t) { return t ? new Date(t).toLocaleString() : ""; }

function fact(dl, name, value) { dl.append(el("dt", { text: name }), el("dd", { text: value || "" })); }

// ---- pages ----

async function compartmentsPage() {
  const list = await api("GET", "api/compartments", undefined, "ListCompartments");
  const children = {};
  for (const c of list) { (children[c.compartmentId] = children[c.compartmentId] || []).push(c); }
  // #compartments holds one item per compartment (the tenancy, the root,
  // is the line above it), children nested under their parent.
  const item = (c) => {
    const li = el("li", { "data-id": c.id }, link("#/vaults/" + enc(c.id), c.name), " (" + c.lifecycleState + ")");
    const kids = children[c.id] || [];
    if (kids.length) { li.append(el("ul", {}, ...kids.map(item))); }
    return li;
  };
  return [el("h2", { text: "Compartments" }),
    el("p", {}, link("#/vaults/" + enc(tenancy), "Root compartment (tenancy)")),
    el("ul", { id: "compartments", class: "tree" }, ...(children[tenancy] || []).map(item))];
}

async function vaultsPage(compartment) {
  const vaults = await listAll("api/vaults" + q({ compartmentId: compartment }), "ListVaults");
  const [nameLabel, name] = input("new-vault-name", "Name");
  const type = el("select", { id: "new-vault-type", name: "vaultType" },
    el("option", { value: "DEFAULT", text: "Default (shared partition)" }),
    el("option", { value: "VIRTUAL_PRIVATE", text: "Virtual private" }));
  const form = el("form", { id: "new-vault", class: "stack" }, el("h3", { text: "New vault" }), nameLabel, name,
    el("label", { for: "new-vault-type", text: "Type" }), type,
    el("button", { id: "new-vault-submit", type: "submit", text: "Create vault" }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    change(async () => {
      const v = await api("POST", "api/vaults", { compartmentId: compartment, displayName: name.value, vaultType: type.value }, "CreateVault");
      location.hash = "#/vault/" + enc(v.id);
    });
  });
  return [el("h2", { text: "Vaults" }), el("p", { class: "id", text: "Compartment " + compartment }),
    vaults.length ? null : el("p", { text: "No vaults in this compartment." }),
    el("ul", { id: "vaults" }, ...vaults.map((v) => el("li", { "data-id": v.id },
      link("#/vault/" + enc(v.id), v.displayName), " (" + v.lifecycleState + ")"))), form];
}

// keyShapes are the shapes the new-key form offers (the API takes more).
const keyShapes = {
  "AES-256": { algorithm: "AES", length: 32 },
  "RSA-2048": { algorithm: "RSA", length: 256 },
  "ECDSA-P256": { algorithm: "ECDSA", length: 32, curveId: "NIST_P256" },
};

// newKeyForm creates a key in the vault (CreateKey on its management
// endpoint, the path's vault here).
function newKeyForm(v) {
  const [nameLabel, name] = input("new-key-name", "Name");
  const shape = el("select", { id: "new-key-shape", name: "keyShape" },
    ...Object.keys(keyShapes).map((k) => el("option", { value: k, text: k })));
  const mode = el("select", { id: "new-key-protection", name: "protectionMode" },
    el("option", { value: "HSM", text: "HSM" }), el("option", { value: "SOFTWARE", text: "Software" }));
  const form = el("form", { id: "new-key", class: "stack" }, el("h3", { text: "New key" }), nameLabel, name,
    el("label", { for: "new-key-shape", text: "Algorithm" }), shape,
    el("label", { for: "new-key-protection", text: "Protection" }), mode,
    el("button", { id: "new-key-submit", type: "submit", text: "Create key" }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    change(() => api("POST", "api/vaults/" + enc(v.id) + "/keys", { compartmentId: v.compartmentId, displayName: name.value,
      keyShape: keyShapes[shape.value], protectionMode: mode.value }, "CreateKey"));
  });
  return form;
}

async function vaultPage(vaultID) {
  const v = await api("GET", "api/vaults/" + enc(vaultID), undefined, "GetVault");
  const base = "api/vaults/" + enc(vaultID);
  const [keys, secrets] = await Promise.all([
    listAll(base + "/keys" + q({ compartmentId: v.compartmentId }), "ListKeys"),
    listAll("api/secrets" + q({ compartmentId: v.compartmentId, vaultId: vaultID }), "ListSecrets"),
  ]);
  const dl = el("dl");
  fact(dl, "OCID", v.id);
  fact(dl, "State", v.lifecycleState);
  fact(dl, "Compartment", v.compartmentId);
  return [el("h2", { text: "Vault " + v.displayName }), dl,
    el("h3", { text: "Keys" }),
    el("ul", { id: "keys" }, ...keys.map((k) => el("li", { "data-id": k.id },
      link("#/key/" + enc(vaultID) + "/" + enc(k.id), k.displayName), " (" + k.lifecycleState + ")"))),
    el("h3", { text: "Secrets" }),
    el("ul", { id: "secrets" }, ...secrets.map((s) => el("li", { "data-id": s.id },
      link("#/secret/" + enc(s.id), s.secretName), " (" + s.lifecycleState + ")"))),
    v.lifecycleState === "ACTIVE" ? newKeyForm(v) : null, newSecretForm(v, keys)];
}

// newSecretForm creates a secret in the vault (CreateSecret), encrypted
// under one of its enabled AES keys; the content box is emptied as soon as
// it is sent and the page moves to the new secret, content hidden.
function newSecretForm(v, keys) {
  const usable = keys.filter((k) => k.lifecycleState === "ENABLED" && k.algorithm === "AES");
  if (!usable.length) { return el("p", { class: "note", text: "No enabled AES key in this vault to encrypt a new secret with." }); }
  const [nameLabel, name] = input("new-secret-name", "Name");
  const key = el("select", { id: "new-secret-key", name: "keyId" },
    ...usable.map((k) => el("option", { value: k.id, text: k.displayName })));
  const content = el("textarea", { id: "new-secret-content", name: "content", rows: "3", autocomplete: "off",
    spellcheck: "false", required: true });
  const form = el("form", { id: "new-secret", class: "stack" }, el("h3", { text: "New secret" }), nameLabel, name,
    el("label", { for: "new-secret-key", text: "Encryption key" }), key,
    el("label", { for: "new-secret-content", text: "Content" }), content,
    el("button", { id: "new-secret-submit", type: "submit", text: "Create secret" }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = { compartmentId: v.compartmentId, vaultId: v.id, keyId: key.value, secretName: name.value,
      secretContent: { contentType: "BASE64", content: encode(content.value) } };
    content.value = "";
    change(async () => {
      const s = await api("POST", "api/secrets", body, "CreateSecret");
      location.hash = "#/secret/" + enc(s.id);
    });
  });
  return form;
}

async function keyPage(vaultID, keyID) {
  const base = "api/vaults/" + enc(vaultID) + "/keys/" + enc(keyID);
  const [k, versions] = await Promise.all([api("GET", base, undefined, "GetKey"),
    listAll(base + "/versions", "ListKeyVersions")]);
  const dl = el("dl");
  fact(dl, "OCID", k.id);
  fact(dl, "State", k.lifecycleState);
  fact(dl, "Algorithm", k.keyShape ? k.keyShape.algorithm + " " + k.keyShape.length + " bytes" : "");
  fact(dl, "Protection", k.protectionMode);
  fact(dl, "Current version", k.currentKeyVersion);
  if (k.timeOfDeletion) { fact(dl, "Deletion", when(k.timeOfDeletion)); }
  const action = (id, text, path, op) => el("button", { id: id, type: "button", text: text,
    click: () => change(() => api("POST", base + path, undefined, op)) });
  // Only an enabled key rotates (the API refuses the others).
  const actions = el("div", { class: "actions" },
    k.lifecycleState === "ENABLED" ? action("rotate", "Rotate", "/versions", "CreateKeyVersion") : null,
    k.lifecycleState === "DISABLED" ? action("key-enable", "Enable", "/enable", "EnableKey") : null,
    k.lifecycleState === "ENABLED" ? action("key-disable", "Disable", "/disable", "DisableKey") : null,
    k.lifecycleState === "ENABLED" || k.lifecycleState === "DISABLED" ? el("button", { id: "key-schedule-deletion", type: "button",
      class: "danger", text: "Schedule deletion", click: () => {
        if (window.confirm("Schedule the deletion of key " + k.displayName + " (in 30 days)?")) {
          change(() => api("POST", base + "/scheduleDeletion", undefined, "ScheduleKeyDeletion"));
        }
      } }) : null,
    k.lifecycleState === "PENDING_DELETION" ? action("key-cancel-deletion", "Cancel deletion", "/cancelDeletion", "CancelKeyDeletion") : null);
  return [el("h2", { text: "Key " + k.displayName }), dl, actions, el("h3", { text: "Versions" }),
    table(["Version", "State", "Created", ""], "versions", versions.map((kv) => el("tr", { "data-id": kv.id },
      el("td", { class: "id", text: kv.id + (kv.id === k.currentKeyVersion ? " (current)" : "") }),
      el("td", { text: kv.lifecycleState + (kv.timeOfDeletion ? " until " + when(kv.timeOfDeletion) : "") }),
      el("td", { text: when(kv.timeCreated) }), el("td", {}, keyVersionAction(base, k, kv)))))];
}

// keyVersionAction is a key version's deletion button: schedule for an
// enabled version that is not the current one, cancel for one pending.
function keyVersionAction(base, k, kv) {
  const vbase = base + "/versions/" + enc(kv.id);
  if (kv.lifecycleState === "PENDING_DELETION") {
    return el("button", { type: "button", class: "version-cancel-deletion", text: "Cancel deletion",
      "aria-label": "Cancel the deletion of key version " + kv.id,
      click: () => change(() => api("POST", vbase + "/cancelDeletion", undefined, "CancelKeyVersionDeletion")) });
  }
  if (kv.lifecycleState !== "ENABLED" || kv.id === k.currentKeyVersion) { return null; }
  return el("button", { type: "button", class: "version-schedule-deletion danger", text: "Delete",
    "aria-label": "Schedule the deletion of key version " + kv.id, click: () => {
      if (window.confirm("Schedule the deletion of this version of key " + k.displayName + " (in 30 days)?")) {
        change(() => api("POST", vbase + "/scheduleDeletion", undefined, "ScheduleKeyVersionDeletion"));
      }
    } });
}

async function secretPage(secretID) {
  const base = "api/secrets/" + enc(secretID);
  const [s, versions] = await Promise.all([api("GET", base, undefined, "GetSecret"),
    listAll(base + "/versions", "ListSecretVersions")]);
  const dl = el("dl");
  fact(dl, "OCID", s.id);
  fact(dl, "State", s.lifecycleState);
  fact(dl, "Current version", String(s.currentVersionNumber));
  fact(dl, "Vault", s.vaultId);
  if (s.timeOfDeletion) { fact(dl, "Deletion", when(s.timeOfDeletion)); }
  const rows = versions.map((v) => {
    const stages = v.stages || [];
    const promote = stages.includes("CURRENT") || v.timeOfDeletion ? null :
      el("button", { type: "button", class: "promote", text: "Make current",
        "aria-label": "Make version " + v.versionNumber + " current",
        click: () => change(() => api("POST", base, { currentVersionNumber: v.versionNumber }, "UpdateSecret")) });
    const vbase = base + "/versions/" + v.versionNumber;
    // A version's deletion date, and (on an ACTIVE secret) its buttons:
    // cancel a pending one, schedule a deprecated one (the only kind OCI
    // deletes).
    const deletion = v.timeOfDeletion ? [" deletion " + when(v.timeOfDeletion) + " "] : [" "];
    if (s.lifecycleState === "ACTIVE" && v.timeOfDeletion) {
      deletion.push(el("button", { type: "button", class: "version-cancel-deletion",
        text: "Cancel deletion", "aria-label": "Cancel the deletion of version " + v.versionNumber,
        click: () => change(() => api("POST", vbase + "/cancelDeletion", undefined, "CancelSecretVersionDeletion")) }));
    } else if (s.lifecycleState === "ACTIVE" && stages.every((x) => x === "DEPRECATED")) {
      deletion.push(el("button", { type: "button", class: "version-schedule-deletion danger", text: "Delete",
        "aria-label": "Schedule the deletion of version " + v.versionNumber, click: () => {
          if (window.confirm("Schedule the deletion of version " + v.versionNumber + " of " + s.secretName + "?")) {
            change(() => api("POST", vbase + "/scheduleDeletion", undefined, "ScheduleSecretVersionDeletion"));
          }
        } }));
    }
    return el("tr", { "data-id": String(v.versionNumber) }, el("td", { text: String(v.versionNumber) }),
      el("td", { text: stages.join(", ") }), el("td", { text: when(v.timeCreated) }), el("td", {}, promote, ...deletion));
  });
  const content = el("pre", { id: "content", "aria-label": "Secret content" });
  const reveal = el("button", { id: "reveal", type: "button", text: "Reveal" });
  const hide = el("button", { id: "hide", type: "button", text: "Hide", hidden: true });
  const mine = generation;
  reveal.addEventListener("click", async () => {
    clearMessages();
    try {
      const bundle = await api("POST", base + "/reveal", undefined, "GetSecretBundle");
      if (mine !== generation) { return; } // navigated away meanwhile
      content.textContent = decode(bundle.secretBundleContent ? bundle.secretBundleContent.content : "");
      reveal.hidden = true;
      hide.hidden = false;
      hide.focus();
    } catch (e) { failed(e); }
  });
  hide.addEventListener("click", () => {
    content.textContent = "";
    hide.hidden = true;
    reveal.hidden = false;
    reveal.focus();
  });
  const text = el("textarea", { id: "new-version-content", name: "content", rows: "4", autocomplete: "off",
    spellcheck: "false", required: true });
  const form = el("form", { id: "new-version", class: "stack" }, el("label", { for: "new-version-content", text: "New version content" }),
    text, el("button", { id: "new-version-submit", type: "submit", text: "Create version" }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = { secretContent: { contentType: "BASE64", content: encode(text.value) } };
    text.value = "";
    change(() => api("POST", base, body, "UpdateSecret"));
  });
  const del = el("button", { id: "schedule-deletion", type: "button", class: "danger", text: "Schedule deletion",
    hidden: s.lifecycleState !== "ACTIVE",
    click: () => {
      if (window.confirm("Schedule the deletion of secret " + s.secretName + "?")) {
        change(() => api("POST", base + "/scheduleDeletion", undefined, "ScheduleSecretDeletion"));
      }
    } });
  const cancel = el("button", { id: "cancel-deletion", type: "button", text: "Cancel deletion",
    hidden: s.lifecycleState !== "PENDING_DELETION",
    click: () => change(() => api("POST", base + "/cancelDeletion", undefined, "CancelSecretDeletion")) });
  return [el("h2", { text: "Secret " + s.secretName }), dl,
    el("h3", { text: "Content" }), el("div", { class: "actions" }, reveal, hide), content,
    el("h3", { text: "Versions" }), table(["Version", "Stages", "Created", ""], "versions", rows),
    el("h3", { text: "New version" }), form, el("div", { class: "actions" }, del, cancel)];
}

// ---- usage and cost ----

// usageGroups are the usage report's groupings (usage.GroupBys).
const usageGroups = ["principal", "operation", "secret"];

// usageDefaultPrice is what `coffer usage` assumes for 10,000 secret
// retrievals (usage.DefaultPricePer10k: OCI's list price, in USD).
const usageDefaultPrice = "0.03";

// rfc3339 turns a datetime-local value (the browser's time zone) into the
// RFC 3339 UTC time the API takes; "" stays "".
function rfc3339(local) {
  const d = new Date(local);
  return local && !isNaN(d) ? d.toISOString().replace(/\.\d{3}Z$/, "Z") : "";
}

// localInput turns an RFC 3339 time into a datetime-local value.
function localInput(t) {
  const d = new Date(t);
  if (!t || isNaN(d)) { return ""; }
  const two = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + "T" + two(d.getHours()) + ":" + two(d.getMinutes());
}

// usageLabel names a row's key as `coffer usage` does.
function usageLabel(by, key) {
  if (key === "" && by === "principal") { return "(unauthenticated)"; }
  if (key === "" && by === "secret") { return "(no secret)"; }
  if (key === "other") { return "(other: beyond the distinct keys kept)"; }
  return key;
}

// usagePrice is the price input's value as a number, or null when it is
// empty or not a price (then there is no cost column).
function usagePrice(input) {
  const v = input.value.trim();
  if (v === "" || !input.checkValidity()) { return null; }
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

// money prints an amount to the millionth, without trailing zeros, as
// `coffer usage` does: a few retrievals cost millionths of a dollar.
function money(v) { return String(Math.round(v * 1e6) / 1e6); }

// usagePage shows the usage report (GetUsageReport, `read usage-report in
// tenancy`) for the fragment's since, until and groupBy, with a cost
// column computed here from the price per 10,000 retrievals: the report
// carries counts only, and the price is the reader's business.
async function usagePage(params) {
  const by = usageGroups.includes(params.get("groupBy")) ? params.get("groupBy") : "principal";
  const since = el("input", { id: "usage-since", name: "since", type: "datetime-local", value: localInput(params.get("since")) });
  const until = el("input", { id: "usage-until", name: "until", type: "datetime-local", value: localInput(params.get("until")) });
  const group = el("select", { id: "usage-group", name: "groupBy" },
    ...usageGroups.map((g) => el("option", { value: g, text: g, selected: g === by })));
  const price = el("input", { id: "usage-price", name: "price", type: "number", min: "0", step: "any", inputmode: "decimal",
    value: params.has("price") ? params.get("price") : usageDefaultPrice });
  const field = (id, label, input) => el("div", { class: "field" }, el("label", { for: id, text: label }), input);
  const form = el("form", { id: "usage-form", class: "filters" },
    field("usage-since", "From", since), field("usage-until", "Until", until), field("usage-group", "Group by", group),
    field("usage-price", "Price per 10,000 retrievals", price),
    el("button", { id: "usage-submit", type: "submit", text: "Show" }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams({ groupBy: group.value });
    if (rfc3339(since.value)) { p.set("since", rfc3339(since.value)); }
    if (rfc3339(until.value)) { p.set("until", rfc3339(until.value)); }
    p.set("price", price.value.trim());
    const hash = "#/usage/" + p.toString();
    if (location.hash === hash) { route(); } else { location.hash = hash; }
  });
  const head = [el("h2", { text: "Usage and cost" }),
    el("p", { text: "API calls, denials, errors and secret retrievals of the whole tenancy, as coffer usage reports them." }), form,
    el("p", { class: "note", text: "Empty times: the last 24 hours. An empty price: no cost column." })];
  const query = { groupBy: by };
  for (const k of ["since", "until"]) { if (params.get(k)) { query[k] = params.get(k); } }
  const mine = generation;
  let rep;
  try {
    rep = await api("GET", "api/usage" + q(query), undefined, "GetUsageReport");
  } catch (e) {
    if (e instanceof SignedOut) { throw e; }
    if (mine === generation) { failed(e); } // the form stays, to ask again
    return head;
  }
  const costCells = [];
  const row = (r, total) => {
    const cost = el("td", { class: "num cost" });
    costCells.push([cost, r.retrievals]);
    const key = !total && by === "secret" && r.key.startsWith("ocid1.") ? link("#/secret/" + enc(r.key), r.key) : (total ? "Total" : usageLabel(by, r.key));
    return el("tr", total ? { id: "usage-total" } : { "data-key": r.key },
      el(total ? "th" : "td", total ? { scope: "row" } : { class: by === "operation" ? null : "id" }, key),
      ...[r.calls, r.denied, r.errors, r.retrievals].map((n) => el("td", { class: "num", text: String(n) })), cost);
  };
  const costHead = el("th", { scope: "col", class: "num cost", text: "Est. cost" });
  const rows = (rep.items || []).map((r) => row(r, false));
  const tbl = el("div", { class: "scroll" }, el("table", { id: "usage" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: by[0].toUpperCase() + by.slice(1) }),
      ...["Calls", "Denied", "Errors", "Retrievals"].map((h) => el("th", { scope: "col", class: "num", text: h })), costHead)),
    el("tbody", { id: "usage-rows" }, ...rows), el("tfoot", {}, row(rep.total, true))));
  // The cost follows the price as it is typed; the counts do not change.
  const reprice = () => {
    const p = usagePrice(price);
    costHead.hidden = p === null;
    price.setAttribute("aria-invalid", price.value.trim() !== "" && p === null ? "true" : "false");
    for (const [cell, n] of costCells) { cell.hidden = p === null; cell.textContent = p === null ? "" : money(n * p / 10000); }
  };
  price.addEventListener("input", reprice);
  reprice();
  return [...head,
    el("p", { id: "usage-range", text: "From " + when(rep.since) + " to " + when(rep.until) + " by " + rep.groupBy +
      " (counts are kept per hour, so the range is widened to whole hours)." }),
    rows.length ? null : el("p", { text: "No calls in this range." }), tbl,
    el("p", { class: "note", text: "Retrievals are successful GetSecretBundle and GetSecretBundleByName calls, the unit OCI Vault prices: " +
      "the cost is retrievals / 10,000 × the price. A reader that caches (pkg/secretcache, coffer agent) reads each secret once per refresh instead of once per use." })];
}

// The operations the console's pages call, offered on the explain page
// (any operation the explain API knows may be typed).
const explainOps = ["ListCompartments", "ListVaults", "GetVault", "ListKeys", "GetKey", "ListKeyVersions",
  "CreateKeyVersion", "EnableKey", "DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion", "ListSecrets", "GetSecret",
  "UpdateSecret", "ListSecretVersions", "ScheduleSecretDeletion", "CancelSecretDeletion", "GetSecretBundle",
  "GetUsageReport", "ListUsers", "GetUser", "CreateOrResetUIPassword", "ListGroups", "GetGroup", "AddUserToGroup",
  "RemoveUserFromGroup", "ListDynamicGroups", "GetDynamicGroup", "ListPolicies", "GetPolicy", "CreatePolicy",
  "UpdatePolicy", "DeletePolicy"];

// explainFields are the explain page's inputs: [id, label, the API's
// field, kind]. An OCID field may be filled in from the fragment; a "lines"
// field is a textarea of name=value lines (a map in the request), never
// taken from the fragment, which holds only OCIDs.
const explainFields = [
  ["explain-user", "User OCID", "userId", "ocid"],
  ["explain-group", "or group OCID", "groupId", "ocid"],
  ["explain-dynamic-group", "or dynamic group OCID", "dynamicGroupId", "ocid"],
  ["explain-attributes", "The dynamic group's instance or resource: attributes its rule tests, name=value a line (instance.compartment.id=ocid1..., resource.type=fnfunc)", "attributes", "lines"],
  ["explain-operation", "Operation", "operation", "text"],
  ["explain-compartment", "Compartment OCID", "compartmentId", "ocid"],
  ["explain-vault", "Vault OCID", "vaultId", "ocid"],
  ["explain-key", "Key OCID", "keyId", "ocid"],
  ["explain-secret", "Secret OCID", "secretId", "ocid"],
  ["explain-secret-name", "Secret name (for CreateSecret)", "secretName", "text"],
  ["explain-variables", "Request variables, name=value a line (request.region=eu-home-1)", "variables", "lines"],
];

// explainLines reads name=value lines into a map; blank lines are skipped.
// A line without a name is the user's mistake, said before anything is
// sent.
function explainLines(text, what) {
  const out = {};
  let n = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") { continue; }
    const i = line.indexOf("=");
    if (i <= 0) { throw new APIError(400, "InvalidParameter", what + ": \"" + line + "\" is not name=value", "ExplainAuthorization"); }
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    n++;
  }
  return n ? out : undefined;
}

// explainPage asks the explain API why a user, a group or a dynamic
// group's instance can or cannot do an operation, and shows its decision,
// reason and the statement to add exactly as the API returns them.
function explainPage(params) {
  const form = el("form", { id: "explain", class: "stack" });
  const inputs = {};
  for (const [id, label, field, kind] of explainFields) {
    const input = kind === "lines"
      ? el("textarea", { id: id, name: field, rows: 3, autocomplete: "off", spellcheck: "false" })
      : el("input", { id: id, name: field, autocomplete: "off", spellcheck: "false",
        list: field === "operation" ? "explain-operations" : null, value: params.get(field) || "" });
    inputs[field] = input;
    form.append(el("label", { for: id, text: label }), input);
  }
  form.append(el("datalist", { id: "explain-operations" }, ...explainOps.map((o) => el("option", { value: o }))),
    el("button", { id: "explain-submit", type: "submit", text: "Explain" }));
  const result = el("div", { id: "explain-result", "aria-live": "polite" });
  const mine = generation;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearMessages();
    result.replaceChildren();
    const v = (f) => inputs[f].value.trim() || undefined;
    try {
      const body = {
        principal: { userId: v("userId"), groupId: v("groupId"), dynamicGroupId: v("dynamicGroupId"),
          attributes: explainLines(inputs.attributes.value, "attributes") },
        operation: v("operation"), compartmentId: v("compartmentId"), vaultId: v("vaultId"), keyId: v("keyId"),
        secretId: v("secretId"), secretName: v("secretName"), variables: explainLines(inputs.variables.value, "variables") };
      const x = await api("POST", "api/explain", body, "ExplainAuthorization");
      if (mine !== generation) { return; }
      result.replaceChildren(
        el("p", {}, el("strong", { id: "explain-decision", text: x.allowed ? "ALLOWED" : "DENIED" }),
          " " + x.operation + " for " + x.principal),
        el("p", { id: "explain-reason", text: x.reason }),
        x.suggestion ? el("h3", { text: "Statement to add" }) : null,
        x.suggestion ? el("pre", {}, el("code", { id: "explain-suggestion", text: x.suggestion })) : null,
        ...(x.notes || []).map((n) => el("p", { class: "note", text: n })));
    } catch (e) { failed(e); }
  });
  return [el("h2", { text: "Why can't X do Y?" }),
    el("p", { text: "Asks the policy engine how it decides an operation for a user, a group or a dynamic group's instance, and which statement would allow it." }),
    form, result];
}

// ---- identity ----

function state(x) { return " (" + x.lifecycleState + ")"; }

async function identityPage() {
  const tq = q({ compartmentId: tenancy });
  const [users, groups, dgs] = await Promise.all([listAll("api/users" + tq, "ListUsers"),
    listAll("api/groups" + tq, "ListGroups"), listAll("api/dynamicGroups" + tq, "ListDynamicGroups")]);
  return [el("h2", { text: "Identity" }),
    el("p", {}, link("#/policies/" + enc(tenancy), "Policies of the root compartment (tenancy)")),
    el("h3", { text: "Users" }),
    el("ul", { id: "users" }, ...users.map((u) => el("li", { "data-id": u.id }, link("#/user/" + enc(u.id), u.name), state(u)))),
    el("h3", { text: "Groups" }),
    el("ul", { id: "groups" }, ...groups.map((g) => el("li", { "data-id": g.id }, link("#/group/" + enc(g.id), g.name), state(g)))),
    el("h3", { text: "Dynamic groups" }),
    el("ul", { id: "dynamic-groups" }, ...dgs.map((d) => el("li", { "data-id": d.id },
      link("#/dynamic-group/" + enc(d.id), d.name), state(d)))),
    createForm("new-user", "New user", "CreateUser", "api/users", "#/user/", [["name", "Name"], ["description", "Description"],
      ["email", "Email (optional)"]]),
    createForm("new-group", "New group", "CreateGroup", "api/groups", "#/group/", [["name", "Name"], ["description", "Description"]]),
    createForm("new-dynamic-group", "New dynamic group", "CreateDynamicGroup", "api/dynamicGroups", "#/dynamic-group/",
      [["name", "Name"], ["description", "Description"], ["matchingRule", "Matching rule, e.g. ALL {instance.compartment.id = 'ocid1...'}"]])];
}

// createForm is a small form that creates an identity resource in the
// tenancy with the API's Create operation (fields: [API field, label];
// empty optional fields are left out) and opens its page.
function createForm(id, title, op, path, page, fields) {
  const inputs = {};
  const form = el("form", { id: id, class: "stack" }, el("h3", { text: title }));
  for (const [field, label] of fields) {
    const [l, i] = input(id + "-" + field, label);
    inputs[field] = i;
    form.append(l, i);
  }
  form.append(el("button", { id: id + "-submit", type: "submit", text: title.replace("New", "Create") }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = { compartmentId: tenancy };
    for (const [field, i] of Object.entries(inputs)) { if (i.value.trim()) { body[field] = i.value.trim(); } }
    change(async () => {
      const made = await api("POST", path, body, op);
      location.hash = page + enc(made.id);
    });
  });
  return form;
}

async function userPage(id) {
  const base = "api/users/" + enc(id);
  const u = await api("GET", base, undefined, "GetUser");
  const [memberships, groups] = await Promise.all([
    listAll("api/userGroupMemberships" + q({ compartmentId: tenancy, userId: id }), "ListUserGroupMemberships"),
    listAll("api/groups" + q({ compartmentId: tenancy }), "ListGroups")]);
  const names = Object.fromEntries(groups.map((g) => [g.id, g.name]));
  let password = "none set";
  try {
    const pw = await api("GET", base + "/uiPassword", undefined, "GetUserUIPasswordInformation");
    password = "set " + when(pw.timeCreated);
  } catch (e) {
    if (!(e instanceof APIError && e.status === 404)) { throw e; }
  }
  const dl = el("dl");
  fact(dl, "OCID", u.id);
  fact(dl, "State", u.lifecycleState);
  fact(dl, "Description", u.description);
  fact(dl, "Email", u.email);
  fact(dl, "Console password", password);
  // A new console password is shown once, like a revealed secret: in the
  // DOM only, gone on Hide and on navigation. Resetting one's own ends
  // one's own session too.
  const shown = el("pre", { id: "ui-password", "aria-label": "New console password" });
  const hide = el("button", { id: "ui-password-hide", type: "button", text: "Hide", hidden: true,
    click: () => { shown.textContent = ""; hide.hidden = true; } });
  const mine = generation;
  // One's own needs the current password (the server checks it as a login).
  const own = id === userID;
  const current = own ? el("input", { id: "ui-password-current", type: "password", autocomplete: "current-password" }) : null;
  const reset = el("button", { id: "ui-password-reset", type: "button", class: "danger", text: "Reset console password",
    click: async () => {
      if (!window.confirm("Give " + u.name + " a new console password? The old one stops working, and so do " +
        (own ? "your" : "the user's") + " console sessions.")) { return; }
      clearMessages();
      const body = own ? { currentPassword: current.value } : undefined;
      if (own) { current.value = ""; }
      try {
        const pw = await api("POST", base + "/uiPassword", body, "CreateOrResetUIPassword");
        if (mine !== generation) { return; }
        shown.textContent = pw.password;
        hide.hidden = false;
        hide.focus();
      } catch (e) { failed(e); }
    } });
  return [el("h2", { text: "User " + u.name }), dl,
    own ? el("div", { class: "stack" }, el("label", { for: "ui-password-current", text: "Your current console password" }), current) : null,
    el("div", { class: "actions" }, reset, hide), shown,
    el("h3", { text: "Groups" }),
    el("ul", { id: "user-groups" }, ...memberships.map((m) => el("li", { "data-id": m.groupId },
      link("#/group/" + enc(m.groupId), names[m.groupId] || m.groupId))))];
}

async function groupPage(groupID) {
  const g = await api("GET", "api/groups/" + enc(groupID), undefined, "GetGroup");
  const [memberships, users] = await Promise.all([
    listAll("api/userGroupMemberships" + q({ compartmentId: tenancy, groupId: groupID }), "ListUserGroupMemberships"),
    listAll("api/users" + q({ compartmentId: tenancy }), "ListUsers")]);
  const names = Object.fromEntries(users.map((u) => [u.id, u.name]));
  const dl = el("dl");
  fact(dl, "OCID", g.id);
  fact(dl, "State", g.lifecycleState);
  fact(dl, "Description", g.description);
  const members = new Set(memberships.map((m) => m.userId));
  const pick = el("select", { id: "member-add-user", name: "userId" },
    ...users.filter((u) => !members.has(u.id)).map((u) => el("option", { value: u.id, text: u.name })));
  const add = el("form", { id: "member-add", class: "stack" }, el("label", { for: "member-add-user", text: "Add a member" }), pick,
    el("button", { id: "member-add-submit", type: "submit", text: "Add to group" }));
  add.addEventListener("submit", (ev) => {
    ev.preventDefault();
    change(() => api("POST", "api/userGroupMemberships", { userId: pick.value, groupId: groupID }, "AddUserToGroup"));
  });
  return [el("h2", { text: "Group " + g.name }), dl, el("h3", { text: "Members" }),
    el("ul", { id: "group-members" }, ...memberships.map((m) => el("li", { "data-id": m.userId },
      link("#/user/" + enc(m.userId), names[m.userId] || m.userId), " ",
      el("button", { type: "button", class: "member-remove", text: "Remove",
        "aria-label": "Remove " + (names[m.userId] || m.userId) + " from the group",
        click: () => change(() => api("DELETE", "api/userGroupMemberships/" + enc(m.id), undefined, "RemoveUserFromGroup")) })))),
    pick.options.length ? add : null];
}

async function dynamicGroupPage(id) {
  const d = await api("GET", "api/dynamicGroups/" + enc(id), undefined, "GetDynamicGroup");
  const dl = el("dl");
  fact(dl, "OCID", d.id);
  fact(dl, "State", d.lifecycleState);
  fact(dl, "Description", d.description);
  return [el("h2", { text: "Dynamic group " + d.name }), dl, el("h3", { text: "Matching rule" }),
    el("pre", { id: "matching-rule", class: "code", text: d.matchingRule })];
}

async function policiesPage(compartment) {
  const pols = await listAll("api/policies" + q({ compartmentId: compartment }), "ListPolicies");
  return [el("h2", { text: "Policies" }), el("p", { class: "id", text: "Compartment " + compartment }),
    el("p", {}, link("#/policy-new/" + enc(compartment), "New policy")),
    pols.length ? null : el("p", { text: "No policies in this compartment." }),
    el("ul", { id: "policies" }, ...pols.map((p) => el("li", { "data-id": p.id },
      link("#/policy/" + enc(p.id), p.name), " — " + p.statements.length + " statement" + (p.statements.length === 1 ? "" : "s"))))];
}

// statementsOf splits the editor's text into statements, one per line
// (blank lines skipped), with the line each came from.
function statementsOf(text) {
  const out = { statements: [], lines: [] };
  text.split("\n").forEach((line, i) => {
    if (line.trim()) { out.statements.push(line.trim()); out.lines.push(i + 1); }
  });
  return out;
}

// policyEditor is the policy form: the statements' box linted as the user
// types (LintPolicy, a moment after the last key), and the form's own
// fields. save gets the statements and the fields' values.
function policyEditor(compartment, pol, fields, save) {
  const box = el("textarea", { id: "policy-statements", name: "statements", rows: "8", autocomplete: "off",
    spellcheck: "false", "aria-describedby": "policy-lint" });
  box.value = pol ? pol.statements.join("\n") : "";
  const findings = el("ul", { id: "policy-lint", class: "findings", "aria-live": "polite" });
  const status = el("p", { id: "policy-lint-status", class: "note" });
  let timer = 0;
  let asked = 0;
  const lint = async () => {
    const mine = ++asked;
    const st = statementsOf(box.value);
    try {
      const r = await api("POST", "api/policies/lint", { compartmentId: compartment, statements: st.statements }, "LintPolicy");
      if (mine !== asked) { return; } // a newer text was sent meanwhile
      findings.replaceChildren(...r.findings.map((f) => {
        const where = f.statement !== undefined ? "Line " + st.lines[f.statement] :
          "Dynamic group " + f.dynamicGroupName;
        return el("li", { class: f.invalid ? "invalid" : "advice", "data-code": f.code },
          el("strong", { text: where + ": " + (f.invalid ? "error" : "advice") + " (" + f.code + ")" }), " " + f.reason +
          (f.position ? " (at character " + f.position + ")" : ""),
          f.suggestion ? el("div", {}, "Try: ", el("code", { text: f.suggestion })) : null);
      }));
      status.textContent = r.findings.length ? "" : (st.statements.length ? "No findings." : "");
      if (!r.namesChecked) { status.textContent += " Names not checked: you may not create policies here."; }
    } catch (e) {
      if (mine === asked) { failed(e); }
    }
  };
  box.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(lint, 300); });
  const form = el("form", { id: "policy-form", class: "stack wide" }, ...fields,
    el("label", { for: "policy-statements", text: "Statements (one per line)" }), box, status, findings,
    el("button", { id: "policy-save", type: "submit", text: pol ? "Save" : "Create policy" }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearTimeout(timer);
    save(statementsOf(box.value).statements);
  });
  if (box.value) { lint(); }
  return form;
}

function input(id, label, value) {
  const i = el("input", { id: id, name: id, autocomplete: "off", spellcheck: "false" });
  i.value = value || "";
  return [el("label", { for: id, text: label }), i];
}

async function policyPage(policyID) {
  const path = "api/policies/" + enc(policyID);
  const resp = await call("GET", path, undefined, "GetPolicy");
  const etag = resp.headers.get("etag") || "";
  const pol = await resp.json();
  const dl = el("dl");
  fact(dl, "OCID", pol.id);
  fact(dl, "State", pol.lifecycleState);
  fact(dl, "Compartment", pol.compartmentId);
  const [descLabel, desc] = input("policy-description", "Description", pol.description);
  const form = policyEditor(pol.compartmentId, pol, [descLabel, desc], (statements) =>
    change(() => api("POST", path, { description: desc.value, statements: statements }, "UpdatePolicy", etag)));
  const del = el("button", { id: "policy-delete", type: "button", class: "danger", text: "Delete policy",
    click: () => {
      if (window.confirm("Delete policy " + pol.name + "?")) {
        change(async () => {
          await api("DELETE", path, undefined, "DeletePolicy", etag);
          location.hash = "#/policies/" + enc(pol.compartmentId);
        });
      }
    } });
  return [el("h2", { text: "Policy " + pol.name }), dl, el("p", {}, link("#/policies/" + enc(pol.compartmentId), "All policies here")),
    el("h3", { text: "Statements" }), form, el("div", { class: "actions" }, del)];
}

function newPolicyPage(compartment) {
  const [nameLabel, name] = input("policy-name", "Name");
  const [descLabel, desc] = input("policy-description", "Description");
  const form = policyEditor(compartment, null, [nameLabel, name, descLabel, desc], (statements) =>
    change(async () => {
      const pol = await api("POST", "api/policies", { compartmentId: compartment, name: name.value,
        description: desc.value, statements: statements }, "CreatePolicy");
      location.hash = "#/policy/" + enc(pol.id);
    }));
  return [el("h2", { text: "New policy" }), el("p", { class: "id", text: "Compartment " + compartment }), form];
}

// change runs a change, then shows the page again with what it did.
async function change(fn) {
  clearMessages();
  try {
    await fn();
    await route();
  } catch (e) { failed(e); }
}

function decode(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
  return new TextDecoder().decode(bytes);
}

function encode(text) {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) { bin += String.fromCharCode(b); }
  return btoa(bin);
}

// route shows the view the fragment names. Navigating removes the previous
// view, a revealed content with it.
async function route() {
  const mine = ++generation;
  const view = $("view");
  view.replaceChildren();
  clearMessages();
  if (!csrf) { return; }
  const raw = location.hash.replace(/^#\/?/, "");
  // A fragment typed or pasted by hand may hold a bad escape (%E0): keep
  // the segment as it is rather than throw.
  const parts = raw.split("/").map((p) => { try { return decodeURIComponent(p); } catch (_) { return p; } });
  switch (parts[0]) {
  case "vaults": target = { compartmentId: parts[1] || tenancy }; break;
  case "vault": target = { vaultId: parts[1] }; break;
  case "key": target = { vaultId: parts[1], keyId: parts[2] }; break;
  case "secret": target = { secretId: parts[1] }; break;
  case "policies": case "policy-new": target = { compartmentId: parts[1] || tenancy }; break;
  default: target = { compartmentId: tenancy };
  }
  for (const [id, page] of [["nav-compartments", "compartments"], ["nav-vaults", "vaults"], ["nav-usage", "usage"],
    ["nav-identity", "identity"], ["nav-explain", "explain"]]) {
    if (parts[0] === page) { $(id).setAttribute("aria-current", "page"); } else { $(id).removeAttribute("aria-current"); }
  }
  try {
    let nodes;
    switch (parts[0]) {
    case "vaults": nodes = await vaultsPage(parts[1] || tenancy); break;
    case "vault": nodes = await vaultPage(parts[1]); break;
    case "key": nodes = await keyPage(parts[1], parts[2]); break;
    case "secret": nodes = await secretPage(parts[1]); break;
    case "identity": nodes = await identityPage(); break;
    case "user": nodes = await userPage(parts[1]); break;
    case "group": nodes = await groupPage(parts[1]); break;
    case "dynamic-group": nodes = await dynamicGroupPage(parts[1]); break;
    case "policies": nodes = await policiesPage(parts[1] || tenancy); break;
    case "policy": nodes = await policyPage(parts[1]); break;
    case "policy-new": nodes = newPolicyPage(parts[1] || tenancy); break;
    case "explain": nodes = explainPage(new URLSearchParams(raw.slice("explain/".length))); break;
    case "usage": nodes = await usagePage(new URLSearchParams(raw.slice("usage/".length))); break;
    default: nodes = await compartmentsPage();
    }
    if (mine === generation) { view.replaceChildren(...nodes.filter((n) => n)); }
  } catch (e) {
    if (mine === generation) { failed(e); }
  }
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("loginError").textContent = "";
  const body = JSON.stringify({ userName: $("login-user").value, password: $("login-password").value });
  $("login-password").value = "";
  const resp = await fetch("login", { method: "POST", credentials: "same-origin", cache: "no-store",
    headers: { "Content-Type": "application/json" }, body: body });
  if (!resp.ok) {
    let msg = resp.statusText;
    try { msg = (await resp.json()).message || msg; } catch (_) { /* not JSON */ }
    $("loginError").textContent = msg;
    return;
  }
  show(await resp.json());
});

$("logout").addEventListener("click", async () => {
  await fetch("logout", { method: "POST", credentials: "same-origin", headers: { "X-Coffer-CSRF": csrf } });
  history.replaceState(null, "", location.pathname); // the next user starts at the top
  show(null);
});

// "Why was I denied?" asks the engine about the signed-in user himself
// (ExplainOwnAuthorization): the permissions missing on the target and the
// statement an administrator would add, never the text of any policy. On
// a target the user cannot see at all it learns nothing, as the API says.
$("denied-own").addEventListener("click", async () => {
  const out = $("denied-own-result");
  const mine = generation;
  let nodes;
  try {
    const x = await api("POST", "api/explainOwn", deniedQuestion, "ExplainOwnAuthorization");
    nodes = [el("p", { id: "denied-own-reason", text: x.reason }),
      x.suggestion ? el("p", { text: "An administrator can add this statement:" }) : null,
      x.suggestion ? el("pre", { class: "code" }, el("code", { id: "denied-own-suggestion", text: x.suggestion })) : null];
  } catch (e) {
    if (e instanceof SignedOut) { return; }
    nodes = [el("p", { id: "denied-own-reason", text: e instanceof APIError && e.status === 404 ?
      "Coffer cannot tell you more: you have no access to this resource at all, or it does not exist. " +
      "Give an administrator the explain link." : e.message })];
  }
  if (mine !== generation) { return; }
  out.replaceChildren(...nodes.filter((n) => n));
  out.hidden = false;
});

window.addEventListener("hashchange", route);
// Leaving the page (or putting it in the back-forward cache) drops the view.
window.addEventListener("pagehide", () => { generation++; $("view").replaceChildren(); });
window.addEventListener("pageshow", (ev) => { if (ev.persisted) { route(); } });

(async () => {
  const resp = await fetch("session", { credentials: "same-origin", cache: "no-store" });
  show(resp.ok ? await resp.json() : null);
})();
