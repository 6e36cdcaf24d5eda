/* Digor chat widget: one script tag embeds it on any site.
 *
 *   <script src="https://BACKLOG/static/widget.js" data-rasa-url="https://RASA" defer></script>
 *
 * Branding, by data- attributes on the script tag, or by a JSON file named in
 * data-config (keys name, logo, color, colorText, launcherText; the
 * attributes win): data-name, data-logo (URL of an image), data-color (main
 * colour, #rrggbb), data-color-text (text on the main colour; chosen for
 * contrast when absent), data-launcher-text.
 *
 * The conversation id is issued and signed by the server
 * (POST /webhooks/widget/session). The conversation is kept in
 * sessionStorage only: it survives a reload of the tab and is gone when the
 * tab is closed (shared computers). Nothing goes to localStorage or cookies.
 */
(function () {
  "use strict";
  if (window.digorWidget) { return; }
  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var base = script && script.src ? script.src.replace(/widget\.js(\?.*)?$/, "") : "/static/";
  var STORE = "digor.widget";
  var DEFAULTS = {
    name: "Digor",
    logo: "",
    color: "#1f4e79",
    colorText: "",
    launcherText: "Signaler un problème",
    rasaUrl: "http://localhost:5005"
  };
  var RETRY_FIRST_MS = 1000;
  var RETRY_MAX_MS = 15000;
  var TEXT = {
    you: "Vous : ",
    offline: "Connexion perdue. Nouvelle tentative…",
    back: "Connexion rétablie.",
    waiting: "pas encore envoyé",
    failed: "Le service ne répond pas. Réessayez dans quelques minutes.",
    cleared: "La discussion est effacée.",
    restart: "Recommencer",
    typing: "Réponse en cours…"
  };

  // --- configuration and colours ------------------------------------------------

  function attributes() {
    var found = {};
    [["name", data.name || data.title], ["logo", data.logo], ["color", data.color],
      ["colorText", data.colorText], ["launcherText", data.launcherText], ["rasaUrl", data.rasaUrl]
    ].forEach(function (pair) { if (pair[1]) { found[pair[0]] = pair[1]; } });
    return found;
  }

  function merge() {
    var result = {};
    Array.prototype.forEach.call(arguments, function (source) {
      Object.keys(source || {}).forEach(function (key) {
        if (typeof source[key] === "string" && source[key]) { result[key] = source[key]; }
      });
    });
    return result;
  }

  function rgb(color) {
    var match = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec((color || "").trim());
    if (!match) { return null; }
    var hex = match[1].length === 3 ? match[1].replace(/./g, "$&$&") : match[1];
    return [0, 2, 4].map(function (i) { return parseInt(hex.substr(i, 2), 16); });
  }

  function luminance(c) {
    var v = c.map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }

  function contrast(a, b) {
    var la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }

  /* The brand's colour, and colours that keep a contrast of at least 4.5:1 (RGAA 3.2). */
  function palette(config) {
    var WHITE = [255, 255, 255], DARK = [17, 17, 17];
    var main = rgb(config.color) || rgb(DEFAULTS.color);
    var text = rgb(config.colorText);
    if (!text || contrast(main, text) < 4.5) {
      text = contrast(main, WHITE) >= contrast(main, DARK) ? WHITE : DARK;
    }
    var hex = function (c) { return "#" + c.map(function (x) { return ("0" + x.toString(16)).slice(-2); }).join(""); };
    return {
      main: hex(main),
      onMain: hex(text),
      // The brand colour as text or border on white, when it is dark enough.
      ink: contrast(main, WHITE) >= 4.5 ? hex(main) : hex(DARK)
    };
  }

  // --- storage (this tab only) --------------------------------------------------

  function emptyState() { return { session: null, messages: [], replies: [], queue: [], open: false }; }

  function load() {
    try {
      var stored = JSON.parse(window.sessionStorage.getItem(STORE));
      if (stored && Array.isArray(stored.messages)) {
        return {
          session: stored.session || null,
          messages: stored.messages,
          replies: Array.isArray(stored.replies) ? stored.replies : [],
          queue: Array.isArray(stored.queue) ? stored.queue : [],
          open: !!stored.open
        };
      }
    } catch (e) { /* storage refused or damaged: start afresh */ }
    return emptyState();
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) { node.textContent = text; }
    return node;
  }

  // --- the widget -----------------------------------------------------------------

  function build(config) {
    var colours = palette(config);
    var rasaUrl = config.rasaUrl.replace(/\/+$/, "");
    var state = load();
    var busy = false;
    var attempt = 0;
    var retryTimer = null;
    var generation = 0;

    var css = el("link", { rel: "stylesheet", href: base + "widget.css" });
    document.head.appendChild(css);

    var root = el("div", { class: "digor-root", lang: "fr" });
    root.style.setProperty("--digor-main", colours.main);
    root.style.setProperty("--digor-on-main", colours.onMain);
    root.style.setProperty("--digor-ink", colours.ink);

    var launcher = el("button", {
      type: "button", class: "digor-launcher", "aria-expanded": "false", "aria-controls": "digor-panel"
    });
    if (config.logo) { launcher.appendChild(el("img", { class: "digor-launcher-logo", src: config.logo, alt: "" })); }
    launcher.appendChild(el("span", {}, config.launcherText));

    var panel = el("section", { id: "digor-panel", class: "digor-panel", role: "dialog", "aria-labelledby": "digor-title", hidden: "" });
    var head = el("div", { class: "digor-head" });
    if (config.logo) { head.appendChild(el("img", { class: "digor-logo", src: config.logo, alt: "" })); }
    var titles = el("div", { class: "digor-titles" });
    titles.append(el("h2", { id: "digor-title", class: "digor-title" }, config.name), el("p", { class: "digor-subtitle" }, config.launcherText));
    var close = el("button", { type: "button", class: "digor-close" }, "Fermer");
    head.append(titles, close);

    var tools = el("div", { class: "digor-tools" });
    var restart = el("button", { type: "button", class: "digor-tool" }, TEXT.restart);
    var clear = el("button", { type: "button", class: "digor-tool" }, "Effacer");
    clear.appendChild(el("span", { class: "digor-sr" }, " la discussion"));
    tools.append(restart, clear);

    var status = el("p", { class: "digor-status", role: "status" });
    var log = el("ul", { class: "digor-log", tabindex: "0", "aria-label": "Messages de la discussion" });
    var live = el("div", { class: "digor-sr", "aria-live": "polite", "aria-atomic": "false" });
    var typing = el("p", { class: "digor-typing", hidden: "" });
    typing.append(el("span", { class: "digor-dots", "aria-hidden": "true" }), document.createTextNode(TEXT.typing));
    var replies = el("div", { class: "digor-replies", role: "group", "aria-label": "Réponses proposées" });
    var form = el("form", { class: "digor-form" });
    var label = el("label", { for: "digor-input", class: "digor-label" }, "Votre message");
    var row = el("div", { class: "digor-row" });
    var input = el("textarea", { id: "digor-input", rows: "2", maxlength: "2000", autocomplete: "off" });
    var send = el("button", { type: "submit", class: "digor-send" }, "Envoyer");
    row.append(input, send);
    form.append(label, row);
    panel.append(head, tools, status, log, live, typing, replies, form);
    root.append(launcher, panel);
    document.body.appendChild(root);

    function save() {
      // Nothing is written before the conversation starts.
      if (!state.session && !state.messages.length && !state.queue.length) { return; }
      try { window.sessionStorage.setItem(STORE, JSON.stringify(state)); } catch (e) { /* private mode */ }
    }

    function announce(text) {
      var line = el("p", {}, text);
      live.appendChild(line);
      while (live.childNodes.length > 5) { live.removeChild(live.firstChild); }
    }

    function render(message) {
      var item = el("li", { class: "digor-msg digor-" + message.who });
      var who = message.who === "user" ? TEXT.you : message.who === "bot" ? config.name + " : " : "";
      if (who) { item.appendChild(el("span", { class: "digor-sr" }, who)); }
      item.appendChild(document.createTextNode(message.text));
      log.appendChild(item);
      log.scrollTop = log.scrollHeight;
      return item;
    }

    function addMessage(who, text, remember) {
      var item = render({ who: who, text: text });
      if (remember) { state.messages.push({ who: who, text: text }); save(); }
      if (who !== "user") { announce((who === "bot" ? config.name + " : " : "") + text); }
      return item;
    }

    function showReplies(list) {
      state.replies = list || [];
      save();
      replies.textContent = "";
      state.replies.forEach(function (choice) {
        var button = el("button", { type: "button", class: "digor-reply" }, choice.title);
        button.addEventListener("click", function () {
          sendMessage(choice.payload, choice.title);
          input.focus();
        });
        replies.appendChild(button);
      });
      replies.hidden = !state.replies.length;
      // The buttons take room from the list: keep its last message in sight.
      log.scrollTop = log.scrollHeight;
    }

    function setStatus(text) { status.textContent = text; }

    function post(path, body) {
      return window.fetch(rasaUrl + "/webhooks/widget/" + path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body || {}),
        credentials: "omit"
      }).then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          return { ok: res.ok, status: res.status, data: body };
        });
      });
    }

    function ensureSession() {
      if (state.session) { return Promise.resolve(state.session); }
      return post("session").then(function (res) {
        if (!res.ok || !res.data.session) { throw new Error("no session"); }
        state.session = res.data.session;
        save();
        return state.session;
      });
    }

    function markWaiting(waiting) {
      Array.prototype.forEach.call(log.querySelectorAll(".digor-user"), function (item) { item.classList.remove("digor-waiting"); });
      var note = log.querySelector(".digor-waiting-note");
      if (note) { note.parentNode.removeChild(note); }
      if (!waiting) { return; }
      var items = log.querySelectorAll(".digor-user");
      var last = items[items.length - 1];
      if (last) {
        last.classList.add("digor-waiting");
        last.appendChild(el("span", { class: "digor-waiting-note" }, " (" + TEXT.waiting + ")"));
      }
    }

    function retryLater() {
      typing.hidden = true;
      setStatus(TEXT.offline);
      markWaiting(true);
      var delay = Math.min(RETRY_FIRST_MS * Math.pow(2, attempt), RETRY_MAX_MS);
      attempt += 1;
      window.clearTimeout(retryTimer);
      retryTimer = window.setTimeout(function () { retryTimer = null; busy = false; pump(); }, delay);
    }

    function received(messages) {
      var last = [];
      (Array.isArray(messages) ? messages : []).forEach(function (m) {
        if (m.text) { addMessage("bot", m.text, true); }
        if (Array.isArray(m.buttons) && m.buttons.length) { last = m.buttons; }
      });
      showReplies(last.filter(function (b) { return b && b.title && b.payload; }));
    }

    /* Send the queued messages one after the other; keep them through a network loss. */
    function pump() {
      if (busy || retryTimer || !state.queue.length) { return; }
      busy = true;
      var sent = generation;
      var item = state.queue[0];
      typing.hidden = false;
      var renewed = false;
      var attemptSend = function () {
        return ensureSession().then(function (session) {
          return post("webhook", { session: session, message: item.payload });
        }).then(function (res) {
          if (res.status === 401 && !renewed) {
            // The server no longer knows this id (new secret): a new conversation.
            renewed = true;
            state.session = null;
            return attemptSend();
          }
          return res;
        });
      };
      attemptSend().then(function (res) {
        if (sent !== generation) { return; }
        busy = false;
        typing.hidden = true;
        if (attempt) { setStatus(TEXT.back); window.setTimeout(function () { if (status.textContent === TEXT.back) { setStatus(""); } }, 4000); }
        attempt = 0;
        markWaiting(false);
        state.queue.shift();
        save();
        if (res.ok) {
          received(res.data);
        } else if (res.status === 502 || res.status === 504) {
          state.queue.unshift(item);
          retryLater();
          return;
        } else {
          addMessage("error", (res.data && res.data.error) || TEXT.failed, false);
          if (item.shown !== null && !input.value) { input.value = item.payload; }
        }
        pump();
      }).catch(function () {
        if (sent !== generation) { return; }
        retryLater();
      });
    }

    function sendMessage(payload, shown) {
      if (shown !== null) { addMessage("user", shown || payload, true); }
      showReplies([]);
      state.queue.push({ payload: payload, shown: shown === null ? null : (shown || payload) });
      save();
      pump();
    }

    function open(moveFocus) {
      panel.hidden = false;
      root.classList.add("digor-open");
      launcher.setAttribute("aria-expanded", "true");
      state.open = true;
      save();
      if (!state.messages.length && !state.queue.length) { sendMessage("/greet", null); }
      if (moveFocus) { input.focus(); }
    }

    function closePanel() {
      panel.hidden = true;
      root.classList.remove("digor-open");
      launcher.setAttribute("aria-expanded", "false");
      state.open = false;
      save();
      launcher.focus();
    }

    function forget() {
      generation += 1;
      busy = false;
      attempt = 0;
      window.clearTimeout(retryTimer);
      retryTimer = null;
      typing.hidden = true;
      setStatus("");
      try { window.sessionStorage.removeItem(STORE); } catch (e) { /* nothing stored */ }
      state = emptyState();
      state.open = true;
      log.textContent = "";
      showReplies([]);
      announce(TEXT.cleared);
      // A new id from the server, then a new greeting.
      sendMessage("/greet", null);
      input.focus();
    }

    launcher.addEventListener("click", function () {
      if (panel.hidden) { open(true); } else { closePanel(); }
    });
    close.addEventListener("click", closePanel);
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); closePanel(); }
    });
    restart.addEventListener("click", function () { sendMessage("/start_over", TEXT.restart); input.focus(); });
    clear.addEventListener("click", forget);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = input.value.trim();
      if (!text) { input.focus(); return; }
      input.value = "";
      sendMessage(text);
      input.focus();
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
    });
    window.addEventListener("online", function () {
      if (retryTimer) { window.clearTimeout(retryTimer); retryTimer = null; busy = false; pump(); }
    });

    // Back after a reload: the same conversation, where it was.
    state.messages.forEach(render);
    showReplies(state.replies);
    setStatus("");
    if (state.open) { open(false); }
    if (state.queue.length) { markWaiting(true); pump(); }

    window.digorWidget = { open: function () { open(true); }, close: closePanel };
  }

  var fromAttributes = attributes();
  if (data.config) {
    window.fetch(data.config, { credentials: "omit" })
      .then(function (res) { return res.ok ? res.json() : {}; })
      .catch(function () { return {}; })
      .then(function (server) { build(merge(DEFAULTS, server, fromAttributes)); });
  } else {
    build(merge(DEFAULTS, fromAttributes));
  }
})();
