/* Digor phone desk console: a desk agent signs in with their code, then holds
 * the conversation for a caller through the Rasa server's desk channel
 * (/webhooks/desk/). The agent's code is never stored; the signed session and
 * the call in progress are kept in sessionStorage (this tab only). */
(function () {
  "use strict";
  var app = document.getElementById("desk-app");
  var rasaUrl = (app.dataset.rasaUrl || "http://localhost:5005").replace(/\/+$/, "");
  var themes = {};
  try { themes = JSON.parse(app.dataset.themes || "{}"); } catch (e) { themes = {}; }
  var STORE = "digor.desk";
  var REFERENCE = /TK-\d{4}-\d{5}/;
  var LABELS = [
    ["description", "Problème"],
    ["location", "Lieu"],
    ["service", "Service"],
    ["affected", "Personnes touchées"],
    ["frequency", "Fréquence"],
    ["since", "Depuis quand"],
    ["consequences", "Conséquences"],
    ["solution_idea", "Idée de solution"],
    ["reporter_role", "Qui appelle"],
    ["theme", "Thème"]
  ];
  var ROLES = {
    citoyen: "Un particulier",
    agent: "Un agent public",
    association: "Une association",
    entreprise: "Une entreprise",
    autre: "Autre"
  };
  var TEXT = {
    offline: "Connexion perdue. Nouvelle tentative…",
    back: "Connexion rétablie.",
    expired: "Votre session a expiré. Connectez-vous à nouveau.",
    refused: "Code d'agent inconnu. Vérifiez-le et réessayez.",
    empty: "Entrez votre code d'agent.",
    unreachable: "Le service ne répond pas. Réessayez dans quelques minutes.",
    notAsked: "pas encore demandé",
    skipped: "non précisé",
    copied: "Numéro copié.",
    unfinished: "Cet appel n'est pas enregistré. Commencer quand même un nouvel appel ?"
  };

  var $ = function (id) { return document.getElementById(id); };
  var signIn = $("desk-sign-in"), signInForm = $("desk-sign-in-form"), tokenInput = $("desk-token");
  var signInError = $("desk-sign-in-error"), consoleBox = $("desk-console"), who = $("desk-who");
  var agentName = $("desk-agent-name"), log = $("desk-log"), live = $("desk-live"), typing = $("desk-typing");
  var replies = $("desk-replies"), form = $("desk-form"), input = $("desk-input"), status = $("desk-status");
  var summary = $("desk-summary"), end = $("desk-end"), reference = $("desk-reference"), recap = $("desk-recap");

  var state = load();
  var busy = false, attempt = 0, retryTimer = null, generation = 0;

  function emptyCall() { return { messages: [], replies: [], summary: {}, end: null, queue: [] }; }

  function load() {
    try {
      var stored = JSON.parse(window.sessionStorage.getItem(STORE));
      if (stored && stored.session && stored.expiresAt * 1000 > Date.now()) { return stored; }
    } catch (e) { /* damaged: sign in again */ }
    return null;
  }

  function save() {
    try {
      if (state) { window.sessionStorage.setItem(STORE, JSON.stringify(state)); }
      else { window.sessionStorage.removeItem(STORE); }
    } catch (e) { /* private mode */ }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function post(path, body) {
    return window.fetch(rasaUrl + "/webhooks/desk/" + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
      credentials: "omit"
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        return { ok: res.ok, status: res.status, data: data };
      });
    });
  }

  // --- display ------------------------------------------------------------------

  function announce(text) {
    live.appendChild(el("p", {}, text));
    while (live.childNodes.length > 5) { live.removeChild(live.firstChild); }
  }

  function render(message) {
    var item = el("li", { class: "desk-msg desk-" + message.who });
    item.appendChild(el("span", { class: "desk-author" }, message.who === "user" ? "Vous" : message.who === "bot" ? "Digor" : "Erreur"));
    item.appendChild(el("span", { class: "desk-text" }, message.text));
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function addMessage(who, text, remember) {
    render({ who: who, text: text });
    if (remember) { state.call.messages.push({ who: who, text: text }); save(); }
    if (who !== "user") { announce((who === "bot" ? "Digor : " : "") + text); }
  }

  function showReplies(list) {
    state.call.replies = list || [];
    save();
    replies.textContent = "";
    state.call.replies.forEach(function (choice, index) {
      var button = el("button", { type: "button", class: "desk-reply" });
      if (index < 9) {
        button.appendChild(el("kbd", { "aria-hidden": "true" }, String(index + 1)));
        button.setAttribute("aria-keyshortcuts", "Alt+" + (index + 1));
      }
      button.appendChild(el("span", { class: "desk-reply-title" }, choice.title));
      button.addEventListener("click", function () { choose(index); });
      replies.appendChild(button);
    });
    replies.hidden = !state.call.replies.length;
  }

  function shown(value, name) {
    if (value === null || value === undefined || value === "") { return null; }
    if (value === "__skipped__") { return TEXT.skipped; }
    if (name === "theme") { return themes[value] || value; }
    if (name === "reporter_role") { return ROLES[value] || value; }
    if (typeof value === "boolean") { return value ? "oui" : "non"; }
    return String(value);
  }

  function showSummary(values) {
    state.call.summary = values || {};
    save();
    summary.textContent = "";
    LABELS.forEach(function (pair) {
      var value = shown(state.call.summary[pair[0]], pair[0]);
      summary.appendChild(el("dt", {}, pair[1]));
      var dd = el("dd", { class: value === null ? "desk-empty" : value === TEXT.skipped ? "desk-skipped" : "" }, value === null ? "—" : value);
      if (value === null) { dd.appendChild(el("span", { class: "desk-sr" }, TEXT.notAsked)); }
      dd.setAttribute("data-slot", pair[0]);
      summary.appendChild(dd);
    });
  }

  function showEnd(info, moveFocus) {
    state.call.end = info;
    save();
    end.hidden = !info;
    if (!info) { return; }
    reference.textContent = info.reference;
    recap.textContent = info.recap;
    if (moveFocus) { end.focus(); }
  }

  function setStatus(text) { status.textContent = text; }

  function showConsole() {
    signIn.hidden = true;
    consoleBox.hidden = false;
    who.hidden = false;
    agentName.textContent = state.agent;
    log.textContent = "";
    state.call.messages.forEach(render);
    showReplies(state.call.replies);
    showSummary(state.call.summary);
    showEnd(state.call.end, false);
    setStatus("");
  }

  function showSignIn(message) {
    generation += 1;
    window.clearTimeout(retryTimer);
    retryTimer = null;
    busy = false;
    state = null;
    save();
    consoleBox.hidden = true;
    who.hidden = true;
    signIn.hidden = false;
    signInError.textContent = message || "";
    tokenInput.value = "";
    tokenInput.focus();
  }

  // --- conversation -------------------------------------------------------------

  function received(data) {
    var last = [], texts = [];
    (Array.isArray(data.messages) ? data.messages : []).forEach(function (m) {
      if (m.text) { addMessage("bot", m.text, true); texts.push(m.text); }
      if (Array.isArray(m.buttons) && m.buttons.length) { last = m.buttons; }
    });
    showReplies(last.filter(function (b) { return b && b.title && b.payload; }));
    var found = null;
    texts.forEach(function (text) { var match = REFERENCE.exec(text); if (match) { found = match[0]; } });
    var filled = data.summary && Object.keys(data.summary).some(function (k) { return data.summary[k] !== null && data.summary[k] !== undefined; });
    // Once filed, the dialogue empties its slots: the summary of what was filed stays on screen.
    if (data.summary && (filled || !found)) { showSummary(data.summary); }
    if (found) {
      // The sentence to read back: the messages around the reference, without the one that gives it.
      var others = texts.filter(function (text) { return !REFERENCE.test(text); });
      var recapText = (others.length ? others : texts).join(" ")
        .replace(/^À lire à la personne\s*:\s*/i, "").replace(/^«\s*/, "").replace(/\s*»$/, "");
      showEnd({ reference: found, recap: recapText }, true);
    }
  }

  function retryLater() {
    typing.hidden = true;
    setStatus(TEXT.offline);
    var delay = Math.min(1000 * Math.pow(2, attempt), 15000);
    attempt += 1;
    retryTimer = window.setTimeout(function () { retryTimer = null; busy = false; pump(); }, delay);
  }

  function pump() {
    if (!state || busy || retryTimer || !state.call.queue.length) { return; }
    busy = true;
    typing.hidden = false;
    var sent = generation;
    var item = state.call.queue[0];
    post("webhook", { session: state.session, message: item.payload }).then(function (res) {
      if (sent !== generation) { return; }
      busy = false;
      typing.hidden = true;
      if (attempt) { setStatus(TEXT.back); }
      attempt = 0;
      if (res.status === 401) { showSignIn(TEXT.expired); return; }
      state.call.queue.shift();
      save();
      if (res.ok) { received(res.data); }
      else { addMessage("error", (res.data && res.data.error) || TEXT.unreachable, false); }
      pump();
    }).catch(function () {
      if (sent !== generation) { return; }
      retryLater();
    });
  }

  function sendMessage(payload, title) {
    if (title !== null) { addMessage("user", title || payload, true); }
    showReplies([]);
    state.call.queue.push({ payload: payload });
    save();
    pump();
  }

  function choose(index) {
    var choice = state && state.call.replies[index];
    if (!choice) { return; }
    sendMessage(choice.payload, choice.title);
    input.focus();
  }

  function newCall() {
    var started = state.call.messages.some(function (m) { return m.who === "user"; });
    if (started && !state.call.end && !window.confirm(TEXT.unfinished)) { return Promise.resolve(); }
    var current = state.session;
    generation += 1;
    window.clearTimeout(retryTimer);
    retryTimer = null;
    busy = false;
    return post("session", { session: current }).then(function (res) {
      if (!res.ok) { showSignIn(TEXT.expired); return; }
      state.session = res.data.session;
      state.expiresAt = res.data.expires_at;
      state.call = emptyCall();
      save();
      showConsole();
      announce("Nouvel appel.");
      sendMessage("/greet", null);
      input.focus();
    }).catch(function () { setStatus(TEXT.unreachable); });
  }

  // --- events ---------------------------------------------------------------------

  signInForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var token = tokenInput.value.trim();
    if (!token) { signInError.textContent = TEXT.empty; tokenInput.focus(); return; }
    signInError.textContent = "";
    post("session", { agent_token: token }).then(function (res) {
      tokenInput.value = "";
      if (!res.ok) {
        signInError.textContent = res.status === 429 && res.data.error ? res.data.error : TEXT.refused;
        tokenInput.focus();
        return;
      }
      state = { session: res.data.session, agent: res.data.agent, expiresAt: res.data.expires_at, call: emptyCall() };
      save();
      showConsole();
      sendMessage("/greet", null);
      input.focus();
    }).catch(function () { signInError.textContent = TEXT.unreachable; });
  });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) { input.focus(); return; }
    input.value = "";
    // A number alone picks the proposed answer of that number.
    if (/^[1-9]$/.test(text) && state.call.replies.length >= Number(text)) { choose(Number(text) - 1); return; }
    sendMessage(text);
    input.focus();
  });

  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
  });

  document.addEventListener("keydown", function (e) {
    if (!state || !e.altKey || e.ctrlKey || e.metaKey) { return; }
    var digit = /^(?:Digit|Numpad)([1-9])$/.exec(e.code || "");
    if (digit) { e.preventDefault(); choose(Number(digit[1]) - 1); return; }
    if (e.code === "KeyN") { e.preventDefault(); newCall(); }
    else if (e.code === "KeyM") { e.preventDefault(); input.focus(); }
    else if (e.code === "KeyR") { e.preventDefault(); $("desk-summary-title").parentNode.focus(); }
  });

  $("desk-new-call").addEventListener("click", function () { newCall(); });
  $("desk-sign-out").addEventListener("click", function () { showSignIn(""); });
  $("desk-copy").addEventListener("click", function () {
    var text = reference.textContent;
    if (navigator.clipboard && text) {
      navigator.clipboard.writeText(text).then(function () { announce(TEXT.copied); }, function () {});
    }
  });
  window.addEventListener("online", function () {
    if (retryTimer) { window.clearTimeout(retryTimer); retryTimer = null; busy = false; pump(); }
  });

  $("desk-summary-title").parentNode.setAttribute("tabindex", "-1");
  if (state) {
    showConsole();
    pump();
  } else {
    showSignIn("");
  }
})();
