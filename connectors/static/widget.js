/*
 * Điện Máy Sao Mai chat widget. Embed with one tag:
 *   <script src="https://SERVER/widget.js" defer></script>
 * Optional attributes on that tag: data-lang="vi|en", data-transport="rest", data-color="#0b4ea2".
 * Dependency-free. Everything lives in a shadow root, so the host page's CSS cannot break it and
 * its CSS cannot leak out. Message text only ever enters the page through textContent.
 */
(function () {
  "use strict";
  if (window.cskhWidget) return; // embedded twice

  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  var dataset = (script && script.dataset) || {};
  var base = new URL(".", script && script.src ? script.src : location.href);
  var params = new URLSearchParams(location.search);

  var lang = dataset.lang || ((navigator.language || "vi").toLowerCase().indexOf("en") === 0 ? "en" : "vi");
  var T = {
    vi: {
      open: "Mở cửa sổ chat hỗ trợ", close: "Đóng cửa sổ chat", title: "Điện Máy Sao Mai",
      subtitle: "Trợ lý ảo · Nhân viên hỗ trợ 8:00\u2060–\u206021:00", dialog: "Chat với Điện Máy Sao Mai",
      log: "Tin nhắn", label: "Nhập tin nhắn", placeholder: "Nhập tin nhắn…", send: "Gửi",
      typing: "Đang soạn tin…", suggestions: "Gợi ý trả lời", you: "Bạn", bot: "Sao Mai", agent: "nhân viên hỗ trợ",
      welcome: "Xin chào! Em là trợ lý ảo của Điện Máy Sao Mai. Anh/chị cần hỗ trợ gì ạ?",
      failed: "Chưa gửi được tin nhắn. Em sẽ thử lại ngay khi có kết nối.",
      offline: "Mất kết nối, đang thử lại…", unavailable: "Hệ thống đang bận, anh/chị vui lòng thử lại sau ít phút.",
      launcher: "Chat"
    },
    en: {
      open: "Open the support chat", close: "Close the chat", title: "Điện Máy Sao Mai",
      subtitle: "Virtual assistant · Agents 8:00\u2060–\u206021:00", dialog: "Chat with Điện Máy Sao Mai",
      log: "Messages", label: "Type a message", placeholder: "Type a message…", send: "Send",
      typing: "Typing…", suggestions: "Suggested replies", you: "You", bot: "Sao Mai", agent: "support agent",
      welcome: "Hello! I'm the virtual assistant of Điện Máy Sao Mai. How can I help you?",
      failed: "Your message was not sent yet. I'll retry as soon as the connection is back.",
      offline: "Connection lost, reconnecting…", unavailable: "The assistant is busy, please try again in a few minutes.",
      launcher: "Chat"
    }
  }[lang === "en" ? "en" : "vi"];

  // --- identity -----------------------------------------------------------------------------------
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  var store = (function () {
    try { localStorage.setItem("cskh.t", "1"); localStorage.removeItem("cskh.t"); return localStorage; }
    catch (e) { var m = {}; return { getItem: function (k) { return m[k] || null; }, setItem: function (k, v) { m[k] = v; } }; }
  })();
  var conversation = store.getItem("cskh.conversation");
  if (!conversation || !/^[A-Za-z0-9-]{1,64}$/.test(conversation)) {
    conversation = uuid();
    store.setItem("cskh.conversation", conversation);
  }

  // --- DOM ----------------------------------------------------------------------------------------
  var color = /^#[0-9a-fA-F]{3,8}$/.test(dataset.color || "") ? dataset.color : "#0b4ea2";
  var CSS = [
    ":host{all:initial;--c:" + color + ";--accent:#f5a400;--ink:#1c2330;--muted:#5b6574;--bg:#f4f6fa;",
    "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,'Noto Sans',sans-serif;",
    "font-size:15px;line-height:1.45;color:var(--ink)}",
    "*{box-sizing:border-box}",
    ".sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}",
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;align-items:center;gap:8px;",
    "height:56px;padding:0 20px 0 16px;border:0;border-radius:28px;background:var(--c);color:#fff;font:inherit;",
    "font-weight:600;cursor:pointer;box-shadow:0 6px 20px rgba(11,40,90,.35);transition:transform .15s}",
    ".launcher:hover{transform:translateY(-2px)}",
    ".ic{display:inline-flex}",
    ".launcher svg{width:26px;height:26px;flex:none}",
    ".launcher[aria-expanded=true] .when-closed,.launcher[aria-expanded=false] .when-open{display:none}",
    ":focus-visible{outline:3px solid var(--accent);outline-offset:2px}",
    ".panel{position:fixed;right:20px;bottom:88px;z-index:2147483001;width:380px;height:min(620px,calc(100vh - 110px));",
    "display:flex;flex-direction:column;background:#fff;border-radius:16px;overflow:hidden;",
    "box-shadow:0 12px 40px rgba(16,30,60,.28)}",
    ".panel[hidden]{display:none}",
    "header{display:flex;align-items:center;gap:12px;padding:14px 12px 14px 16px;background:var(--c);color:#fff}",
    ".avatar{flex:none;width:40px;height:40px;border-radius:50%;background:#fff;color:var(--c);display:grid;place-items:center}",
    ".avatar svg{width:26px;height:26px}",
    "header .t{flex:1;min-width:0}",
    "header h2{margin:0;font-size:16px;font-weight:700;line-height:1.3}",
    "header p{margin:0;font-size:12.5px;opacity:.9}",
    ".close{flex:none;width:40px;height:40px;border:0;border-radius:50%;background:transparent;color:#fff;cursor:pointer;display:grid;place-items:center}",
    ".close:hover{background:rgba(255,255,255,.15)}",
    ".close svg{width:22px;height:22px}",
    ".body{flex:1;overflow-y:auto;padding:16px 14px 8px;background:var(--bg);scroll-behavior:smooth}",
    ".log{display:flex;flex-direction:column;gap:8px}",
    ".msg{max-width:82%;padding:9px 13px;border-radius:16px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}",
    ".msg.bot{align-self:flex-start;background:#fff;border:1px solid #e3e7ee;border-bottom-left-radius:4px}",
    ".msg.user{align-self:flex-end;background:var(--c);color:#fff;border-bottom-right-radius:4px}",
    ".msg.user.pending{opacity:.65}",
    ".msg.agent{border-color:#f5c75a;background:#fffaf0}",
    ".who{display:block;margin-bottom:2px;font-size:12px;font-weight:600;color:#8a5a00}",
    ".msg a{color:inherit;text-decoration:underline}",
    ".notice{align-self:center;max-width:90%;margin:4px 0;padding:4px 12px;border-radius:12px;background:#fff4d6;",
    "color:#6b4e00;font-size:13px;text-align:center}",
    ".notice.error{background:#fde8e8;color:#8a1c1c}",
    ".replies{display:flex;flex-wrap:wrap;gap:6px;margin:2px 0 4px}",
    ".replies button{font:inherit;font-size:14px;padding:7px 13px;border-radius:18px;border:1.5px solid var(--c);",
    "background:#fff;color:var(--c);cursor:pointer}",
    ".replies button:hover{background:var(--c);color:#fff}",
    ".typing{display:flex;align-items:center;gap:4px;width:max-content;margin-top:8px;padding:12px 14px;background:#fff;",
    "border:1px solid #e3e7ee;border-radius:16px;border-bottom-left-radius:4px}",
    ".typing[hidden]{display:none}",
    ".typing i{width:7px;height:7px;border-radius:50%;background:#8a94a6;animation:cskh-b 1.2s infinite ease-in-out}",
    ".typing i:nth-child(2){animation-delay:.15s}.typing i:nth-child(3){animation-delay:.3s}",
    "@keyframes cskh-b{0%,60%,100%{transform:translateY(0);opacity:.5}30%{transform:translateY(-5px);opacity:1}}",
    "@media (prefers-reduced-motion:reduce){.typing i{animation:none}.body{scroll-behavior:auto}.launcher{transition:none}}",
    "form{display:flex;align-items:flex-end;gap:8px;padding:10px 12px;border-top:1px solid #e3e7ee;background:#fff}",
    "textarea{flex:1;resize:none;min-height:42px;max-height:120px;padding:10px 12px;border:1.5px solid #cfd6e1;border-radius:21px;",
    "font:inherit;color:inherit;background:#fff}",
    "textarea:focus{outline:none;border-color:var(--c);box-shadow:0 0 0 3px rgba(11,78,162,.18)}",
    ".send{flex:none;width:42px;height:42px;border:0;border-radius:50%;background:var(--accent);color:#1c2330;cursor:pointer;display:grid;place-items:center}",
    ".send svg{width:20px;height:20px}",
    ".brand{padding:0 12px 8px;background:#fff;color:var(--muted);font-size:11.5px;text-align:center}",
    "@media (max-width:479.98px){",
    ".panel{inset:0;right:0;bottom:0;width:100%;height:100%;height:100dvh;border-radius:0}",
    ".launcher[aria-expanded=true]{display:none}",
    ".launcher{right:14px;bottom:14px}",
    ".msg{max-width:88%}",
    "textarea{font-size:16px}", // no zoom-on-focus in iOS Safari
    "}"
  ].join("");

  var ICON_CHAT = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12 3C6.5 3 2 6.8 2 11.5c0 2.4 1.2 4.6 3.1 6.1L4.5 21l3.9-2c1.1.3 2.3.5 3.6.5 5.5 0 10-3.8 10-8.5S17.5 3 12 3zm-4 9.7a1.2 1.2 0 110-2.4 1.2 1.2 0 010 2.4zm4 0a1.2 1.2 0 110-2.4 1.2 1.2 0 010 2.4zm4 0a1.2 1.2 0 110-2.4 1.2 1.2 0 010 2.4z"/></svg>';
  var ICON_CLOSE = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" d="M6 6l12 12M18 6L6 18"/></svg>';
  var ICON_STAR = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="#f5a400" d="M12 2l2.9 6.6 7.1.6-5.4 4.7 1.6 7-6.2-3.8-6.2 3.8 1.6-7L2 9.2l7.1-.6z"/></svg>';
  var ICON_SEND = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M3.4 20.4l17.5-7.5c.8-.4.8-1.5 0-1.8L3.4 3.6c-.7-.3-1.4.3-1.3 1l.9 5.6c.1.5.5.8 1 .9l9 .9-9 .9c-.5.1-.9.4-1 .9l-.9 5.6c-.1.7.6 1.3 1.3 1z"/></svg>';

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "className") node.className = attrs[k]; else node.setAttribute(k, attrs[k]);
    }
    if (text != null) node.textContent = text;
    return node;
  }
  // Trusted markup only: the fixed icons above. Never called with message text.
  function icon(markup) { var span = el("span", { className: "ic", "aria-hidden": "true" }); span.innerHTML = markup; return span; }

  var host = el("div", { id: "cskh-widget" });
  var root = host.attachShadow({ mode: "open" });
  var style = el("style"); style.textContent = CSS; root.appendChild(style);

  var launcher = el("button", { type: "button", className: "launcher", "aria-expanded": "false",
                                 "aria-controls": "cskh-panel", "aria-label": T.open });
  var openIcon = icon(ICON_CHAT); openIcon.classList.add("when-closed");
  launcher.appendChild(openIcon);
  launcher.appendChild(el("span", { className: "when-closed", "aria-hidden": "true" }, T.launcher));
  var closeIcon = icon(ICON_CLOSE); closeIcon.classList.add("when-open");
  launcher.appendChild(closeIcon);

  var panel = el("div", { id: "cskh-panel", className: "panel", role: "dialog", "aria-label": T.dialog, hidden: "" });
  var header = el("header");
  var avatar = el("div", { className: "avatar" }); avatar.appendChild(icon(ICON_STAR));
  var titles = el("div", { className: "t" });
  titles.appendChild(el("h2", null, T.title));
  titles.appendChild(el("p", null, T.subtitle));
  var closeButton = el("button", { type: "button", className: "close", "aria-label": T.close });
  closeButton.appendChild(icon(ICON_CLOSE));
  header.appendChild(avatar); header.appendChild(titles); header.appendChild(closeButton);

  var body = el("div", { className: "body" });
  var log = el("div", { className: "log", role: "log", "aria-live": "polite", "aria-label": T.log });
  var typing = el("div", { className: "typing", hidden: "" });
  var dots = el("span", { "aria-hidden": "true", style: "display:contents" });
  dots.appendChild(el("i")); dots.appendChild(el("i")); dots.appendChild(el("i"));
  typing.appendChild(dots);
  typing.appendChild(el("span", { className: "sr-only", role: "status" }, T.typing));
  body.appendChild(log); body.appendChild(typing);

  var form = el("form", { novalidate: "" });
  var input = el("textarea", { id: "cskh-input", rows: "1", maxlength: "4000", placeholder: T.placeholder,
                               autocomplete: "off", enterkeyhint: "send" });
  var label = el("label", { className: "sr-only", "for": "cskh-input" }, T.label);
  var send = el("button", { type: "submit", className: "send", "aria-label": T.send });
  send.appendChild(icon(ICON_SEND));
  form.appendChild(label); form.appendChild(input); form.appendChild(send);

  panel.appendChild(header); panel.appendChild(body); panel.appendChild(form);
  root.appendChild(panel); root.appendChild(launcher);

  // --- rendering (textContent only) ---------------------------------------------------------------
  var URL_RE = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
  function setText(node, text) {
    // Plain text, with http(s) links made clickable: each part is a text node or an <a> whose
    // href is the matched URL itself, so no markup from the message is ever interpreted.
    var last = 0, match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text))) {
      if (match.index > last) node.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = el("a", { href: match[0], target: "_blank", rel: "noopener noreferrer" }, match[0]);
      node.appendChild(a);
      last = match.index + match[0].length;
    }
    if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
  }
  function scrollDown() { body.scrollTop = body.scrollHeight; }
  function clearReplies() {
    var old = log.querySelectorAll(".replies");
    for (var i = 0; i < old.length; i++) old[i].remove();
  }
  function addMessage(who, text, options) {
    options = options || {};
    var bubble = el("div", { className: "msg " + who });
    if (options.agent) { // a human agent: their name, visibly and for screen readers
      bubble.classList.add("agent");
      bubble.appendChild(el("span", { className: "who" }, options.agent + " · " + T.agent));
    } else {
      bubble.appendChild(el("span", { className: "sr-only" }, (who === "user" ? T.you : T.bot) + ": "));
    }
    var content = el("span", { className: "text" });
    setText(content, String(text == null ? "" : text));
    bubble.appendChild(content);
    if (options.id) bubble.setAttribute("data-id", options.id);
    if (options.pending) bubble.classList.add("pending");
    log.appendChild(bubble);
    scrollDown();
    return bubble;
  }
  function addBot(frame, fromHistory) {
    clearReplies();
    var agent = frame.custom && typeof frame.custom.agent === "string" ? frame.custom.agent : null;
    if (frame.text) addMessage("bot", frame.text, { agent: agent });
    var buttons = frame.buttons || [];
    if (buttons.length) {
      var group = el("div", { className: "replies", role: "group", "aria-label": T.suggestions });
      buttons.forEach(function (b) {
        var button = el("button", { type: "button" }, b.title || b.payload);
        button.addEventListener("click", function () {
          clearReplies();
          say(b.title || b.payload, b.payload || b.title);
          input.focus();
        });
        group.appendChild(button);
      });
      log.appendChild(group);
    }
    if (!fromHistory) setTyping(false);
    scrollDown();
  }
  function addNotice(text, isError) {
    var n = el("div", { className: "notice" + (isError ? " error" : "") }, text);
    log.appendChild(n);
    scrollDown();
    return n;
  }
  function setTyping(on) {
    if (on) typing.removeAttribute("hidden"); else typing.setAttribute("hidden", "");
    if (on) scrollDown();
  }

  // --- transport: WebSocket first, REST when it fails -----------------------------------------------
  var api = {
    conversation: conversation,
    transport: "connecting",
    lang: lang,
    open: openPanel,
    close: closePanel,
    send: function (text) { say(text, text); }
  };
  window.cskhWidget = api;

  var outbox = [];          // {id, text, bubble} not yet acknowledged by the server
  var answeredOverRest = {}; // ids whose answers came in a REST response (skip them on the socket)
  var socket = null, retries = 0, retryTimer = null, restBusy = false;
  var forced = (params.get("transport") || dataset.transport || "").toLowerCase() === "rest";
  var wsUrl = base.href.replace(/^http/, "ws") + "ws/chat?conversation=" + encodeURIComponent(conversation);

  function connect() {
    retryTimer = null;
    if (forced || !("WebSocket" in window)) { useRest(); return; }
    try {
      socket = new WebSocket(wsUrl);
    } catch (e) {
      socket = null;
      useRest();
      return scheduleReconnect();
    }
    socket.onopen = function () {
      retries = 0;
      api.transport = "websocket";
      outbox.forEach(function (m) { socket.send(JSON.stringify({ type: "message", text: m.text, id: m.id })); });
    };
    socket.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      onFrame(frame);
    };
    socket.onclose = function () {
      socket = null;
      useRest(); // messages keep flowing over REST until the socket is back
      scheduleReconnect();
    };
  }
  function scheduleReconnect() {
    if (retryTimer || forced) return;
    var delay = Math.min(30000, 1000 * Math.pow(2, retries++)) * (0.75 + Math.random() / 2);
    retryTimer = setTimeout(connect, delay);
  }
  var pollTimer = null;
  function useRest() {
    api.transport = "rest";
    flushRest();
    if (!pollTimer) pollTimer = setInterval(poll, 4000);
  }
  function poll() { // agent messages and notices, which REST cannot push
    if (api.transport !== "rest") { clearInterval(pollTimer); pollTimer = null; return; }
    fetch(base.href + "api/web/updates?conversation=" + encodeURIComponent(conversation))
      .then(function (r) { return r.ok ? r.json() : { messages: [] }; })
      .then(function (data) { (data.messages || []).forEach(onFrame); }, function () {});
  }
  function onFrame(frame) {
    switch (frame.type) {
      case "typing": setTyping(!!frame.on); break;
      case "message":
        if (frame.from === "user") { // the same conversation typed in another tab
          if (!frame.id || !log.querySelector('[data-id="' + safeId(frame.id) + '"]')) {
            clearReplies(); addMessage("user", frame.text, { id: frame.id });
          }
        } else if (!(frame.reply_to && answeredOverRest[frame.reply_to])) addBot(frame);
        break;
      case "notice": addNotice(frame.text); break;
      case "ack": acknowledge(frame.id); break;
      case "error":
        setTyping(false);
        if (frame.id) { acknowledge(frame.id); addNotice(T.unavailable, true); }
        break;
    }
  }
  function safeId(s) { return String(s).replace(/[^A-Za-z0-9-]/g, ""); }
  function acknowledge(id) {
    outbox = outbox.filter(function (m) {
      if (m.id !== id) return true;
      if (m.bubble) m.bubble.classList.remove("pending");
      return false;
    });
  }

  function flushRest() {
    if (restBusy || !outbox.length || api.transport !== "rest") return;
    restBusy = true;
    var m = outbox[0];
    answeredOverRest[m.id] = true;
    setTyping(true);
    fetch(base.href + "api/web/messages", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ conversation: conversation, text: m.text, id: m.id })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) { return { ok: response.ok, status: response.status, data: data }; });
    }).then(function (result) {
      restBusy = false;
      setTyping(false);
      acknowledge(m.id);
      if (!result.ok) { addNotice(result.status >= 500 ? T.unavailable : String(result.data.error || T.failed), true); }
      else (result.data.messages || []).forEach(onFrame);
      flushRest();
    }, function () {
      restBusy = false;
      setTyping(false);
      if (!m.warned) { m.warned = true; addNotice(T.failed, true); }
      setTimeout(flushRest, 3000);
    });
  }

  function say(shown, text) {
    text = String(text || "").trim();
    if (!text) return;
    var id = uuid();
    var bubble = addMessage("user", shown, { id: id, pending: true });
    var m = { id: id, text: text, bubble: bubble };
    outbox.push(m);
    if (api.transport === "websocket" && socket && socket.readyState === 1) {
      socket.send(JSON.stringify({ type: "message", text: text, id: id }));
    } else if (api.transport === "rest") {
      flushRest();
    } // else: connecting; sent on open, or over REST if the socket fails
  }

  // --- history ------------------------------------------------------------------------------------
  function loadHistory() {
    addMessage("bot", T.welcome).classList.add("welcome"); // a local greeting, always first
    return fetch(base.href + "api/web/history?conversation=" + encodeURIComponent(conversation))
      .then(function (r) { return r.ok ? r.json() : { messages: [] }; })
      .then(function (data) {
        var turns = data.messages || [];
        turns.forEach(function (t, i) {
          if (t.from === "user") { clearReplies(); addMessage("user", t.text); }
          else if (t.from === "notice") addNotice(t.text);
          else addBot({ text: t.text, custom: t.custom, buttons: i === turns.length - 1 ? t.buttons : [] }, true);
        });
        api.historyLoaded = true;
      }, function () {
        api.historyLoaded = true;
      });
  }

  // --- open, close, keys --------------------------------------------------------------------------
  function openPanel(keepFocus) {
    panel.removeAttribute("hidden");
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", T.close);
    store.setItem("cskh.open", "1");
    scrollDown();
    if (keepFocus !== true) input.focus();
  }
  function closePanel() {
    panel.setAttribute("hidden", "");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", T.open);
    store.setItem("cskh.open", "0");
    launcher.focus();
  }
  launcher.addEventListener("click", function () {
    if (panel.hasAttribute("hidden")) openPanel(); else closePanel();
  });
  closeButton.addEventListener("click", closePanel);
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hasAttribute("hidden")) { event.preventDefault(); closePanel(); }
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  input.addEventListener("input", function () {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    input.style.height = "";
    clearReplies();
    say(text, text);
  });

  function start() {
    document.body.appendChild(host);
    if (store.getItem("cskh.open") === "1") openPanel(true); // reopened after a reload; focus stays put
    loadHistory().then(connect);
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
