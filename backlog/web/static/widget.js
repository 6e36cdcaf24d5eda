/* Digor chat widget. Embed with:
 * <script src="https://BACKLOG/static/widget.js" data-rasa-url="https://RASA" data-title="Nom" defer></script>
 * The conversation lives in sessionStorage: it survives a reload of the tab
 * and disappears when the tab is closed (shared computers). */
(function () {
  "use strict";
  var script = document.currentScript;
  var rasaUrl = (script && script.dataset.rasaUrl || "http://localhost:5005").replace(/\/$/, "");
  var title = (script && script.dataset.title) || "Digor";
  var base = script ? script.src.replace(/widget\.js.*$/, "") : "/static/";
  var STORE = "digor.widget";

  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = base + "widget.css";
  document.head.appendChild(css);

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) { node.textContent = text; }
    return node;
  }

  var launcher = el("button", { type: "button", class: "digor-launcher", "aria-haspopup": "dialog", "aria-expanded": "false" }, "Signaler un problème");
  var panel = el("section", { class: "digor-panel", role: "dialog", "aria-labelledby": "digor-title", hidden: "" });
  var head = el("div", { class: "digor-head" });
  var heading = el("h2", { id: "digor-title" }, title + " — signaler un problème");
  var restart = el("button", { type: "button" }, "Recommencer");
  var close = el("button", { type: "button", "aria-label": "Fermer la discussion" }, "Fermer");
  head.append(heading, restart, close);
  var log = el("ol", { class: "digor-log", "aria-live": "polite", "aria-label": "Messages de la discussion" });
  var typing = el("p", { class: "digor-typing", hidden: "" }, "Digor écrit…");
  var buttons = el("div", { class: "digor-buttons" });
  var form = el("form", { class: "digor-form" });
  var label = el("label", { for: "digor-input", class: "digor-sr" }, "Votre message");
  var input = el("textarea", { id: "digor-input", rows: "2", maxlength: "4000", autocomplete: "off" });
  var send = el("button", { type: "submit" }, "Envoyer");
  form.append(label, input, send);
  panel.append(head, log, typing, buttons, form);
  document.body.append(launcher, panel);

  var state = load();

  function load() {
    try { return JSON.parse(sessionStorage.getItem(STORE)) || { session: null, messages: [] }; }
    catch (e) { return { session: null, messages: [] }; }
  }
  function save() { sessionStorage.setItem(STORE, JSON.stringify(state)); }

  function addMessage(who, text, remember) {
    var item = el("li", { class: "digor-msg " + who });
    var prefix = el("span", { class: "digor-sr" }, who === "user" ? "Vous : " : "Digor : ");
    item.append(prefix, document.createTextNode(text));
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    if (remember) { state.messages.push({ who: who, text: text }); save(); }
  }

  function showButtons(list) {
    buttons.textContent = "";
    (list || []).forEach(function (b) {
      var button = el("button", { type: "button" }, b.title);
      button.addEventListener("click", function () { sendMessage(b.payload, b.title); });
      buttons.appendChild(button);
    });
  }

  function post(path, body) {
    return fetch(rasaUrl + "/webhooks/widget/" + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.json().then(function (data) { return { ok: res.ok, status: res.status, data: data }; });
    });
  }

  function ensureSession() {
    if (state.session) { return Promise.resolve(state.session); }
    return post("session").then(function (res) {
      state.session = res.data.session; save(); return state.session;
    });
  }

  function sendMessage(payload, shown) {
    addMessage("user", shown || payload, true);
    showButtons([]);
    typing.hidden = false;
    ensureSession().then(function (session) {
      return post("webhook", { session: session, message: payload });
    }).then(function (res) {
      typing.hidden = true;
      if (res.status === 401) { state.session = null; save(); }
      if (!res.ok) { addMessage("error", res.data.error || "Le service ne répond pas. Réessayez.", false); return; }
      var last = [];
      res.data.forEach(function (m) {
        if (m.text) { addMessage("bot", m.text, true); }
        if (m.buttons) { last = m.buttons; }
      });
      showButtons(last);
    }).catch(function () {
      typing.hidden = true;
      addMessage("error", "La connexion est coupée. Vérifiez internet, puis envoyez à nouveau votre message.", false);
    });
  }

  function open() {
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    if (!log.children.length) {
      if (state.messages.length) {
        state.messages.forEach(function (m) { addMessage(m.who, m.text, false); });
      } else {
        sendMessage("/greet", "Bonjour");
      }
    }
    input.focus();
  }

  function closePanel() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", open);
  close.addEventListener("click", closePanel);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { closePanel(); } });
  restart.addEventListener("click", function () {
    state = { session: null, messages: [] }; save();
    log.textContent = ""; showButtons([]);
    sendMessage("/greet", "Bonjour");
    input.focus();
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) { input.focus(); return; }
    input.value = "";
    sendMessage(text);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });
})();
