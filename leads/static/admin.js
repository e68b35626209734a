/* The lead's admin pages of cskh at /admin: vanilla JS, no framework, no build step, no CDN.
 *
 * Five sections (ARIA tabs, one per URL hash): transcripts, the review queue, KB proposals,
 * models and retraining, analytics. Each loads from the JSON API under /api/admin when first
 * shown and degrades to a short Vietnamese notice when its endpoint answers 404 or 5xx.
 *
 * Data from the server only ever reaches the page through textContent and setAttribute, never
 * innerHTML. Charts are inline SVG built with createElementNS. State-changing calls carry
 * X-CSRF-Token from GET /api/agent/me. */
(function () {
  "use strict";

  // ---- wording ---------------------------------------------------------------------------------
  var HANDOFF_REASONS = {
    request_human: "Khách yêu cầu",
    frustration: "Khách bức xúc",
    complain: "Khiếu nại",
    nlu_fallback: "Bot không hiểu",
    kb_no_answer: "Không có câu trả lời",
    form_failures: "Nhập sai nhiều lần",
    system_error: "Lỗi hệ thống"
  };
  var REVIEW_REASONS = {
    low_confidence: "Độ tin cậy thấp",
    fallback: "Bot không hiểu",
    handoff: "Chuyển nhân viên",
    low_csat: "CSAT thấp",
    agent_corrected: "Nhân viên xử lý thay",
    not_understood: "Bot chưa hiểu ý"
  };
  var UNANSWERED_REASONS = { nlu_fallback: "Bot không hiểu", kb_abstained: "KB không chắc chắn", handoff: "Chuyển nhân viên" };
  var CHANNELS = {
    web: { label: "Web", icon: "W" },
    telegram: { label: "Telegram", icon: "T" },
    zalo: { label: "Zalo", icon: "Z" },
    rest: { label: "API", icon: "A" }
  };
  var SENTIMENTS = { negative: "Tiêu cực", neutral: "Trung tính", positive: "Tích cực" };
  var SPEAKERS = { customer: "Khách", bot: "Bot", agent: "Nhân viên" };
  var INTENT_NAMES = {
    greet: "Chào hỏi", goodbye: "Tạm biệt", thank: "Cảm ơn", affirm: "Đồng ý", deny: "Từ chối",
    bot_challenge: "Hỏi có phải bot", request_human: "Gặp nhân viên", complain: "Khiếu nại",
    out_of_scope: "Ngoài phạm vi", faq: "Câu hỏi thường gặp", order_status: "Tra cứu đơn",
    order_change: "Thay đổi đơn", order_cancel: "Hủy đơn", return_request: "Đổi trả",
    warranty_claim: "Bảo hành", product_info: "Hỏi sản phẩm", inform: "Cung cấp thông tin"
  };
  var FALLBACK_INTENTS = Object.keys(INTENT_NAMES);
  var LABEL_STATUS = {
    labelled: "Đã gán nhãn", applied: "Đã áp dụng", duplicate: "Trùng lặp", conflict: "Xung đột",
    needs_answer: "Cần viết câu trả lời"
  };
  var MODEL_STATES = {
    promoted: "Đã duyệt", refused: "Bị từ chối", candidate: "Ứng viên", retired: "Đã thay thế",
    rolled_back: "Đã khôi phục về trước"
  };
  var STAGES = {
    queued: "Đang chờ", apply: "Áp dụng nhãn", validate: "Kiểm tra dữ liệu", train: "Huấn luyện",
    evaluate: "Đánh giá", decide: "Quyết định", done: "Hoàn tất"
  };
  var RUN_STATUS = { running: "Đang chạy", promoted: "Đã áp dụng mô hình mới", refused: "Giữ mô hình cũ", failed: "Thất bại" };
  var SECTIONS = ["transcripts", "review", "proposals", "models", "analytics"];
  var TIME_ZONE = "Asia/Ho_Chi_Minh";
  var TRANSCRIPT_LIMIT = 5000;  // turns per read; the API says when it cut
  var LIST_MAX = 300;           // conversations drawn at once
  var POLL_MS = 2000;           // retraining progress

  // ---- state -----------------------------------------------------------------------------------
  var state = {
    me: null,
    section: null,
    loaded: {},                  // section → true once its first load finished (even as a notice)
    t: { turns: [], conversations: [], byId: {}, openId: null, truncated: false },
    review: { items: [], intents: FALLBACK_INTENTS, entries: null },
    proposals: [],
    models: null, runs: [], polling: null,
    analytics: null
  };
  window.cskhAdmin = { ready: false, state: state };

  var $ = function (id) { return document.getElementById(id); };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function toast(text, kind) {
    var node = $("toast");
    node.textContent = text;
    node.className = "toast" + (kind ? " " + kind : "");
    node.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { node.hidden = true; }, 4500);
  }

  // ---- numbers, dates, text --------------------------------------------------------------------
  function isNum(x) { return typeof x === "number" && isFinite(x); }

  function number(x, digits) {
    if (!isNum(x)) return "–";
    return x.toLocaleString("vi-VN", { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });
  }

  function percent(rate) {
    if (!isNum(rate)) return "–";
    return (rate * 100).toLocaleString("vi-VN", { maximumFractionDigits: 1 }) + "%";
  }

  function score(x) { return isNum(x) ? x.toFixed(2) : "–"; }

  function f1(x) { return isNum(x) ? x.toFixed(3) : "–"; }

  function toDate(value) {
    if (value === undefined || value === null || value === "") return null;
    var date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return isNaN(date.getTime()) ? null : date;
  }

  function dateTime(value) {
    var date = toDate(value);
    if (!date) return "";
    return date.toLocaleString("vi-VN", { timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit",
      day: "2-digit", month: "2-digit", year: "numeric" });
  }

  function vietnamParts(date) {
    var parts = {};
    new Intl.DateTimeFormat("en-GB", { timeZone: TIME_ZONE, day: "2-digit", month: "2-digit", year: "numeric",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(date).forEach(function (part) {
      parts[part.type] = part.value;
    });
    return parts;
  }

  function shortDateTime(value) {  // "14:58 01/12" (the year only when it is not this one)
    var date = toDate(value);
    if (!date) return "";
    var p = vietnamParts(date);
    var thisYear = vietnamParts(new Date()).year;
    return p.hour + ":" + p.minute + " " + p.day + "/" + p.month + (p.year === thisYear ? "" : "/" + p.year);
  }

  function clock(value) {
    var date = toDate(value);
    if (!date) return "";
    return date.toLocaleTimeString("vi-VN", { timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit" });
  }

  function shortDay(value) {  // "2024-05-01" → "01/05"
    var match = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(value || ""));
    return match ? match[3] + "/" + match[2] : String(value || "");
  }

  function channelOf(name) { return CHANNELS[name] ? name : "rest"; }

  function customerLabel(conversationId) {
    var id = String(conversationId || "");
    var short = id.indexOf(":") >= 0 ? id.slice(id.indexOf(":") + 1) : id;
    return "Khách " + (short.length > 18 ? short.slice(0, 16) + "…" : short);
  }

  function intentName(intent) {
    if (!intent) return "";
    return INTENT_NAMES[intent] ? INTENT_NAMES[intent] + " (" + intent + ")" : intent;
  }

  function plain(value) {  // anything from the API as one line of text
    if (value === null || value === undefined) return "";
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    if (Array.isArray(value)) return value.map(plain).join(" · ");
    if (typeof value === "object" && typeof value.text === "string") return value.text;
    return JSON.stringify(value);
  }

  // Case- and diacritics-insensitive matching: NFD, combining marks dropped, đ → d, lower case.
  // Folding character by character keeps a map back to the original text for highlighting.
  function foldChar(ch) {
    return ch.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();
  }

  function fold(text) {
    return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d")
      .toLowerCase();
  }

  function foldQuery(text) { return fold(text).replace(/\s+/g, " ").trim(); }

  function foldMapped(text) {
    var folded = "", starts = [], ends = [], index = 0;
    for (var ch of String(text || "")) {
      var piece = foldChar(ch);
      for (var k = 0; k < piece.length; k++) { starts.push(index); ends.push(index + ch.length); }
      folded += piece;
      index += ch.length;
    }
    return { folded: folded, starts: starts, ends: ends };
  }

  /* Sets node's content to text with every match of the folded query in <mark>, as text nodes. */
  function highlight(node, text, q) {
    clear(node);
    text = String(text || "");
    if (!q) { node.textContent = text; return 0; }
    var mapped = foldMapped(text), from = 0, cursor = 0, found = 0, position;
    while ((position = mapped.folded.indexOf(q, from)) >= 0) {
      var start = mapped.starts[position], end = mapped.ends[position + q.length - 1];
      from = position + q.length;
      if (start < cursor) continue;  // inside the previous match (one character folded into several)
      if (start > cursor) node.appendChild(document.createTextNode(text.slice(cursor, start)));
      node.appendChild(el("mark", "", text.slice(start, end)));
      cursor = end;
      found++;
    }
    if (cursor < text.length) node.appendChild(document.createTextNode(text.slice(cursor)));
    return found;
  }

  // ---- HTTP ------------------------------------------------------------------------------------
  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = state.me ? state.me.csrf : "";
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, {
      method: method, headers: headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      if (response.status === 401) {  // the session expired or was closed elsewhere
        location.replace("/admin");
        var gone = new Error("login required");
        gone.status = 401;
        throw gone;
      }
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var detail = data && (data.detail || data.error);
          var error = new Error(typeof detail === "string" ? detail : detail ? plain(detail) : "HTTP " + response.status);
          error.status = response.status;
          error.data = data;
          throw error;
        }
        return data;
      });
    }, function (failure) {
      var error = new Error("network: " + failure.message);
      error.status = 0;
      throw error;
    });
  }

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (key) {
      var value = params[key];
      if (value === undefined || value === null || value === "" || value === false) return;
      parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(String(value)));
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  /* What a lead reads when a section's endpoint is not there (yet) or failing. */
  function politeError(error, what) {
    if (error.status === 404) return what + " chưa sẵn sàng trên máy chủ này. Vui lòng quay lại sau.";
    if (error.status === 403) return "Tài khoản của bạn không có quyền xem " + what.toLowerCase() + ".";
    if (error.status >= 500) return "Máy chủ gặp sự cố khi tải " + what.toLowerCase() + " (mã " + error.status + "). Vui lòng thử lại sau.";
    if (error.status === 0) return "Không kết nối được máy chủ. Vui lòng kiểm tra mạng rồi thử lại.";
    return "Không tải được " + what.toLowerCase() + ": " + error.message;
  }

  function showStatus(id, text, kind, retry) {
    var node = $(id);
    clear(node);
    if (!text) { node.hidden = true; return; }
    node.className = "section-status " + (kind || "info");
    node.appendChild(el("span", "", text));
    if (retry) {
      var again = el("button", "btn ghost small", "Thử lại");
      again.type = "button";
      again.addEventListener("click", retry);
      node.appendChild(again);
    }
    node.hidden = false;
  }

  function chip(className, text, title) {
    var node = el("span", "chip " + (className || ""), text);
    if (title) node.title = title;
    return node;
  }

  function channelBadge(name, small) {
    var channel = channelOf(name);
    var badge = el("span", "channel ch-" + channel + (small ? " small" : ""), CHANNELS[channel].icon);
    badge.title = CHANNELS[channel].label;
    badge.setAttribute("aria-label", "Kênh " + CHANNELS[channel].label);
    return badge;
  }

  function button(className, text, onClick) {
    var node = el("button", "btn " + className, text);
    node.type = "button";
    if (onClick) node.addEventListener("click", onClick);
    return node;
  }

  // ---- tabs ------------------------------------------------------------------------------------
  var tabs = Array.prototype.slice.call(document.querySelectorAll('#tabs [role="tab"]'));

  function select(section, focus) {
    if (SECTIONS.indexOf(section) < 0) section = SECTIONS[0];
    state.section = section;
    tabs.forEach(function (tab) {
      var on = tab.getAttribute("data-section") === section;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      tab.classList.toggle("active", on);
      if (on && focus) tab.focus();
    });
    SECTIONS.forEach(function (name) { $("panel-" + name).hidden = name !== section; });
    if (location.hash !== "#" + section) history.replaceState(null, "", "#" + section);
    if (!state.loaded[section] && !LOADING[section]) load(section);
  }

  tabs.forEach(function (tab, index) {
    tab.addEventListener("click", function () { select(tab.getAttribute("data-section"), false); });
    tab.addEventListener("keydown", function (event) {
      var next = null;
      if (event.key === "ArrowDown" || event.key === "ArrowRight") next = (index + 1) % tabs.length;
      else if (event.key === "ArrowUp" || event.key === "ArrowLeft") next = (index - 1 + tabs.length) % tabs.length;
      else if (event.key === "Home") next = 0;
      else if (event.key === "End") next = tabs.length - 1;
      if (next === null) return;
      event.preventDefault();
      select(tabs[next].getAttribute("data-section"), true);
    });
  });

  window.addEventListener("hashchange", function () {
    var wanted = location.hash.replace(/^#/, "");
    if (wanted !== state.section) select(wanted, false);
  });

  var LOADING = {};

  function load(section) {
    var loader = { transcripts: loadTranscripts, review: loadReview, proposals: loadProposals,
      models: loadModels, analytics: loadAnalytics }[section];
    LOADING[section] = true;
    return loader().then(function () {
      LOADING[section] = false;
      state.loaded[section] = true;
    }, function (error) {
      LOADING[section] = false;
      state.loaded[section] = true;
      if (error && error.status !== 401) window.console && console.error(error);
    });
  }

  // ---- 1. transcripts --------------------------------------------------------------------------
  function transcriptFilters() {
    return { since: $("t-since").value, channel: $("t-channel").value,
      handoff_only: $("t-handoff").checked ? "true" : "", limit: TRANSCRIPT_LIMIT };
  }

  var transcriptRead = 0;  // only the newest read is shown when filters change quickly

  function loadTranscripts() {
    var read = ++transcriptRead;
    showStatus("t-status", "Đang tải hội thoại…", "info");
    $("t-list").setAttribute("aria-busy", "true");
    return api("GET", "/api/admin/transcripts" + query(transcriptFilters())).then(function (data) {
      if (read !== transcriptRead) return;
      state.t.failed = false;
      groupTurns(data.turns || [], !!data.truncated);
      showStatus("t-status", state.t.truncated
        ? "Chỉ hiển thị " + number((data.turns || []).length) + " lượt đầu tiên. Hãy chọn ngày bắt đầu hoặc kênh để thu hẹp."
        : "", "warn");
      renderConversationList();
      if (state.t.openId && state.t.byId[state.t.openId]) openConversation(state.t.openId);
      else closeConversation();
    }, function (error) {
      if (error.status === 401 || read !== transcriptRead) throw error;
      showStatus("t-status", politeError(error, "Danh sách hội thoại"), "error", function () { load("transcripts"); });
      groupTurns([], false);
      state.t.failed = true;
      renderConversationList();
      throw error;
    }).then(function (value) { $("t-list").removeAttribute("aria-busy"); return value; },
      function (error) { $("t-list").removeAttribute("aria-busy"); throw error; });
  }

  function groupTurns(turns, truncated) {
    var byId = {}, list = [];
    turns.forEach(function (turn) {
      var id = String(turn.conversation_id);
      var conv = byId[id];
      if (!conv) {
        conv = byId[id] = { id: id, channel: turn.channel, turns: [], reasons: [], csat: null,
          first: turn.time, last: turn.time, folded: fold(id) };
        list.push(conv);
      }
      conv.turns.push(turn);
      conv.last = turn.time || conv.last;
      if (turn.handoff_reason && conv.reasons.indexOf(turn.handoff_reason) < 0) conv.reasons.push(turn.handoff_reason);
      if (isNum(turn.csat)) conv.csat = turn.csat;
      turn._folded = fold(turn.text);
    });
    list.sort(function (a, b) { return String(b.last).localeCompare(String(a.last)); });
    state.t = { turns: turns, conversations: list, byId: byId, openId: state.t.openId, truncated: truncated,
      failed: false };
  }

  function searchQuery() { return foldQuery($("t-search").value); }

  function matches(conv, q) {
    if (!q) return true;
    if (conv.folded.indexOf(q) >= 0) return true;
    return conv.turns.some(function (turn) { return turn._folded.indexOf(q) >= 0; });
  }

  function snippetTurn(conv, q) {
    var turns = conv.turns;
    if (q) {
      for (var i = 0; i < turns.length; i++) if (turns[i]._folded.indexOf(q) >= 0) return turns[i];
    }
    for (var j = 0; j < turns.length; j++) if (turns[j].speaker === "customer" && turns[j].text) return turns[j];
    return turns[0];
  }

  function renderConversationList() {
    var list = $("t-list"), q = searchQuery();
    clear(list);
    var shown = state.t.conversations.filter(function (conv) { return matches(conv, q); });
    shown.slice(0, LIST_MAX).forEach(function (conv) { list.appendChild(conversationItem(conv, q)); });
    var total = state.t.conversations.length;
    $("t-count").textContent = q
      ? number(shown.length) + " / " + number(total) + " hội thoại khớp"
      : number(total) + " hội thoại";
    if (shown.length > LIST_MAX) $("t-count").textContent += " · hiển thị " + LIST_MAX + " mới nhất";
    $("t-empty").hidden = shown.length > 0 || !!state.t.failed;
  }

  function conversationItem(conv, q) {
    var li = el("li", "conv-row");
    li.setAttribute("data-conversation", conv.id);
    var row = el("button", "conv-item" + (conv.id === state.t.openId ? " active" : ""));
    row.type = "button";
    row.title = conv.id;
    if (conv.id === state.t.openId) row.setAttribute("aria-current", "true");

    var top = el("span", "conv-top");
    top.appendChild(channelBadge(conv.channel));
    top.appendChild(el("span", "who", customerLabel(conv.id)));
    var when = el("span", "when", shortDateTime(conv.last));
    when.title = dateTime(conv.last);
    top.appendChild(when);
    row.appendChild(top);

    var turn = snippetTurn(conv, q);
    var snippet = el("span", "snippet");
    if (turn) {
      snippet.appendChild(el("span", "snippet-who", (SPEAKERS[turn.speaker] || turn.speaker) + ": "));
      var body = el("span", "snippet-text");
      highlight(body, turn.text || "", q);
      snippet.appendChild(body);
    }
    row.appendChild(snippet);

    var tags = el("span", "conv-tags");
    tags.appendChild(chip("", number(conv.turns.length) + " lượt"));
    conv.reasons.forEach(function (reason) {
      tags.appendChild(chip("reason reason-" + reason, HANDOFF_REASONS[reason] || reason, "Lý do chuyển nhân viên"));
    });
    if (isNum(conv.csat)) tags.appendChild(chip("csat" + (conv.csat <= 2 ? " bad" : ""), "CSAT " + conv.csat + "/5"));
    row.appendChild(tags);

    row.addEventListener("click", function () { openConversation(conv.id, true); });
    li.appendChild(row);
    return li;
  }

  function closeConversation() {
    state.t.openId = null;
    $("t-view").hidden = true;
    $("t-placeholder").hidden = false;
  }

  function openConversation(id, fromList) {
    var conv = state.t.byId[id];
    if (!conv) { closeConversation(); return; }
    state.t.openId = id;
    var rows = $("t-list").querySelectorAll(".conv-item");
    for (var i = 0; i < rows.length; i++) {
      var on = rows[i].parentNode.getAttribute("data-conversation") === id;
      rows[i].classList.toggle("active", on);
      if (on) rows[i].setAttribute("aria-current", "true"); else rows[i].removeAttribute("aria-current");
    }
    $("t-placeholder").hidden = true;
    $("t-view").hidden = false;
    $("t-view-title").textContent = customerLabel(conv.id);
    $("t-view-title").title = conv.id;
    var meta = $("t-view-meta");
    clear(meta);
    meta.appendChild(channelBadge(conv.channel, true));
    meta.appendChild(el("span", "", CHANNELS[channelOf(conv.channel)].label));
    meta.appendChild(el("span", "dot", "·"));
    meta.appendChild(el("span", "mono", conv.id));
    meta.appendChild(el("span", "dot", "·"));
    meta.appendChild(el("span", "", dateTime(conv.first) + " – " + clock(conv.last)));
    conv.reasons.forEach(function (reason) {
      meta.appendChild(chip("reason reason-" + reason, "Chuyển nhân viên: " + (HANDOFF_REASONS[reason] || reason)));
    });
    if (isNum(conv.csat)) meta.appendChild(chip("csat" + (conv.csat <= 2 ? " bad" : ""), "CSAT " + conv.csat + "/5"));
    renderTurns(conv);
    if (fromList) $("t-turns").scrollTop = 0;
  }

  function renderTurns(conv) {
    var list = $("t-turns"), q = searchQuery();
    clear(list);
    conv.turns.forEach(function (turn) {
      var speaker = SPEAKERS[turn.speaker] ? turn.speaker : "bot";
      var li = el("li", "turn " + speaker);
      li.setAttribute("data-turn", turn.turn_id);
      var head = el("div", "turn-head");
      head.appendChild(el("span", "author", speaker === "agent" ? (turn.agent || "Nhân viên") : SPEAKERS[speaker]));
      if (turn.time) {
        var time = el("time", "time", clock(turn.time));
        time.setAttribute("datetime", String(turn.time));
        time.title = dateTime(turn.time);
        head.appendChild(time);
      }
      li.appendChild(head);
      var text = el("div", "text");
      highlight(text, turn.text || "", q);
      if (!turn.text) { text.textContent = "(không có nội dung)"; text.classList.add("empty-text"); }
      li.appendChild(text);
      var facts = understanding(turn);
      if (facts.childNodes.length) li.appendChild(facts);
      list.appendChild(li);
    });
  }

  function understanding(turn) {
    var nlu = el("div", "nlu");
    if (turn.intent) {
      var low = isNum(turn.confidence) && turn.confidence < 0.6;
      nlu.appendChild(chip("intent" + (low ? " low" : ""), turn.intent + (isNum(turn.confidence) ? " · " + score(turn.confidence) : ""),
        "Ý định bot nhận ra · độ tin cậy"));
    }
    var entities = turn.entities || {};
    Object.keys(entities).forEach(function (name) {
      nlu.appendChild(chip("entity", name + ": " + plain(entities[name]), "Thông tin bot trích ra"));
    });
    if (turn.sentiment) {
      nlu.appendChild(chip("sentiment s-" + turn.sentiment, (SENTIMENTS[turn.sentiment] || turn.sentiment) +
        (isNum(turn.negative) ? " · " + score(turn.negative) : ""), "Cảm xúc · xác suất tiêu cực"));
    }
    if (turn.kb_entry) {
      nlu.appendChild(chip("kb", "KB: " + turn.kb_entry + (isNum(turn.kb_score) ? " · " + score(turn.kb_score) : ""),
        "Mục kiến thức bot dùng để trả lời · độ tin cậy"));
    }
    if (turn.handoff_reason) {
      nlu.appendChild(chip("reason reason-" + turn.handoff_reason,
        "Chuyển nhân viên: " + (HANDOFF_REASONS[turn.handoff_reason] || turn.handoff_reason)));
    }
    if (isNum(turn.csat) && turn.speaker === "customer" && turn.handoff_reason) {
      nlu.appendChild(chip("csat" + (turn.csat <= 2 ? " bad" : ""), "CSAT " + turn.csat + "/5"));
    }
    return nlu;
  }

  var searchTimer = null;
  $("t-search").addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () {
      renderConversationList();
      if (state.t.openId && state.t.byId[state.t.openId]) renderTurns(state.t.byId[state.t.openId]);
    }, 120);
  });
  $("transcript-filters").addEventListener("submit", function (event) { event.preventDefault(); load("transcripts"); });
  ["t-channel", "t-since", "t-handoff"].forEach(function (id) {
    $(id).addEventListener("change", function () { load("transcripts"); });
  });

  // ---- 2. the review queue ---------------------------------------------------------------------
  function loadKbEntries() {
    if (state.review.entries) return Promise.resolve(state.review.entries);
    return api("GET", "/api/admin/kb/entries").then(function (data) {
      state.review.entries = (data.entries || []).slice().sort(function (a, b) { return String(a.id).localeCompare(String(b.id)); });
      return state.review.entries;
    }, function (error) {
      if (error.status === 401) throw error;
      return null;  // the KB choices are left out; intents and "new KB question" still work
    });
  }

  function loadReview() {
    showStatus("r-status", "Đang tải hàng chờ xem lại…", "info");
    var unlabelled = $("r-unlabelled").checked;
    return Promise.all([
      api("GET", "/api/admin/review" + query({ unlabelled: unlabelled ? "true" : "" })),
      loadKbEntries()
    ]).then(function (results) {
      var data = results[0];
      state.review.items = data.items || [];
      if (data.intents && data.intents.length) state.review.intents = data.intents;
      showStatus("r-status", results[1] ? "" : "Chưa tải được danh sách mục kiến thức; vẫn gán được ý định và \"Câu hỏi KB mới\".",
        "warn");
      renderReview();
    }, function (error) {
      if (error.status === 401) throw error;
      state.review.items = [];
      renderReview();
      $("r-empty").hidden = true;
      showStatus("r-status", politeError(error, "Hàng chờ xem lại"), "error", function () { load("review"); });
      throw error;
    });
  }

  function renderReview() {
    var list = $("r-list");
    clear(list);
    state.review.items.forEach(function (item) { list.appendChild(reviewItem(item)); });
    $("r-empty").hidden = state.review.items.length > 0;
    updateReviewCount();
  }

  function updateReviewCount() {
    var open = state.review.items.filter(function (item) { return !item.label; }).length;
    var badge = $("review-count");
    badge.textContent = String(open);
    badge.hidden = open === 0;
    badge.setAttribute("aria-label", open + " mục chưa gán nhãn");
  }

  function labelOptions(selectNode, current) {
    selectNode.appendChild(new Option("Chọn nhãn đúng…", ""));
    var intents = el("optgroup");
    intents.label = "Ý định";
    state.review.intents.forEach(function (intent) {
      intents.appendChild(new Option(intentName(intent), intent));
    });
    selectNode.appendChild(intents);
    var kb = el("optgroup");
    kb.label = "Kho kiến thức";
    kb.appendChild(new Option("Câu hỏi KB mới (cần viết câu trả lời)", "kb:new"));
    var known = {};
    (state.review.entries || []).forEach(function (entry) {
      var question = String(entry.question || "");
      if (question.length > 70) question = question.slice(0, 68) + "…";
      var option = new Option("Câu hỏi KB: " + entry.id + (question ? " — " + question : ""), "kb:" + entry.id);
      option.title = String(entry.question || "");
      known["kb:" + entry.id] = true;
      kb.appendChild(option);
    });
    if (current && current.indexOf("kb:") === 0 && current !== "kb:new" && !known[current]) {
      kb.appendChild(new Option("Câu hỏi KB: " + current.slice(3), current));
    }
    selectNode.appendChild(kb);
    selectNode.value = current || "";
    if (selectNode.value !== (current || "")) {  // a stored label we do not list (an old intent)
      selectNode.appendChild(new Option(current, current));
      selectNode.value = current;
    }
  }

  function reviewItem(item) {
    var li = el("li", "review-item card" + (item.label ? " labelled" : ""));
    li.setAttribute("data-turn", item.turn_id);
    li.setAttribute("data-conversation", item.conversation_id);

    var head = el("div", "review-head");
    head.appendChild(channelBadge(item.channel, true));
    head.appendChild(el("span", "who", customerLabel(item.conversation_id)));
    head.appendChild(el("span", "when", dateTime(item.time)));
    var status = el("span", "label-status");
    head.appendChild(status);
    li.appendChild(head);

    var text = el("blockquote", "review-text", item.text || "");
    li.appendChild(text);

    var facts = el("div", "nlu");
    if (item.predicted_intent) {
      var low = isNum(item.confidence) && item.confidence < 0.6;
      var guess = chip("intent" + (low ? " low" : ""), "", "Ý định bot đoán · độ tin cậy");
      guess.appendChild(el("span", "chip-prefix", "Bot đoán: "));
      guess.appendChild(document.createTextNode(item.predicted_intent +
        (isNum(item.confidence) ? " · " + score(item.confidence) : "")));
      facts.appendChild(guess);
    }
    (item.reasons || []).forEach(function (reason) {
      var text = REVIEW_REASONS[reason] || reason;
      if (reason === "handoff" && item.handoff_reason) {
        text += ": " + (HANDOFF_REASONS[item.handoff_reason] || item.handoff_reason);
      }
      facts.appendChild(chip("why why-" + reason, text, "Lý do cần xem lại"));
    });
    if (item.bot_kb_entry) {
      facts.appendChild(chip("kb", "Bot trả lời bằng KB: " + item.bot_kb_entry +
        (isNum(item.bot_kb_score) ? " · " + score(item.bot_kb_score) : "")));
    }
    if (item.sentiment) facts.appendChild(chip("sentiment s-" + item.sentiment, SENTIMENTS[item.sentiment] || item.sentiment));
    if (item.handoff_reason && (item.reasons || []).indexOf("handoff") < 0) {
      facts.appendChild(chip("reason reason-" + item.handoff_reason,
        "Chuyển nhân viên: " + (HANDOFF_REASONS[item.handoff_reason] || item.handoff_reason)));
    }
    if (isNum(item.csat)) facts.appendChild(chip("csat" + (item.csat <= 2 ? " bad" : ""), "CSAT " + item.csat + "/5"));
    li.appendChild(facts);

    var form = el("form", "label-form");
    form.setAttribute("aria-label", "Gán nhãn cho tin nhắn này");
    var selectId = "label-" + item.turn_id, noteId = "note-" + item.turn_id;
    var labelField = el("div", "field grow");
    var selectLabel = el("label", "", "Nhãn đúng");
    selectLabel.htmlFor = selectId;
    var selectNode = el("select", "label-select");
    selectNode.id = selectId;
    labelOptions(selectNode, item.label);
    labelField.appendChild(selectLabel);
    labelField.appendChild(selectNode);
    form.appendChild(labelField);

    var noteField = el("div", "field grow");
    var noteLabel = el("label", "", "Ghi chú (không bắt buộc)");
    noteLabel.htmlFor = noteId;
    var note = el("input", "note-input");
    note.id = noteId;
    note.type = "text";
    note.maxLength = 2000;
    note.value = item.note || "";
    noteField.appendChild(noteLabel);
    noteField.appendChild(note);
    form.appendChild(noteField);

    var save = el("button", "btn primary save-label", "Lưu nhãn");
    save.type = "submit";
    form.appendChild(save);
    var result = el("p", "form-result");
    result.setAttribute("role", "status");
    form.appendChild(result);

    var view = button("ghost small open-conv", "Xem cả hội thoại", function () { showConversation(item.conversation_id); });
    head.appendChild(view);

    function showLabel() {
      clear(status);
      if (item.label) {
        var text = item.label === "kb:new" ? "Câu hỏi KB mới" : item.label.indexOf("kb:") === 0
          ? "Câu hỏi KB: " + item.label.slice(3) : (INTENT_NAMES[item.label] || item.label);
        status.appendChild(chip("status status-" + (item.status || "labelled"),
          (LABEL_STATUS[item.status] || "Đã gán nhãn") + ": " + text));
      }
    }
    showLabel();

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var label = selectNode.value;
      if (!label) {
        result.className = "form-result error";
        result.textContent = "Hãy chọn một nhãn trước khi lưu.";
        selectNode.focus();
        return;
      }
      save.disabled = true;
      result.className = "form-result";
      result.textContent = "Đang lưu…";
      api("POST", "/api/admin/review/" + encodeURIComponent(item.turn_id) + "/label",
        { label: label, kb_entry: null, note: note.value.trim() }).then(function (stored) {
        item.label = stored && stored.label || label;
        item.status = stored && stored.status || "labelled";
        item.note = note.value.trim();
        li.classList.add("labelled");
        showLabel();
        result.className = "form-result ok";
        result.textContent = "Đã lưu nhãn.";
        updateReviewCount();
      }, function (error) {
        result.className = "form-result error";
        result.textContent = error.status === 422 ? "Nhãn không hợp lệ: " + error.message
          : error.status === 404 ? "Không tìm thấy tin nhắn này nữa (có thể dữ liệu đã bị xóa)."
            : "Không lưu được: " + politeError(error, "Nhãn");
      }).then(function () { save.disabled = false; });
    });
    li.appendChild(form);
    return li;
  }

  function showConversation(conversationId) {
    state.t.openId = conversationId;
    select("transcripts", false);
    var ready = LOADING.transcripts || !state.loaded.transcripts ? waitLoaded("transcripts") : Promise.resolve();
    ready.then(function () {
      if (state.t.byId[conversationId]) openConversation(conversationId, true);
      else toast("Không thấy hội thoại này với bộ lọc hiện tại; hãy bỏ bớt bộ lọc.", "error");
    });
  }

  function waitLoaded(section) {
    return new Promise(function (resolve) {
      (function check() { if (state.loaded[section] && !LOADING[section]) resolve(); else setTimeout(check, 50); })();
    });
  }

  $("r-unlabelled").addEventListener("change", function () { load("review"); });

  $("r-apply").addEventListener("click", function () {
    var applyButton = $("r-apply");
    applyButton.disabled = true;
    showStatus("r-status", "Đang áp dụng nhãn…", "info");
    api("POST", "/api/admin/review/apply").then(function (report) {
      showStatus("r-status", "", "");
      renderApplyReport(report || {});
      toast("Đã áp dụng nhãn.", "ok");
      return load("review");
    }, function (error) {
      showStatus("r-status", error.status === 404 ? "Chức năng áp dụng nhãn chưa sẵn sàng trên máy chủ này. Vui lòng quay lại sau."
        : error.status === 409 || error.status === 422 ? "Chưa áp dụng được: " + error.message
          : politeError(error, "Kết quả áp dụng nhãn"), "error");
    }).then(function () { applyButton.disabled = false; });
  });

  function count(list) { return Array.isArray(list) ? list.length : isNum(list) ? list : 0; }

  function renderApplyReport(report) {
    var box = $("r-report");
    clear(box);
    box.appendChild(el("h2", "card-title", "Kết quả áp dụng nhãn"));
    var figures = el("dl", "figures");
    [["examples", "Ví dụ NLU đã ghi"], ["moved", "Ví dụ đổi ý định"], ["duplicates", "Trùng lặp, bỏ qua"],
      ["conflicts", "Xung đột"], ["kb_questions", "Câu hỏi thêm vào KB"], ["needs_answer", "Cần viết câu trả lời"]]
      .forEach(function (pair) {
        var cell = el("div", "figure" + (pair[0] === "conflicts" && count(report[pair[0]]) ? " bad" : ""));
        cell.setAttribute("data-key", pair[0]);
        cell.appendChild(el("dt", "", pair[1]));
        cell.appendChild(el("dd", "", number(count(report[pair[0]]))));
        figures.appendChild(cell);
      });
    box.appendChild(figures);
    var conflicts = Array.isArray(report.conflicts) ? report.conflicts : [];
    if (conflicts.length) {
      box.appendChild(el("h3", "sub-title", "Xung đột (chưa ghi vào dữ liệu huấn luyện)"));
      var table = dataTable(["Tin nhắn", "Nhãn", "Lý do"]);
      conflicts.forEach(function (c) {
        addRow(table, [plain(c.text), plain(c.label), plain(c.why)]);
      });
      box.appendChild(table.wrap);
    }
    var needs = Array.isArray(report.needs_answer) ? report.needs_answer : [];
    if (needs.length) {
      box.appendChild(el("h3", "sub-title", "Câu hỏi cần viết câu trả lời mới"));
      var ul = el("ul", "plain-list");
      needs.forEach(function (n) { ul.appendChild(el("li", "", plain(n))); });
      box.appendChild(ul);
    }
    var close = button("ghost small", "Đóng", function () { box.hidden = true; });
    close.classList.add("report-close");
    box.appendChild(close);
    box.hidden = false;
  }

  function dataTable(headings) {
    var wrap = el("div", "table-wrap");
    var table = el("table", "data");
    var thead = el("thead"), tr = el("tr");
    headings.forEach(function (h) { var th = el("th", "", h); th.scope = "col"; tr.appendChild(th); });
    thead.appendChild(tr);
    table.appendChild(thead);
    var body = el("tbody");
    table.appendChild(body);
    wrap.appendChild(table);
    return { wrap: wrap, table: table, body: body };
  }

  function addRow(table, cells, className) {
    var tr = el("tr", className || "");
    cells.forEach(function (cell) {
      var td = el("td");
      if (cell && cell.nodeType) td.appendChild(cell); else td.textContent = cell === undefined || cell === null ? "" : String(cell);
      tr.appendChild(td);
    });
    table.body.appendChild(tr);
    return tr;
  }

  // ---- 3. KB proposals -------------------------------------------------------------------------
  function slug(text) {
    return fold(text).replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").split("-").slice(0, 7).join("-").slice(0, 60);
  }

  function loadProposals() {
    showStatus("p-status", "Đang tải đề xuất…", "info");
    return api("GET", "/api/admin/kb/proposals?status=pending").then(function (data) {
      state.proposals = data.proposals || [];
      showStatus("p-status", "", "");
      renderProposals();
    }, function (error) {
      if (error.status === 401) throw error;
      state.proposals = [];
      renderProposals();
      $("p-empty").hidden = true;
      showStatus("p-status", politeError(error, "Danh sách đề xuất KB"), error.status === 404 ? "info" : "error",
        function () { load("proposals"); });
      throw error;
    });
  }

  function renderProposals() {
    var list = $("p-list");
    clear(list);
    state.proposals.forEach(function (proposal) { list.appendChild(proposalItem(proposal)); });
    $("p-empty").hidden = state.proposals.length > 0;
    var badge = $("proposals-count");
    badge.textContent = String(state.proposals.length);
    badge.hidden = state.proposals.length === 0;
    badge.setAttribute("aria-label", state.proposals.length + " đề xuất chờ duyệt");
  }

  function field(labelText, control, hint) {
    var wrap = el("div", "field");
    var label = el("label", "", labelText);
    label.htmlFor = control.id;
    wrap.appendChild(label);
    wrap.appendChild(control);
    if (hint) wrap.appendChild(el("span", "field-hint", hint));
    return wrap;
  }

  function proposalItem(proposal) {
    var key = String(proposal.handoff_id);
    var li = el("li", "proposal card");
    li.setAttribute("data-handoff", key);
    var head = el("div", "review-head");
    head.appendChild(channelBadge(proposal.channel, true));
    head.appendChild(el("span", "who", customerLabel(proposal.conversation_id)));
    if (proposal.agent) head.appendChild(chip("agent-chip", "Nhân viên: " + proposal.agent));
    if (isNum(proposal.csat)) head.appendChild(chip("csat" + (proposal.csat <= 2 ? " bad" : ""), "CSAT " + proposal.csat + "/5"));
    head.appendChild(el("span", "when", dateTime(proposal.resolved_at)));
    li.appendChild(head);

    var pair = el("div", "qa");
    var q = el("div", "qa-q");
    q.appendChild(el("span", "qa-label", "Khách hỏi"));
    q.appendChild(el("p", "", proposal.question || ""));
    var a = el("div", "qa-a");
    a.appendChild(el("span", "qa-label", "Nhân viên trả lời"));
    a.appendChild(el("p", "", proposal.answer || ""));
    pair.appendChild(q);
    pair.appendChild(a);
    li.appendChild(pair);

    var form = el("form", "proposal-form");
    form.setAttribute("aria-label", "Thêm đề xuất vào kho kiến thức");
    var idInput = el("input", "p-id");
    idInput.id = "p-id-" + key;
    idInput.maxLength = 128;
    idInput.spellcheck = false;
    idInput.value = proposal.entry_id || slug(proposal.question || "") || "muc-moi-" + key;
    var tagsInput = el("input", "p-tags");
    tagsInput.id = "p-tags-" + key;
    tagsInput.placeholder = "ví dụ: giao-hang, phi";
    var questions = el("textarea", "p-questions");
    questions.id = "p-questions-" + key;
    questions.rows = 3;
    questions.value = proposal.question || "";
    var answer = el("textarea", "p-answer");
    answer.id = "p-answer-" + key;
    answer.rows = 4;
    answer.value = proposal.answer || "";
    var row = el("div", "form-row");
    row.appendChild(field("Mã mục", idInput, "chữ thường không dấu, nối bằng dấu gạch"));
    row.appendChild(field("Thẻ (cách nhau bởi dấu phẩy)", tagsInput));
    form.appendChild(row);
    form.appendChild(field("Các cách hỏi (mỗi dòng một câu)", questions));
    form.appendChild(field("Câu trả lời", answer));

    var actions = el("div", "form-actions");
    var result = el("p", "form-result");
    result.setAttribute("role", "status");
    var accept = el("button", "btn primary accept", "Thêm vào KB");
    accept.type = "submit";
    var dismiss = button("ghost dismiss", "Bỏ qua", function () {
      accept.disabled = dismiss.disabled = true;
      api("POST", "/api/admin/kb/proposals/" + encodeURIComponent(key) + "/dismiss").then(function () {
        toast("Đã bỏ qua đề xuất.", "ok");
        removeProposal(key);
      }, function (error) {
        result.className = "form-result error";
        result.textContent = proposalError(error);
        accept.disabled = dismiss.disabled = false;
      });
    });
    actions.appendChild(result);
    actions.appendChild(dismiss);
    actions.appendChild(accept);
    form.appendChild(actions);

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = {
        id: idInput.value.trim(),
        questions: questions.value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean),
        answer: answer.value.trim(),
        tags: tagsInput.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean)
      };
      var missing = !body.id ? idInput : !body.questions.length ? questions : !body.answer ? answer : null;
      if (missing) {
        result.className = "form-result error";
        result.textContent = "Vui lòng điền mã mục, ít nhất một cách hỏi và câu trả lời.";
        missing.focus();
        return;
      }
      accept.disabled = dismiss.disabled = true;
      result.className = "form-result";
      result.textContent = "Đang thêm…";
      api("POST", "/api/admin/kb/proposals/" + encodeURIComponent(key) + "/accept", body).then(function () {
        toast("Đã thêm mục \"" + body.id + "\" vào kho kiến thức; bot dùng được ngay.", "ok");
        state.review.entries = null;  // the labelling choices include it next time
        removeProposal(key);
      }, function (error) {
        result.className = "form-result error";
        result.textContent = proposalError(error);
        accept.disabled = dismiss.disabled = false;
      });
    });
    li.appendChild(form);
    return li;
  }

  function proposalError(error) {
    if (error.status === 409) return "Không thực hiện được: " + error.message + ". Hãy đổi mã mục hoặc tải lại danh sách.";
    if (error.status === 422) return "Thông tin chưa hợp lệ: " + error.message;
    if (error.status === 404) return "Đề xuất này không còn, hoặc chức năng chưa sẵn sàng trên máy chủ.";
    return politeError(error, "Đề xuất");
  }

  function removeProposal(key) {
    state.proposals = state.proposals.filter(function (p) { return String(p.handoff_id) !== key; });
    renderProposals();
  }

  $("p-reload").addEventListener("click", function () { load("proposals"); });

  // ---- 4. models and retraining ------------------------------------------------------------------
  function loadModels() {
    showStatus("m-status", "Đang tải thông tin mô hình…", "info");
    var models = api("GET", "/api/admin/models").then(function (data) { state.models = data; return null; },
      function (error) { if (error.status === 401) throw error; state.models = null; return error; });
    var runs = api("GET", "/api/admin/retrain").then(function (data) { state.runs = data.runs || []; return null; },
      function (error) { if (error.status === 401) throw error; state.runs = []; return error; });
    return Promise.all([models, runs]).then(function (errors) {
      var error = errors[0] || errors[1];
      if (error) {
        showStatus("m-status", politeError(error, errors[0] ? "Thông tin mô hình" : "Lịch sử huấn luyện"),
          error.status === 404 ? "info" : "error", function () { load("models"); });
      } else showStatus("m-status", "", "");
      renderModels(!!errors[0], !!errors[1]);
      if (latestRun() && latestRun().status === "running") startPolling();
    });
  }

  function latestRun() {
    var runs = state.runs || [];
    if (!runs.length) return null;
    return runs.slice().sort(function (a, b) {
      return String(b.started_at).localeCompare(String(a.started_at)) || (b.id > a.id ? 1 : -1);
    })[0];
  }

  function kv(list, label, value, className) {
    list.appendChild(el("dt", "", label));
    var dd = el("dd", className || "");
    if (value && value.nodeType) dd.appendChild(value); else dd.textContent = value === undefined || value === null || value === "" ? "–" : String(value);
    list.appendChild(dd);
  }

  function renderModels(modelsFailed, runsFailed) {
    var data = state.models;
    var current = $("m-current");
    clear(current);
    if (modelsFailed) kv(current, "Trạng thái", "Chưa có thông tin");
    else if (!data || !data.current) kv(current, "Trạng thái", "Chưa có mô hình nào được ghi nhận");
    else {
      kv(current, "Tên", data.current.name, "mono");
      kv(current, "Tạo lúc", dateTime(data.current.created_at));
      kv(current, "Macro F1", f1(data.current.macro_f1));
      kv(current, "Trạng thái", MODEL_STATES[data.current.state] || data.current.state);
    }
    $("m-rollback").disabled = modelsFailed || !(data && data.can_rollback);
    $("m-rollback").title = data && data.can_rollback ? "" : "Không có phiên bản trước để khôi phục";
    $("m-retrain").disabled = runsFailed && modelsFailed;

    var versions = $("m-versions");
    clear(versions);
    var rows = data && data.versions || [];
    if (!rows.length) versions.appendChild(el("p", "muted", modelsFailed ? "Chưa có thông tin." : "Chưa có phiên bản nào."));
    else {
      var table = dataTable(["Phiên bản", "Tạo lúc", "Trạng thái", "Macro F1", "Quyết định"]);
      rows.forEach(function (v) {
        var name = el("span", "mono", v.name || v.id);
        var cell = el("span", "version-name");
        cell.appendChild(name);
        if (v.current) cell.appendChild(chip("status status-current", "Đang phục vụ"));
        addRow(table, [cell, dateTime(v.created_at), chip("state state-" + v.state, MODEL_STATES[v.state] || v.state),
          f1(v.macro_f1), plain(v.decision)], v.current ? "current" : "");
      });
      table.table.classList.add("versions");
      versions.appendChild(table.wrap);
    }
    renderRun();
  }

  function renderRun() {
    var box = $("m-run");
    clear(box);
    var run = latestRun();
    var running = !!(run && run.status === "running");
    $("m-retrain").disabled = running;
    $("m-retrain").textContent = running ? "Đang huấn luyện…" : "Huấn luyện lại";
    if (!run) {
      box.appendChild(el("p", "muted", "Chưa có lượt huấn luyện lại nào. Nhấn \"Huấn luyện lại\" để huấn luyện trên dữ liệu mới nhất (gồm các nhãn đã áp dụng)."));
      $("m-compare").hidden = true;
      return;
    }
    var head = el("div", "run-head");
    head.appendChild(chip("run run-" + run.status, RUN_STATUS[run.status] || run.status));
    head.appendChild(el("span", "muted", "Bắt đầu " + dateTime(run.started_at) +
      (run.finished_at ? " · xong " + dateTime(run.finished_at) : "")));
    box.appendChild(head);

    if (running) {
      var progress = isNum(run.progress) ? Math.max(0, Math.min(1, run.progress)) : 0;
      var bar = el("div", "progress");
      bar.setAttribute("role", "progressbar");
      bar.setAttribute("aria-valuemin", "0");
      bar.setAttribute("aria-valuemax", "100");
      bar.setAttribute("aria-valuenow", String(Math.round(progress * 100)));
      bar.setAttribute("aria-label", "Tiến độ huấn luyện");
      var fill = el("div", "progress-fill");
      fill.style.width = (progress * 100).toFixed(1) + "%";
      bar.appendChild(fill);
      box.appendChild(bar);
      box.appendChild(el("p", "progress-text", Math.round(progress * 100) + "% · " + (STAGES[run.stage] || run.stage || "Đang chuẩn bị") +
        (run.message ? " — " + run.message : "")));
    } else {
      if (run.message) box.appendChild(el("p", "run-message", run.message));
      if (run.candidate) box.appendChild(el("p", "muted", "Mô hình ứng viên: " + run.candidate));
      var reasons = run.report && run.report.reasons || [];
      if (run.status === "refused" && reasons.length) {
        box.appendChild(el("p", "sub-title", "Lý do giữ mô hình cũ:"));
        var ul = el("ul", "plain-list reasons");
        reasons.forEach(function (r) { ul.appendChild(el("li", "", plain(r))); });
        box.appendChild(ul);
      }
    }
    renderComparison(run);
  }

  function renderComparison(run) {
    var report = run && run.report;
    var box = $("m-compare-body");
    clear(box);
    if (!report || !report.candidate) { $("m-compare").hidden = true; return; }
    $("m-compare").hidden = false;
    var cand = report.candidate || {}, cur = report.current || {};
    var intents = Object.keys(cand.per_intent || {});
    Object.keys(cur.per_intent || {}).forEach(function (i) { if (intents.indexOf(i) < 0) intents.push(i); });
    intents.sort();
    var note = "Macro F1: hiện tại " + f1(cur.macro_f1) + " → mới " + f1(cand.macro_f1);
    if (isNum(report.tolerance)) note += " · mô hình mới bị từ chối nếu một ý định giảm quá " + f1(report.tolerance);
    box.appendChild(el("p", "muted", note));
    var table = dataTable(["Ý định", "F1 hiện tại", "F1 mới", "Chênh lệch", "Precision mới", "Recall mới", "Số mẫu"]);
    table.table.classList.add("compare");
    function delta(a, b) {
      if (!isNum(a) || !isNum(b)) return el("span", "delta", "–");
      var d = b - a, tol = isNum(report.tolerance) ? report.tolerance : 0;
      var kind = Math.abs(d) < 0.0005 ? "same" : d > 0 ? "up" : d < -tol ? "down bad" : "down";
      var sign = Math.abs(d) < 0.0005 ? "±" : d > 0 ? "▲ +" : "▼ −";
      return el("span", "delta " + kind, sign + Math.abs(d).toFixed(3));
    }
    var macro = addRow(table, ["Macro F1", f1(cur.macro_f1), f1(cand.macro_f1), delta(cur.macro_f1, cand.macro_f1), "", "", ""], "macro");
    macro.firstChild.style.fontWeight = "700";
    intents.forEach(function (intent) {
      var c = (cand.per_intent || {})[intent] || {}, p = (cur.per_intent || {})[intent] || {};
      addRow(table, [intent, f1(p.f1), f1(c.f1), delta(p.f1, c.f1), f1(c.precision), f1(c.recall),
        isNum(c.support) ? number(c.support) : isNum(p.support) ? number(p.support) : "–"]);
    });
    box.appendChild(table.wrap);
  }

  function startPolling() {
    if (state.polling) return;
    state.polling = setTimeout(function poll() {
      api("GET", "/api/admin/retrain").then(function (data) {
        state.runs = data.runs || [];
        renderRun();
        var run = latestRun();
        if (run && run.status === "running") { state.polling = setTimeout(poll, POLL_MS); return; }
        state.polling = null;
        if (run) toast(RUN_STATUS[run.status] || "Huấn luyện đã xong.", run.status === "promoted" ? "ok" : run.status === "failed" ? "error" : "");
        return api("GET", "/api/admin/models").then(function (models) { state.models = models; renderModels(false, false); },
          function () {});
      }, function (error) {
        if (error.status === 401) return;
        state.polling = setTimeout(poll, POLL_MS * 2);  // a hiccup: keep following, a bit slower
      });
    }, POLL_MS);
  }

  $("m-retrain").addEventListener("click", function () {
    var start = $("m-retrain");
    start.disabled = true;
    api("POST", "/api/admin/retrain").then(function (data) {
      if (data && data.run) state.runs = [data.run].concat((state.runs || []).filter(function (r) { return r.id !== data.run.id; }));
      toast("Đã bắt đầu huấn luyện lại.", "ok");
      renderRun();
      startPolling();
    }, function (error) {
      if (error.status === 409) {
        toast("Đang có một lượt huấn luyện chạy; đang theo dõi tiến độ.", "");
        startPolling();
      } else {
        toast(error.status === 404 ? "Chức năng huấn luyện lại chưa sẵn sàng trên máy chủ này."
          : "Không bắt đầu được: " + politeError(error, "Huấn luyện"), "error");
        start.disabled = false;
      }
    });
  });

  $("m-rollback").addEventListener("click", function () {
    var data = state.models || {};
    var previous = (data.versions || []).filter(function (v) { return !v.current && v.state === "retired"; })[0];
    var question = "Khôi phục mô hình trước" + (previous ? " (" + (previous.name || previous.id) + ")" : "") +
      "? Mô hình hiện tại sẽ ngừng phục vụ khách.";
    if (!window.confirm(question)) return;
    var back = $("m-rollback");
    back.disabled = true;
    api("POST", "/api/admin/models/rollback").then(function () {
      toast("Đã khôi phục mô hình trước.", "ok");
      return load("models");
    }, function (error) {
      toast(error.status === 409 ? "Không có mô hình trước để khôi phục: " + error.message
        : error.status === 404 ? "Chức năng khôi phục chưa sẵn sàng trên máy chủ này."
          : politeError(error, "Khôi phục"), "error");
      back.disabled = !(state.models && state.models.can_rollback);
    });
  });

  // ---- 5. analytics: inline SVG charts ---------------------------------------------------------
  var SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function chart(width, height, label) {
    var root = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": label,
      "class": "svg-chart", width: width, height: height, preserveAspectRatio: "xMinYMin meet" });
    root.appendChild(svg("title", {}, label));
    return root;
  }

  function titled(node, text) { node.appendChild(svg("title", {}, text)); return node; }

  function noData(container, text) {
    clear(container);
    container.appendChild(el("p", "chart-empty", text || "Chưa có dữ liệu trong khoảng thời gian này."));
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * power >= value) return steps[i] * power;
    return 10 * power;
  }

  function truncate(text, max) { text = String(text); return text.length > max ? text.slice(0, max - 1) + "…" : text; }

  /* A donut of parts [{label, value, cls}] with the share of the first part in the middle. */
  function donut(container, parts, label, centre) {
    clear(container);
    var total = parts.reduce(function (s, p) { return s + (p.value || 0); }, 0);
    var width = 380, height = 170, cx = 85, cy = 85, r = 62, stroke = 24;
    var root = chart(width, height, label);
    var circumference = 2 * Math.PI * r;
    root.appendChild(svg("circle", { cx: cx, cy: cy, r: r, "class": "track", "stroke-width": stroke, fill: "none" }));
    var offset = 0;
    parts.forEach(function (part) {
      if (!total || !part.value) return;
      var length = circumference * part.value / total;
      var seg = svg("circle", { cx: cx, cy: cy, r: r, fill: "none", "stroke-width": stroke, "class": "seg bar " + part.cls,
        "stroke-dasharray": length + " " + (circumference - length), "stroke-dashoffset": -offset,
        transform: "rotate(-90 " + cx + " " + cy + ")" });
      titled(seg, part.label + ": " + number(part.value) + " (" + percent(part.value / total) + ")");
      root.appendChild(seg);
      offset += length;
    });
    root.appendChild(svg("text", { x: cx, y: cy + 2, "class": "donut-value", "text-anchor": "middle", "dominant-baseline": "middle" },
      total ? centre : "–"));
    root.appendChild(svg("text", { x: cx, y: cy + 24, "class": "donut-sub", "text-anchor": "middle" }, total ? parts[0].short || "" : "chưa có"));
    parts.forEach(function (part, i) {
      var y = 44 + i * 46;
      root.appendChild(svg("rect", { x: 186, y: y - 10, width: 12, height: 12, rx: 3, "class": "swatch " + part.cls }));
      root.appendChild(svg("text", { x: 206, y: y, "class": "legend" }, part.label));
      root.appendChild(svg("text", { x: 206, y: y + 20, "class": "legend-value" },
        number(part.value || 0) + (total ? " · " + percent((part.value || 0) / total) : "")));
    });
    container.appendChild(root);
  }

  /* Horizontal bars: rows [{label, value, text}]. */
  function hbars(container, rows, label) {
    clear(container);
    if (!rows.length) { noData(container); return; }
    var longest = Math.max.apply(null, rows.map(function (r) { return String(r.text || number(r.value)).length; }));
    var width = 560, labelW = 160, valueW = Math.max(60, Math.min(220, longest * 7.2 + 14)), rowH = 32, top = 6;
    var height = top + rows.length * rowH + 4;
    var max = Math.max.apply(null, rows.map(function (r) { return r.value || 0; })) || 1;
    var span = width - labelW - valueW - 12;
    var root = chart(width, height, label);
    rows.forEach(function (row, i) {
      var y = top + i * rowH, w = Math.max(0, span * (row.value || 0) / max);
      var g = svg("g", { "class": "row" });
      g.appendChild(svg("text", { x: labelW - 10, y: y + rowH / 2, "class": "axis-label", "text-anchor": "end",
        "dominant-baseline": "middle" }, truncate(row.label, 24)));
      g.appendChild(svg("rect", { x: labelW, y: y + 6, width: span, height: rowH - 12, rx: 4, "class": "track" }));
      var bar = svg("rect", { x: labelW, y: y + 6, width: w.toFixed(1), height: rowH - 12, rx: 4, "class": "bar " + (row.cls || "") });
      titled(bar, row.label + ": " + (row.text || number(row.value)));
      g.appendChild(bar);
      g.appendChild(svg("text", { x: labelW + w + 8, y: y + rowH / 2, "class": "value-label", "dominant-baseline": "middle" },
        row.text || number(row.value)));
      root.appendChild(g);
    });
    container.appendChild(root);
  }

  /* Vertical bars: rows [{label, value, title}] with a value above each non-zero bar. */
  function vbars(container, rows, label, opts) {
    clear(container);
    opts = opts || {};
    if (!rows.length) { noData(container); return; }
    var width = opts.width || 720, height = 230, left = 40, right = 8, top = 22, bottom = 30;
    var values = rows.map(function (r) { return r.value || 0; });
    var tickStep = Math.max(1, niceMax(Math.max.apply(null, values) / 5));
    var ticks = Math.max(1, Math.ceil(Math.max.apply(null, values) / tickStep));
    var max = tickStep * ticks;
    var plotW = width - left - right, plotH = height - top - bottom;
    var step = plotW / rows.length, barW = Math.max(2, Math.min(46, step * 0.68));
    var every = Math.max(1, Math.ceil(rows.length / (opts.maxLabels || 24)));
    // every value is written when there is room (about 26 units a label); otherwise the highest,
    // the lowest and the last ones, and every bar keeps its value in its <title>
    var roomy = step >= 26;
    var highest = Math.max.apply(null, values), lowest = Math.min.apply(null, values);
    var root = chart(width, height, label);
    for (var k = 0; k <= ticks; k++) {
      var gy = top + plotH - plotH * k / ticks;
      root.appendChild(svg("line", { x1: left, x2: width - right, y1: gy, y2: gy, "class": "grid" }));
      root.appendChild(svg("text", { x: left - 6, y: gy, "class": "tick", "text-anchor": "end", "dominant-baseline": "middle" },
        number(tickStep * k)));
    }
    var labelled = {};
    rows.forEach(function (row, i) {
      var h = plotH * (row.value || 0) / max, x = left + step * i + (step - barW) / 2, y = top + plotH - h;
      var bar = svg("rect", { x: x.toFixed(1), y: y.toFixed(1), width: barW.toFixed(1), height: h.toFixed(1), rx: 2,
        "class": "bar " + (opts.cls || "") });
      titled(bar, (row.title || row.label) + ": " + number(row.value || 0));
      root.appendChild(bar);
      var mark = roomy || (row.value === highest && !labelled.high) || (row.value === lowest && !labelled.low) ||
        i === rows.length - 1;
      if (!roomy && row.value === highest) labelled.high = true;
      if (!roomy && row.value === lowest) labelled.low = true;
      if (row.value && mark) {
        root.appendChild(svg("text", { x: (x + barW / 2).toFixed(1), y: (y - 5).toFixed(1), "class": "value-label small",
          "text-anchor": "middle" }, number(row.value)));
      }
      if (i % every === 0) {
        root.appendChild(svg("text", { x: (x + barW / 2).toFixed(1), y: height - bottom + 16, "class": "tick",
          "text-anchor": "middle" }, row.label));
      }
    });
    root.appendChild(svg("line", { x1: left, x2: width - right, y1: top + plotH, y2: top + plotH, "class": "axis" }));
    container.appendChild(root);
  }

  /* A line over days, y from lo to hi, with each point's value written above it. */
  function line(container, points, label, lo, hi) {
    clear(container);
    var usable = points.filter(function (p) { return isNum(p.value); });
    if (!usable.length) { noData(container, "Chưa có đánh giá CSAT nào trong khoảng thời gian này."); return; }
    var width = 560, height = 230, left = 34, right = 16, top = 22, bottom = 30;
    var plotW = width - left - right, plotH = height - top - bottom;
    var n = points.length;
    var xOf = function (i) { return left + (n === 1 ? plotW / 2 : plotW * i / (n - 1)); };
    var yOf = function (v) { return top + plotH - plotH * (v - lo) / (hi - lo); };
    var root = chart(width, height, label);
    for (var v = lo; v <= hi; v++) {
      root.appendChild(svg("line", { x1: left, x2: width - right, y1: yOf(v), y2: yOf(v), "class": "grid" }));
      root.appendChild(svg("text", { x: left - 8, y: yOf(v), "class": "tick", "text-anchor": "end", "dominant-baseline": "middle" }, v));
    }
    var path = [];
    points.forEach(function (p, i) { if (isNum(p.value)) path.push(xOf(i).toFixed(1) + "," + yOf(p.value).toFixed(1)); });
    root.appendChild(svg("polyline", { points: path.join(" "), "class": "line", fill: "none" }));
    var every = Math.max(1, Math.ceil(n / 10));
    var labelled = usable.length <= 16;
    points.forEach(function (p, i) {
      if (i % every === 0 || i === n - 1) {
        root.appendChild(svg("text", { x: xOf(i), y: height - bottom + 16, "class": "tick", "text-anchor": "middle" }, shortDay(p.label)));
      }
      if (!isNum(p.value)) return;
      var dot = svg("circle", { cx: xOf(i).toFixed(1), cy: yOf(p.value).toFixed(1), r: 4, "class": "point bar" });
      titled(dot, shortDay(p.label) + ": " + number(p.value, 1) + "/5 (" + number(p.count || 0) + " lượt chấm)");
      root.appendChild(dot);
      if (labelled || i === n - 1) {
        root.appendChild(svg("text", { x: xOf(i).toFixed(1), y: (yOf(p.value) - 9).toFixed(1), "class": "value-label small",
          "text-anchor": "middle" }, number(p.value, 1)));
      }
    });
    container.appendChild(root);
  }

  /* The confusion matrix: rows are the true intents, columns the predicted ones. */
  function heatmap(container, labels, matrix, label) {
    clear(container);
    var n = labels.length;
    var cell = Math.max(24, Math.min(38, Math.floor(640 / Math.max(1, n))));
    var left = 150, top = 118, width = left + n * cell + 110, height = top + n * cell + 28;
    var root = chart(width, height, label);
    root.classList.add("heatmap");
    root.appendChild(svg("text", { x: left + n * cell / 2, y: 14, "class": "axis-title", "text-anchor": "middle" }, "Bot dự đoán →"));
    root.appendChild(svg("text", { x: 14, y: top + n * cell / 2, "class": "axis-title", "text-anchor": "middle",
      transform: "rotate(-90 14 " + (top + n * cell / 2) + ")" }, "Ý định đúng →"));
    labels.forEach(function (name, i) {
      root.appendChild(svg("text", { x: left - 8, y: top + i * cell + cell / 2, "class": "axis-label", "text-anchor": "end",
        "dominant-baseline": "middle" }, truncate(name, 18)));
      var cx = left + i * cell + cell / 2;
      root.appendChild(svg("text", { x: cx, y: top - 8, "class": "axis-label", "text-anchor": "start",
        transform: "rotate(-55 " + cx + " " + (top - 8) + ")" }, truncate(name, 18)));
    });
    matrix.forEach(function (row, i) {
      var rowTotal = (row || []).reduce(function (s, v) { return s + (v || 0); }, 0);
      (row || []).forEach(function (value, j) {
        if (j >= n) return;
        var share = rowTotal ? (value || 0) / rowTotal : 0;
        var rect = svg("rect", { x: left + j * cell, y: top + i * cell, width: cell - 2, height: cell - 2, rx: 3,
          "class": "cell " + (i === j ? "diag" : "off") + (value ? "" : " zero"),
          "fill-opacity": value ? (0.15 + 0.85 * share).toFixed(2) : 1 });
        titled(rect, "Đúng " + labels[i] + ", bot đoán " + labels[j] + ": " + number(value || 0) +
          (rowTotal ? " (" + percent(share) + " của hàng)" : ""));
        root.appendChild(rect);
        if (value) {
          root.appendChild(svg("text", { x: left + j * cell + (cell - 2) / 2, y: top + i * cell + (cell - 2) / 2,
            "class": "cell-label" + (share > 0.55 ? " on-dark" : ""), "text-anchor": "middle", "dominant-baseline": "middle" },
            number(value)));
        }
      });
    });
    container.appendChild(root);
  }

  function loadAnalytics() {
    showStatus("a-status", "Đang tải thống kê…", "info");
    var days = $("a-days").value;
    return api("GET", "/api/admin/analytics" + query({ days: days })).then(function (data) {
      state.analytics = data;
      showStatus("a-status", "", "");
      $("a-body").hidden = false;
      renderAnalytics(data, days);
    }, function (error) {
      if (error.status === 401) throw error;
      $("a-body").hidden = true;
      showStatus("a-status", politeError(error, "Thống kê"), error.status === 404 ? "info" : "error",
        function () { load("analytics"); });
      throw error;
    });
  }

  function tile(parent, key, label, value, sub, kind) {
    var node = el("div", "tile" + (kind ? " " + kind : ""));
    node.setAttribute("data-key", key);
    node.appendChild(el("span", "tile-label", label));
    node.appendChild(el("span", "tile-value", value));
    if (sub) node.appendChild(el("span", "tile-sub", sub));
    parent.appendChild(node);
  }

  function renderAnalytics(data, days) {
    var containment = data.containment || {}, kb = data.kb || {};
    var csatDays = data.csat_by_day || [];
    var csatCount = csatDays.reduce(function (s, d) { return s + (d.count || 0); }, 0);
    var csatSum = csatDays.reduce(function (s, d) { return s + (isNum(d.mean) ? d.mean * (d.count || 0) : 0); }, 0);
    var handoffs = data.handoffs_by_reason || [];
    var handoffTotal = handoffs.reduce(function (s, h) { return s + (h.count || 0); }, 0);
    var messages = (data.volume_by_channel || []).reduce(function (s, c) { return s + (c.messages || 0); }, 0);

    var tiles = $("a-tiles");
    clear(tiles);
    tile(tiles, "containment", "Bot tự xử lý", percent(containment.rate),
      number(containment.contained) + " / " + number(containment.conversations) + " hội thoại", "tile-brand");
    tile(tiles, "handoffs", "Chuyển nhân viên", number(handoffTotal),
      containment.conversations ? percent(handoffTotal / containment.conversations) + " số hội thoại" : "");
    tile(tiles, "kb_answer", "KB trả lời được", percent(kb.answer_rate),
      number(kb.answered) + " / " + number(kb.questions) + " câu hỏi", "tile-ok");
    tile(tiles, "kb_abstain", "KB từ chối trả lời", percent(kb.abstention_rate),
      number(kb.abstained) + " / " + number(kb.questions) + " câu hỏi", "tile-warn");
    tile(tiles, "csat", "CSAT trung bình", csatCount ? number(csatSum / csatCount, 1) + "/5" : "–",
      number(csatCount) + " lượt chấm");
    tile(tiles, "messages", "Tin nhắn", number(messages), "trong " + days + " ngày qua");

    var conv = containment.conversations || 0, contained = containment.contained || 0;
    donut($("c-containment"), [
      { label: "Bot tự xử lý", short: "bot tự xử lý", value: contained, cls: "c-ok" },
      { label: "Chuyển nhân viên", value: Math.max(0, conv - contained), cls: "c-warn" }
    ], "Tỷ lệ hội thoại bot tự xử lý: " + percent(containment.rate) + " của " + number(conv) + " hội thoại",
    percent(conv ? contained / conv : null));
    donut($("c-kb"), [
      { label: "Trả lời được", short: "trả lời được", value: kb.answered || 0, cls: "c-brand" },
      { label: "Từ chối (chưa chắc chắn)", value: kb.abstained || 0, cls: "c-muted" }
    ], "Kho kiến thức: trả lời " + percent(kb.answer_rate) + ", từ chối " + percent(kb.abstention_rate) + " của " +
      number(kb.questions) + " câu hỏi", percent(kb.questions ? (kb.answered || 0) / kb.questions : null));

    hbars($("c-handoffs"), handoffs.map(function (h) {
      return { label: HANDOFF_REASONS[h.reason] || h.reason, value: h.count || 0,
        text: number(h.count || 0) + (isNum(h.rate) ? " · " + percent(h.rate) : ""),
        cls: h.reason === "frustration" || h.reason === "complain" ? "c-danger" : "" };
    }), "Số lần chuyển nhân viên theo lý do");

    line($("c-csat"), csatDays.map(function (d) { return { label: d.day, value: d.mean, count: d.count }; }),
      "Điểm CSAT trung bình theo ngày (thang 1–5)", 1, 5);

    hbars($("c-channels"), (data.volume_by_channel || []).map(function (c) {
      var ch = channelOf(c.channel);
      return { label: CHANNELS[c.channel] ? CHANNELS[ch].label : c.channel, value: c.conversations || 0,
        text: number(c.conversations || 0) + " hội thoại · " + number(c.messages || 0) + " tin", cls: "ch-" + ch };
    }), "Số hội thoại và tin nhắn theo kênh");

    var byHour = [];
    for (var h = 0; h < 24; h++) byHour.push({ label: String(h), title: h + ":00–" + h + ":59", value: 0 });
    (data.volume_by_hour || []).forEach(function (row) {
      if (isNum(row.hour) && row.hour >= 0 && row.hour < 24) byHour[row.hour].value = row.messages || 0;
    });
    vbars($("c-hours"), byHour, "Số tin nhắn theo giờ trong ngày (giờ Việt Nam)", { width: 980, maxLabels: 24 });

    vbars($("c-days"), (data.volume_by_day || []).map(function (d) {
      return { label: shortDay(d.day), title: d.day, value: d.messages || 0 };
    }), "Số tin nhắn theo ngày", { width: 560, maxLabels: 10, cls: "c-soft" });

    var unanswered = $("c-unanswered");
    clear(unanswered);
    var top = data.top_unanswered || [];
    if (!top.length) unanswered.appendChild(el("p", "chart-empty", "Không có câu hỏi nào bot không trả lời được. 👍"));
    else {
      var table = dataTable(["Câu hỏi của khách", "Số lần", "Gần nhất", "Lý do"]);
      table.table.classList.add("unanswered");
      top.forEach(function (row) {
        var reasons = (Array.isArray(row.reasons) ? row.reasons : row.reasons ? [row.reasons] : []).map(function (r) {
          return UNANSWERED_REASONS[r] || REVIEW_REASONS[r] || HANDOFF_REASONS[r] || plain(r);
        }).join(", ");
        addRow(table, [plain(row.text), number(row.count), dateTime(row.last_seen), reasons]);
      });
      unanswered.appendChild(table.wrap);
    }

    var confusion = $("c-confusion");
    var evaluation = data.evaluation;
    if (!evaluation || !evaluation.labels || !evaluation.confusion) {
      noData(confusion, "Chưa có đánh giá mô hình nào (chưa có đánh giá).");
    } else {
      heatmap(confusion, evaluation.labels, evaluation.confusion,
        "Ma trận nhầm lẫn của mô hình " + (evaluation.model || "") + ": hàng là ý định đúng, cột là ý định bot dự đoán");
      var meta = el("p", "muted chart-meta", "Mô hình " + (evaluation.model || "–") + " · đánh giá lúc " +
        (dateTime(evaluation.at) || "–") + " · macro F1 " + f1(evaluation.macro_f1));
      confusion.insertBefore(meta, confusion.firstChild);
    }
  }

  $("a-days").addEventListener("change", function () { load("analytics"); });

  // ---- header ------------------------------------------------------------------------------------
  $("logout").addEventListener("click", function () {
    api("POST", "/agent/logout").catch(function () {}).then(function () { location.replace("/admin"); });
  });

  // ---- start -------------------------------------------------------------------------------------
  api("GET", "/api/agent/me").then(function (me) {
    state.me = me;
    $("me-name").textContent = (me.display_name || me.username) + " · Trưởng nhóm";
    select(location.hash.replace(/^#/, "") || "transcripts", false);
    // the counts in the navigation, without waiting for a visit
    if (state.section !== "review") load("review");
    if (state.section !== "proposals") {
      api("GET", "/api/admin/kb/proposals?status=pending").then(function (data) {
        if (!state.loaded.proposals) { state.proposals = data.proposals || []; renderProposals(); }
      }, function () {});
    }
    window.cskhAdmin.ready = true;
  }, function (error) {
    if (error.status !== 401) toast("Không tải được thông tin tài khoản. Vui lòng tải lại trang.", "error");
  });
})();
