/* The hub's chat widget. Embed it on any page with one tag:
 *   <script src="https://hub.example/channels/chat/widget.js" defer></script>
 * Plain JavaScript, no build step. Every text goes into the page through textContent,
 * never as HTML: what visitors and agents write is shown, never run.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.src) return;
  var base = new URL(".", script.src);
  var parts = base.pathname.split("/").filter(Boolean);
  var channel = parts[parts.length - 1] || "chat";
  var flag = "__hubchat:" + base.host + base.pathname;
  if (window[flag]) return; // embedded twice: one widget is enough
  window[flag] = true;

  var T = {
    open: "Chat with us",
    close: "Close chat",
    conversation: "Conversation",
    message: "Your message",
    placeholder: "Type a message. Enter sends, Shift+Enter adds a line.",
    send: "Send",
    human: "Talk to a person",
    humanText: "I would like to talk to a person.",
    you: "You",
    support: "Support",
    connecting: "Connecting…",
    reconnecting: "Connection lost. Reconnecting…",
    sending: "Sending…",
    waiting: "Waiting to send…",
    notSent: "Not sent: ",
    contact: "Leave your email or phone",
    name: "Your name",
    email: "Email address",
    phone: "Phone number",
    save: "Save",
    saved: "Thank you. We will add this to your next message.",
    offline: "Not connected yet; try again in a moment.",
    newMessage: "New message from support",
    closedTab: "The chat is open in too many tabs; close one and reload.",
  };
  var COOKIE = "hubchat_" + channel;
  var STORE = "hubchat:" + base.host + base.pathname + ":";
  var MAX_DELAY = 30000;

  var state = {
    ws: null,
    ready: false,
    attempt: 0,
    timer: null,
    stopped: false,
    maxChars: 4000,
    rendered: {}, // message id -> <li>
    pendingEls: {}, // client id -> <li>
    pending: load("pending") || [],
    contact: load("contact"),
    unread: 0,
  };

  // --- storage: per tab, so a reload resends what was not acknowledged -------------
  function load(name) {
    try {
      return JSON.parse(window.sessionStorage.getItem(STORE + name) || "null");
    } catch (e) {
      return null;
    }
  }
  function save(name, value) {
    try {
      if (value === null) window.sessionStorage.removeItem(STORE + name);
      else window.sessionStorage.setItem(STORE + name, JSON.stringify(value));
    } catch (e) {
      /* storage disabled: the widget still works within this page */
    }
  }
  function readCookie() {
    var all = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < all.length; i++) {
      var eq = all[i].indexOf("=");
      if (all[i].slice(0, eq) === COOKIE) return decodeURIComponent(all[i].slice(eq + 1));
    }
    return null;
  }
  function writeCookie(token, secure) {
    // Not HttpOnly: this script reads it. Signed by the hub, so it cannot be forged.
    var attrs = "; Path=/; Max-Age=31536000";
    attrs += secure && location.protocol === "https:" ? "; SameSite=None; Secure" : "; SameSite=Lax";
    document.cookie = COOKIE + "=" + encodeURIComponent(token) + attrs;
  }
  function newId() {
    var bytes = new Uint8Array(12);
    if (window.crypto && window.crypto.getRandomValues) window.crypto.getRandomValues(bytes);
    else for (var i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    return Array.prototype.map
      .call(bytes, function (b) {
        return (b < 16 ? "0" : "") + b.toString(16);
      })
      .join("");
  }

  // --- DOM: built with createElement and textContent only ----------------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) node.setAttribute(name, attrs[name]);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) parent.appendChild(arguments[i]);
    return parent;
  }

  var host = el("div", { class: "hubchat-host" });
  // A shadow root keeps the shop's styles and ours apart.
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var toggle = el("button", {
    type: "button",
    class: "hc-toggle",
    "aria-expanded": "false",
    "aria-controls": "hc-panel",
  });
  var toggleText = el("span", {}, T.open);
  var badge = el("span", { class: "hc-badge", hidden: "" });
  add(toggle, toggleText, badge);
  var announcer = el("p", { class: "hc-sr", role: "status" });
  var panel = el("section", {
    id: "hc-panel",
    class: "hc-panel",
    role: "dialog",
    "aria-labelledby": "hc-title",
    hidden: "",
  });
  var title = el("h2", { id: "hc-title" }, T.open);
  var closeButton = el("button", { type: "button", class: "hc-close", "aria-label": T.close }, "×");
  var status = el("p", { class: "hc-status", role: "status" });
  var log = el("ol", {
    class: "hc-log",
    role: "log",
    "aria-live": "polite",
    "aria-label": T.conversation,
    tabindex: "0",
  });
  var compose = el("form", { class: "hc-compose" });
  var input = el("textarea", { id: "hc-text", rows: "2", maxlength: "4000", placeholder: T.placeholder });
  add(compose, el("label", { for: "hc-text", class: "hc-sr" }, T.message), input);
  add(compose, el("button", { type: "submit", class: "hc-send" }, T.send));
  var humanButton = el("button", { type: "button", class: "hc-human" }, T.human);
  var contact = el("details", { class: "hc-contact" });
  var contactForm = el("form", { novalidate: "" });
  var fields = {};
  [["name", T.name, "text", "name"], ["email", T.email, "email", "email"], ["phone", T.phone, "tel", "tel"]]
    .forEach(function (f) {
      var id = "hc-" + f[0];
      var field = el("input", { id: id, name: f[0], type: f[2], autocomplete: f[3], "aria-describedby": id + "-error" });
      var error = el("span", { id: id + "-error", class: "hc-error" });
      fields[f[0]] = { input: field, error: error };
      add(contactForm, add(el("p", {}), el("label", { for: id }, f[1]), field, error));
    });
  var contactStatus = el("p", { class: "hc-contact-status", role: "status" });
  add(contactForm, el("button", { type: "submit" }, T.save), contactStatus);
  add(contact, el("summary", {}, T.contact), contactForm);
  add(panel, add(el("div", { class: "hc-header" }), title, closeButton), status, log, compose, humanButton, contact);
  add(root, el("link", { rel: "stylesheet", href: new URL("widget.css", base).href }), toggle, announcer, panel);

  function mount() {
    document.body.appendChild(host);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  // --- the conversation -------------------------------------------------------------
  function timeText(at) {
    var when = new Date(at);
    return isNaN(when.getTime()) ? "" : when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function bubble(dir, text, at) {
    var li = el("li", { class: "hc-msg hc-" + dir });
    add(li, el("span", { class: "hc-sr" }, (dir === "in" ? T.you : T.support) + ": "));
    add(li, el("span", { class: "hc-text" }, text));
    if (at) add(li, el("time", { datetime: at, class: "hc-time" }, timeText(at)));
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
    return li;
  }
  function show(frame) {
    if (state.rendered[frame.id]) return;
    state.rendered[frame.id] = bubble(frame.dir, frame.text, frame.at);
    if (frame.choices && frame.choices.length) choices(state.rendered[frame.id], frame.choices);
  }
  // Answers offered as buttons (a survey's 1-5): a press goes to the hub as the choice's
  // payload, shown as the pressed button, not as a message bubble.
  function choices(li, list) {
    var row = el("div", { class: "hc-choices", role: "group" });
    list.slice(0, 10).forEach(function (c) {
      var b = el("button", { type: "button", class: "hc-choice", "aria-pressed": "false" }, c.label);
      b.addEventListener("click", function () {
        row.querySelectorAll(".hc-choice").forEach(function (other) {
          other.setAttribute("aria-pressed", "false");
        });
        b.setAttribute("aria-pressed", "true");
        queue(c.label, null, true, c.payload);
      });
      row.appendChild(b);
    });
    li.appendChild(row);
  }
  function showPending(m) {
    if (m.hidden || state.pendingEls[m.id]) return;
    var li = bubble("in", m.text);
    li.classList.add("hc-pending");
    add(li, el("span", { class: "hc-note" }, T.sending));
    state.pendingEls[m.id] = li;
  }
  function note(li, text, failed) {
    var n = li.querySelector(".hc-note") || add(li, el("span", { class: "hc-note" })).lastChild;
    n.textContent = text;
    if (failed) li.classList.add("hc-failed");
  }
  function forget(id) {
    state.pending = state.pending.filter(function (m) {
      return m.id !== id;
    });
    save("pending", state.pending);
  }
  function transmit(m) {
    if (!state.ready) return;
    var frame = { type: "message", id: m.id, text: m.text };
    if (m.command) frame.command = m.command;
    if (m.choice) frame.choice = m.choice;
    if (m.contact) for (var k in m.contact) if (m.contact[k]) frame[k] = m.contact[k];
    state.ws.send(JSON.stringify(frame));
  }
  function queue(text, command, hidden, choice) {
    var m = { id: hidden && command ? command : newId(), text: text, command: command, hidden: !!hidden };
    if (choice) m.choice = choice;
    if (state.contact && !hidden) {
      m.contact = state.contact; // the identities travel with the next message
      state.contact = null;
      save("contact", null);
    }
    state.pending.push(m);
    save("pending", state.pending);
    showPending(m);
    transmit(m);
  }

  // --- frames from the hub ----------------------------------------------------------
  var on = {
    welcome: function (f) {
      state.ready = true;
      state.attempt = 0;
      state.maxChars = f.max_chars || state.maxChars;
      input.setAttribute("maxlength", String(state.maxChars));
      title.textContent = f.title || T.open;
      toggleText.textContent = f.title || T.open;
      writeCookie(f.token, f.secure);
      status.textContent = "";
      log.setAttribute("aria-busy", "true"); // one announcement for the history, not fifty
      while (log.firstChild) log.removeChild(log.firstChild);
      state.rendered = {};
      state.pendingEls = {};
      f.history.forEach(show);
      state.pending.forEach(showPending);
      log.setAttribute("aria-busy", "false");
      var started = state.pending.some(function (m) {
        return m.command === "start";
      });
      state.pending.forEach(transmit); // resend: the hub drops what it already has
      if (f.new && f.start && !started) queue("", "start", true);
    },
    ack: function (f) {
      forget(f.id);
      var li = state.pendingEls[f.id];
      delete state.pendingEls[f.id];
      if (!li) return;
      if (state.rendered[f.message]) {
        log.removeChild(li); // already shown from the history
        return;
      }
      li.classList.remove("hc-pending");
      var n = li.querySelector(".hc-note");
      if (n) li.removeChild(n);
      var at = new Date().toISOString();
      add(li, el("time", { datetime: at, class: "hc-time" }, timeText(at)));
      state.rendered[f.message] = li;
    },
    message: function (f) {
      show(f);
      if (f.dir === "out" && panel.hidden) {
        state.unread += 1;
        badge.textContent = String(state.unread);
        badge.hidden = false;
        announcer.textContent = T.newMessage;
      }
    },
    identified: function (f) {
      state.contact = { name: f.name, email: f.email, phone: f.phone };
      save("contact", state.contact);
      contactStatus.textContent = T.saved;
      contactErrors({});
    },
    error: function (f) {
      if (f.code === "invalid_contact" && !f.id) {
        contactErrors(f.fields || {});
        return;
      }
      if (f.code === "too_many_tabs") {
        state.stopped = true;
        status.textContent = T.closedTab;
        return;
      }
      var li = f.id && state.pendingEls[f.id];
      if (f.id && (f.code === "rate_limited" || f.code === "unavailable")) {
        if (li) note(li, T.waiting);
        var m = state.pending.filter(function (p) {
          return p.id === f.id;
        })[0];
        if (m) setTimeout(function () { transmit(m); }, (f.retry_after || 5) * 1000);
        return;
      }
      if (f.id) {
        var refused = state.pending.filter(function (p) {
          return p.id === f.id;
        })[0];
        if (refused && refused.contact && !state.contact) state.contact = refused.contact;
        forget(f.id); // the hub refused it for good: sending again would not help
        delete state.pendingEls[f.id];
        if (li) note(li, T.notSent + f.text, true);
        if (f.code === "invalid_contact") contactErrors(f.fields || {});
        return;
      }
      status.textContent = f.text;
    },
  };
  function contactErrors(errors) {
    for (var name in fields) {
      fields[name].error.textContent = errors[name] || "";
      if (errors[name]) fields[name].input.setAttribute("aria-invalid", "true");
      else fields[name].input.removeAttribute("aria-invalid");
    }
  }

  // --- the socket: reconnect with exponential backoff, resend what was not acked ----
  function connect() {
    if (state.ws || state.stopped) return;
    clearTimeout(state.timer);
    status.textContent = state.attempt ? T.reconnecting : T.connecting;
    var url = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + base.pathname + "ws";
    var ws = new WebSocket(url);
    state.ws = ws;
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "hello", token: readCookie(), language: navigator.language || null }));
    };
    ws.onmessage = function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (frame && on.hasOwnProperty(frame.type)) on[frame.type](frame);
    };
    ws.onclose = function () {
      state.ws = null;
      state.ready = false;
      if (state.stopped) return;
      status.textContent = T.reconnecting;
      var ceiling = Math.min(MAX_DELAY, 500 * Math.pow(2, state.attempt));
      state.attempt = Math.min(state.attempt + 1, 16);
      // Jitter, so a hub restart is not met by every widget at the same instant.
      state.timer = setTimeout(connect, ceiling / 2 + (Math.random() * ceiling) / 2);
    };
  }
  window.addEventListener("online", function () {
    if (!state.ws && state.attempt) {
      state.attempt = 0;
      connect();
    }
  });

  // --- interaction: a button opens the panel; Enter sends; Escape closes -------------
  function openPanel() {
    panel.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    state.unread = 0;
    badge.hidden = true;
    input.focus();
    connect();
  }
  function closePanel() {
    panel.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    toggle.focus();
  }
  toggle.addEventListener("click", function () {
    if (panel.hidden) openPanel();
    else closePanel();
  });
  closeButton.addEventListener("click", closePanel);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closePanel();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      compose.requestSubmit ? compose.requestSubmit() : compose.dispatchEvent(new Event("submit"));
    }
  });
  compose.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    queue(text);
  });
  humanButton.addEventListener("click", function () {
    queue(T.humanText, "human");
  });
  contactForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!state.ready) {
      contactStatus.textContent = T.offline;
      return;
    }
    var frame = { type: "identify" };
    for (var name in fields) frame[name] = fields[name].input.value;
    contactStatus.textContent = "";
    state.ws.send(JSON.stringify(frame));
  });

  // A returning visitor (or one with unsent messages) connects at once, for live replies;
  // a new one only when they open the chat, so page views alone create nobody.
  if (readCookie() || state.pending.length) connect();
})();
