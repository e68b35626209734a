/* The agent console of cskh (and its login page): vanilla JS, no framework, no build step.
 *
 * Data from the server (customer text, names, slots) only ever reaches the page through
 * textContent / attributes, never innerHTML. State-changing calls carry X-CSRF-Token from
 * GET /api/agent/me. The live queue comes from the WebSocket /api/agent/live: every event makes
 * the console re-read GET /api/agent/queue; while the socket is down it polls every 5 s and
 * reconnects with exponential backoff. */
(function () {
  "use strict";

  // ---- the login page ------------------------------------------------------------------------
  if (document.body.getAttribute("data-page") === "login") {
    if (new URLSearchParams(location.search).has("error")) {
      document.getElementById("login-error").hidden = false;
      var user = document.getElementById("username");
      user.setAttribute("aria-invalid", "true");
      document.getElementById("password").setAttribute("aria-invalid", "true");
      history.replaceState(null, "", location.pathname);  // drop ?error=1, stay on /agent or /admin
    }
    return;
  }

  // ---- wording ---------------------------------------------------------------------------------
  var REASONS = {
    request_human: "Khách yêu cầu",
    frustration: "Khách bức xúc",
    complain: "Khiếu nại",
    nlu_fallback: "Bot không hiểu",
    kb_no_answer: "Không có câu trả lời",
    form_failures: "Nhập sai nhiều lần",
    system_error: "Lỗi hệ thống"
  };
  var CHANNELS = {
    web: { label: "Web", icon: "W" },
    telegram: { label: "Telegram", icon: "T" },
    zalo: { label: "Zalo", icon: "Z" },
    rest: { label: "API", icon: "A" }
  };
  var SENTIMENTS = { negative: "Tiêu cực", neutral: "Trung tính", positive: "Tích cực" };
  var STATUSES = { queued: "Đang chờ", assigned: "Đang xử lý", resolved: "Đã kết thúc", returned: "Đã chuyển lại cho bot" };
  var SLOT_LABELS = {
    order_id: "Mã đơn", phone: "Số điện thoại", product: "Sản phẩm", colour: "Màu sắc", quantity: "Số lượng",
    address: "Địa chỉ", change_field: "Thông tin cần đổi", return_reason: "Lý do đổi trả", box_state: "Tình trạng hộp",
    resolution: "Hướng xử lý", new_phone: "SĐT mới", delivery_time: "Thời gian giao", fault: "Lỗi sản phẩm",
    verified_order: "Đơn đã xác minh", verified_phone: "SĐT đã xác minh", pending_confirmation: "Chờ xác nhận",
    invalid_attempts: "Số lần nhập sai", kb_entry: "Mục kiến thức", kb_score: "Độ khớp kiến thức",
    last_reference: "Nhắc đến gần nhất", handoff_reason: "Lý do chuyển", kb_misses: "Lần KB không trả lời",
    language: "Ngôn ngữ"
  };
  var POLL_MS = 5000;
  var TYPING_IDLE_MS = 2500;      // our "typing off" after this long without a key
  var REMOTE_TYPING_MS = 8000;    // hide someone else's typing state if no "off" arrives

  // ---- state -----------------------------------------------------------------------------------
  var state = {
    me: null,
    items: [], stats: {}, online: [], names: {}, fetchedAt: 0,
    openId: null,          // conversation_id shown in the middle
    view: null,            // its GET /conversations answer
    unread: {},            // conversation_id → true (customer wrote while not open)
    transport: "connecting"
  };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function nameOf(username) { return (username && state.names[username]) || username || ""; }

  function channelOf(conversationId, fallback) {
    var prefix = String(conversationId || "").split(":")[0];
    return CHANNELS[prefix] ? prefix : (fallback || "rest");
  }

  function customerLabel(conversationId) {
    var id = String(conversationId || "");
    var short = id.indexOf(":") >= 0 ? id.slice(id.indexOf(":") + 1) : id;
    return "Khách " + (short.length > 14 ? short.slice(0, 12) + "…" : short);
  }

  function duration(seconds) {
    var s = Math.max(0, Math.round(seconds || 0));
    if (s < 60) return s + " giây";
    var m = Math.floor(s / 60);
    if (m < 10) return m + " phút " + String(s % 60).padStart(2, "0") + " giây";
    if (m < 60) return m + " phút";
    return Math.floor(m / 60) + " giờ " + (m % 60) + " phút";
  }

  function clock(value) {
    if (value === undefined || value === null) return "";
    var date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    if (isNaN(date.getTime())) return "";
    return date.toLocaleTimeString("vi-VN", { hour: "2-digit", minute: "2-digit" });
  }

  function toast(text, kind) {
    var node = $("toast");
    node.textContent = text;
    node.className = "toast" + (kind ? " " + kind : "");
    node.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { node.hidden = true; }, 4000);
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
        location.replace("/agent");
        throw new Error("login required");
      }
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.detail || data.error || ("HTTP " + response.status));
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  // ---- the queue -------------------------------------------------------------------------------
  var queueLoading = null, queueAgain = false;

  function refreshQueue() {
    if (queueLoading) { queueAgain = true; return queueLoading; }
    queueLoading = api("GET", "/api/agent/queue").then(function (data) {
      state.items = data.items || [];
      state.stats = data.stats || {};
      state.online = data.online || [];
      state.names = data.names || state.names;
      state.fetchedAt = Date.now();
      renderQueue();
      renderHeader();
    }).catch(function () { /* shown by the live state; the next event or poll retries */ })
      .then(function () {
        queueLoading = null;
        if (queueAgain) { queueAgain = false; refreshQueue(); }
      });
    return queueLoading;
  }

  function ordered(items) {
    var me = state.me ? state.me.username : "";
    function rank(item) { return item.status === "queued" ? 0 : (item.agent === me ? 1 : 2); }
    return items.slice().sort(function (a, b) {
      return rank(a) - rank(b) || (b.priority - a.priority) ||
        String(a.created_at).localeCompare(String(b.created_at)) || a.id - b.id;
    });
  }

  function waitedNow(item) {
    return item.status === "queued" ? item.waited_s + (Date.now() - state.fetchedAt) / 1000 : item.waited_s;
  }

  var queueNodes = {};  // handoff id → its <li>, reused while what it shows is unchanged

  function renderQueue() {
    var list = $("queue");
    var items = ordered(state.items);
    var keep = {};
    items.forEach(function (item, index) {
      var signature = JSON.stringify([item.status, item.agent, item.position, item.priority, item.reason,
        item.after_hours, !!state.unread[item.conversation_id], item.conversation_id === state.openId,
        nameOf(item.agent)]);
      var node = queueNodes[item.id];
      if (!node || node.getAttribute("data-signature") !== signature) {
        var fresh = queueItem(item);
        fresh.setAttribute("data-signature", signature);
        if (node && node.parentNode === list) list.replaceChild(fresh, node);
        node = fresh;
      }
      keep[item.id] = node;
      if (list.children[index] !== node) list.insertBefore(node, list.children[index] || null);
    });
    Object.keys(queueNodes).forEach(function (id) {
      if (!keep[id] && queueNodes[id].parentNode === list) list.removeChild(queueNodes[id]);
    });
    queueNodes = keep;
    $("queue-count").textContent = String(items.filter(function (i) { return i.status === "queued"; }).length);
    $("queue-empty").hidden = items.length > 0;
  }

  function queueItem(item) {
    var me = state.me ? state.me.username : "";
    var mine = item.agent === me;
    var li = el("li", "item " + item.status + (item.priority > 0 ? " priority" : "") + (mine ? " mine" : "") +
      (item.conversation_id === state.openId ? " active" : ""));
    li.setAttribute("data-id", item.id);
    li.setAttribute("data-conversation", item.conversation_id);
    li.setAttribute("data-status", item.status);
    li.tabIndex = 0;
    li.title = item.conversation_id;

    var top = el("div", "item-top");
    var channel = channelOf(item.conversation_id, item.channel);
    var badge = el("span", "channel ch-" + channel, CHANNELS[channel].icon);
    badge.title = CHANNELS[channel].label;
    badge.setAttribute("aria-label", "Kênh " + CHANNELS[channel].label);
    top.appendChild(badge);
    top.appendChild(el("span", "who", customerLabel(item.conversation_id)));
    if (state.unread[item.conversation_id]) top.appendChild(el("span", "unread", "Mới"));
    var wait = el("span", "wait", duration(waitedNow(item)));
    wait.setAttribute("data-handoff", item.id);
    wait.title = item.status === "queued" ? "Thời gian chờ" : "Đã chờ trước khi được nhận";
    top.appendChild(wait);
    li.appendChild(top);

    var tags = el("div", "item-tags");
    if (item.priority > 0) tags.appendChild(el("span", "tag prio", "Ưu tiên"));
    tags.appendChild(el("span", "tag reason reason-" + item.reason, REASONS[item.reason] || item.reason));
    tags.appendChild(el("span", "tag ch-label", CHANNELS[channel].label));
    if (item.after_hours) tags.appendChild(el("span", "tag", "Ngoài giờ"));
    li.appendChild(tags);

    var bottom = el("div", "item-bottom");
    if (item.status === "queued") {
      bottom.appendChild(el("span", "state", "Đang chờ · vị trí " + item.position));
      var claim = el("button", "btn primary small claim", "Nhận");
      claim.type = "button";
      claim.addEventListener("click", function (event) { event.stopPropagation(); claimHandoff(item); });
      bottom.appendChild(claim);
    } else {
      bottom.appendChild(el("span", "state assignee", mine ? "Bạn đang xử lý" : nameOf(item.agent) + " đang xử lý"));
    }
    li.appendChild(bottom);

    li.addEventListener("click", function () { openConversation(item.conversation_id); });
    li.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.target === li) openConversation(item.conversation_id);
    });
    return li;
  }

  function tickWaits() {
    var byId = {};
    state.items.forEach(function (item) { byId[item.id] = item; });
    var spans = document.querySelectorAll("#queue .wait");
    for (var i = 0; i < spans.length; i++) {
      var item = byId[spans[i].getAttribute("data-handoff")];
      if (item && item.status === "queued") spans[i].textContent = duration(waitedNow(item));
    }
  }

  function renderHeader() {
    var stats = state.stats;
    $("stat-waiting").textContent = String(stats.queued || 0);
    $("stat-assigned").textContent = String(stats.assigned || 0);
    $("stat-median").textContent = stats.median_wait_s ? duration(stats.median_wait_s) : "–";
    $("stat-csat").textContent = stats.csat_count
      ? stats.csat_mean.toFixed(1).replace(".", ",") + "/5 (" + stats.csat_count + ")" : "–";
    var online = $("online-list");
    clear(online);
    if (!state.online.length) online.appendChild(el("span", "muted", "không có ai"));
    state.online.forEach(function (username) {
      var chip = el("span", "person" + (state.me && username === state.me.username ? " me" : ""), nameOf(username));
      online.appendChild(chip);
    });
  }

  // ---- one conversation ------------------------------------------------------------------------
  var convLoading = null, convAgain = false;

  function openConversation(conversationId) {
    if (state.openId !== conversationId) {
      stopTyping();
      state.openId = conversationId;
      state.view = null;
      $("reply").value = "";
      setRemoteTyping(null);
      clear($("transcript"));
      shownTurns = null;
    }
    delete state.unread[conversationId];
    renderQueue();
    $("no-conversation").hidden = true;
    $("conversation").hidden = false;
    return reloadConversation(true);
  }

  function reloadConversation(toBottom) {
    if (!state.openId) return Promise.resolve();
    if (convLoading) { convAgain = true; return convLoading; }
    var wanted = state.openId;
    convLoading = api("GET", "/api/agent/conversations/" + encodeURIComponent(wanted)).then(function (view) {
      if (state.openId !== wanted) return;
      state.view = view;
      renderConversation(view, toBottom);
    }).catch(function (error) {
      if (error.status) toast("Không tải được cuộc trò chuyện: " + error.message, "error");
    }).then(function () {
      convLoading = null;
      if (convAgain) { convAgain = false; reloadConversation(false); }
    });
    return convLoading;
  }

  function currentHandoff() { return state.view ? state.view.handoff : null; }

  function mineOpen() {
    var handoff = currentHandoff();
    return !!(handoff && handoff.status === "assigned" && state.me && handoff.agent === state.me.username);
  }

  function renderConversation(view, toBottom) {
    var handoff = view.handoff;
    var me = state.me.username;
    var channel = channelOf(view.conversation_id, handoff && handoff.channel);
    $("conv-title").textContent = customerLabel(view.conversation_id);
    $("conv-title").title = view.conversation_id;

    var meta = $("conv-meta");
    clear(meta);
    meta.appendChild(el("span", "channel ch-" + channel, CHANNELS[channel].icon));
    meta.appendChild(el("span", "", CHANNELS[channel].label));
    if (handoff) {
      meta.appendChild(el("span", "dot", "·"));
      meta.appendChild(el("span", "tag reason reason-" + handoff.reason, REASONS[handoff.reason] || handoff.reason));
      if (handoff.priority > 0) meta.appendChild(el("span", "tag prio", "Ưu tiên"));
      var status = handoff.status === "assigned"
        ? (handoff.agent === me ? "Bạn đang xử lý" : nameOf(handoff.agent) + " đang xử lý")
        : STATUSES[handoff.status] || handoff.status;
      meta.appendChild(el("span", "status status-" + handoff.status, status));
    }

    var queued = handoff && handoff.status === "queued";
    var mine = mineOpen();
    $("btn-claim").hidden = !queued;
    $("btn-release").hidden = !mine;
    $("btn-handback").hidden = !mine;
    $("btn-resolve").hidden = !mine;

    var banner = $("conv-banner");
    banner.hidden = mine;
    banner.className = "banner";
    if (!handoff) banner.textContent = "Cuộc trò chuyện này không có yêu cầu hỗ trợ đang mở; bot đang trả lời khách.";
    else if (queued) banner.textContent = "Khách đang chờ nhân viên. Nhấn “Nhận” để trả lời khách.";
    else if (handoff.status === "assigned") {
      banner.textContent = "Cuộc trò chuyện đang do " + nameOf(handoff.agent) + " xử lý.";
      banner.className = "banner other";
    } else if (handoff.status === "resolved") {
      banner.textContent = handoff.csat ? "Đã kết thúc · khách chấm " + handoff.csat + "/5."
        : "Đã kết thúc · khách được mời chấm điểm từ 1 đến 5.";
      banner.className = "banner done";
    } else banner.textContent = "Đã chuyển lại cho bot.";

    $("reply").disabled = !mine;
    $("send").disabled = !mine;
    $("canned").disabled = !mine;
    $("reply").placeholder = mine ? "Nhập câu trả lời cho khách…" : "Nhận cuộc trò chuyện để trả lời khách";

    renderTranscript(withHandoffMarks(view.turns || [], handoff), toBottom);
    renderInfo(view);
  }

  var shownTurns = null;

  function seconds(iso) { var t = Date.parse(iso); return isNaN(t) ? null : t / 1000; }

  /* The current hand-off's milestones (queued, claimed, closed) as system lines in the transcript,
   * in place of the tracker's bare pause/resume events around them. */
  function withHandoffMarks(turns, handoff) {
    if (!handoff) return turns;
    var start = seconds(handoff.created_at), end = seconds(handoff.closed_at);
    var result = turns.filter(function (turn) {
      if (turn.who !== "system" || typeof turn.time !== "number" || start === null) return true;
      return turn.time < start - 5 || (end !== null && turn.time > end + 5);
    });
    var marks = [{ who: "system", time: start, text: "Chuyển sang nhân viên · " + (REASONS[handoff.reason] || handoff.reason) }];
    if (handoff.assigned_at && handoff.agent) {
      marks.push({ who: "system", time: seconds(handoff.assigned_at), text: nameOf(handoff.agent) + " đã nhận cuộc trò chuyện" });
    }
    if (handoff.closed_at) {
      marks.push({ who: "system", time: end, text: handoff.status === "resolved" ? "Đã kết thúc hỗ trợ" : "Đã chuyển lại cho bot" });
    }
    marks.forEach(function (mark) {
      if (mark.time === null) { result.push(mark); return; }
      var at = result.length;
      for (var i = 0; i < result.length; i++) {
        if (typeof result[i].time === "number" && result[i].time > mark.time) { at = i; break; }
      }
      result.splice(at, 0, mark);
    });
    return result;
  }

  function renderTranscript(turns, toBottom) {
    var list = $("transcript");
    var signature = JSON.stringify(turns);
    if (signature === shownTurns && !list.querySelector(".pending")) return;
    shownTurns = signature;
    var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    clear(list);
    turns.forEach(function (turn) {
      if (turn.who === "system") {
        var text = turn.text === "bot paused" ? "Bot tạm dừng"
          : turn.text === "bot resumed" ? "Bot hoạt động lại" : turn.text;
        var sys = el("li", "turn system");
        sys.appendChild(el("span", "text", text));
        if (turn.time) sys.appendChild(el("span", "time", clock(turn.time)));
        list.appendChild(sys);
        return;
      }
      if (!turn.text) return;  // e.g. a bot turn that only carried custom data
      var li = el("li", "turn " + turn.who);
      var head = el("div", "turn-head");
      head.appendChild(el("span", "author", turn.who === "customer" ? "Khách"
        : turn.who === "agent" ? (turn.agent || "Nhân viên") : "Bot"));
      if (turn.time) head.appendChild(el("span", "time", clock(turn.time)));
      li.appendChild(head);
      li.appendChild(el("div", "text", turn.text));
      if (turn.who === "customer") li.appendChild(understanding(turn));
      list.appendChild(li);
    });
    if (toBottom || nearBottom) list.scrollTop = list.scrollHeight;
  }

  function understanding(turn) {
    var nlu = el("div", "nlu");
    if (turn.intent) {
      var confidence = typeof turn.confidence === "number" ? " · " + turn.confidence.toFixed(2) : "";
      var intent = el("span", "intent" + (turn.confidence < 0.5 ? " low" : ""), turn.intent + confidence);
      intent.title = "Ý định bot nhận ra · độ tin cậy";
      nlu.appendChild(intent);
    }
    (turn.entities || []).forEach(function (entity) {
      nlu.appendChild(el("span", "entity", entity.entity + ": " + formatValue(entity.value)));
    });
    var mood = turn.sentiment;
    if (mood && mood.label) {
      var chip = el("span", "sentiment s-" + mood.label, SENTIMENTS[mood.label] || mood.label);
      if (typeof mood.score === "number") chip.title = "Cảm xúc · " + mood.score.toFixed(2);
      nlu.appendChild(chip);
    }
    return nlu;
  }

  function formatValue(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "boolean") return value ? "có" : "không";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function kv(list, label, value) {
    list.appendChild(el("dt", "", label));
    list.appendChild(el("dd", "", value));
  }

  function renderInfo(view) {
    $("info-empty").hidden = true;
    $("info").hidden = false;
    var handoff = view.handoff;
    var info = $("handoff-info");
    clear(info);
    if (handoff) {
      kv(info, "Lý do", REASONS[handoff.reason] || handoff.reason);
      kv(info, "Trạng thái", STATUSES[handoff.status] || handoff.status);
      if (handoff.agent) kv(info, "Nhân viên", nameOf(handoff.agent));
      kv(info, "Bắt đầu lúc", clock(handoff.created_at));
      if (handoff.priority > 0) kv(info, "Ưu tiên", "Có");
      if (handoff.after_hours) kv(info, "Ngoài giờ", "Có");
      if (handoff.detail) kv(info, "Chi tiết", handoff.detail);
    } else kv(info, "Trạng thái", "Không có");
    var order = $("order");
    order.textContent = view.order ? String(view.order) : "Chưa có";
    order.className = view.order ? "order-code" : "order-code none";
    var slots = $("slots");
    clear(slots);
    var keys = Object.keys(view.slots || {}).filter(function (k) { return k !== "verified_order"; });
    keys.forEach(function (key) { kv(slots, SLOT_LABELS[key] || key, formatValue(view.slots[key])); });
    $("slots-empty").hidden = keys.length > 0;
  }

  // ---- actions ---------------------------------------------------------------------------------
  function act(handoff, action, done) {
    return api("POST", "/api/agent/handoffs/" + handoff.id + "/" + action).then(function (result) {
      if (done) toast(done, "ok");
      return result;
    }, function (error) {
      toast(error.status === 409 ? "Không thực hiện được: cuộc trò chuyện đã được nhân viên khác nhận hoặc đã đóng."
        : "Lỗi: " + error.message, "error");
    }).then(function (result) {
      refreshQueue();
      if (state.openId === handoff.conversation_id) reloadConversation(false);
      return result;
    });
  }

  function claimHandoff(item) {
    return act(item, "claim", "Bạn đã nhận cuộc trò chuyện.").then(function (result) {
      if (result) openConversation(item.conversation_id).then(function () { $("reply").focus(); });
    });
  }

  $("btn-claim").addEventListener("click", function () { var h = currentHandoff(); if (h) claimHandoff(h); });
  $("btn-release").addEventListener("click", function () {
    var h = currentHandoff(); if (h) { stopTyping(); act(h, "release", "Đã trả cuộc trò chuyện về hàng chờ."); }
  });
  $("btn-handback").addEventListener("click", function () {
    var h = currentHandoff(); if (h) { stopTyping(); act(h, "handback", "Đã chuyển khách lại cho bot."); }
  });
  $("btn-resolve").addEventListener("click", function () {
    var h = currentHandoff(); if (h) { stopTyping(); act(h, "resolve", "Đã kết thúc; khách được mời chấm điểm 1–5."); }
  });

  // ---- replying --------------------------------------------------------------------------------
  var typingOn = false, typingTimer = null;

  function sendTyping(on) {
    var handoff = currentHandoff();
    if (!handoff) return;
    api("POST", "/api/agent/handoffs/" + handoff.id + "/typing", { on: on }).catch(function () {});
  }

  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingOn) { typingOn = false; sendTyping(false); }
  }

  function noteTyping() {
    if (!mineOpen()) return;
    if (!$("reply").value.trim()) { stopTyping(); return; }
    if (!typingOn) { typingOn = true; sendTyping(true); }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function send() {
    var box = $("reply");
    var text = box.value.trim();
    var handoff = currentHandoff();
    if (!text || !handoff || !mineOpen()) return;
    $("send").disabled = true;
    api("POST", "/api/agent/handoffs/" + handoff.id + "/reply", { text: text }).then(function () {
      if (box.value.trim() === text) box.value = "";
      stopTyping();
      return reloadConversation(true);
    }).catch(function (error) {
      toast(error.status === 409 ? "Không gửi được: cuộc trò chuyện không còn do bạn xử lý." : "Không gửi được: " + error.message, "error");
      reloadConversation(false);
    }).then(function () { $("send").disabled = !mineOpen(); box.focus(); });
  }

  $("reply-form").addEventListener("submit", function (event) { event.preventDefault(); send(); });
  $("reply").addEventListener("keydown", function (event) {
    // Vietnamese input methods (Telex/VNI) compose with Enter too: never send mid-composition.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      send();
    }
  });
  $("reply").addEventListener("input", noteTyping);
  $("reply").addEventListener("blur", function () { if (!$("reply").value.trim()) stopTyping(); });

  function loadCanned() {
    return api("GET", "/api/agent/canned").then(function (data) {
      var select = $("canned");
      (data.answers || []).forEach(function (answer, index) {
        var option = el("option", "", answer.title);
        option.value = String(index);
        option.title = answer.text;
        select.appendChild(option);
      });
      state.canned = data.answers || [];
    }).catch(function () {});
  }

  $("canned").addEventListener("change", function () {
    var select = $("canned");
    var answer = state.canned && state.canned[Number(select.value)];
    select.value = "";
    if (!answer) return;
    var box = $("reply");
    var start = box.selectionStart, end = box.selectionEnd;
    var before = box.value.slice(0, start), after = box.value.slice(end);
    var glue = before && !/\s$/.test(before) ? " " : "";
    box.value = before + glue + answer.text + after;
    var caret = (before + glue + answer.text).length;
    box.focus();
    box.setSelectionRange(caret, caret);
    noteTyping();
  });

  // ---- typing state of others --------------------------------------------------------------------
  var remoteTimer = null;

  function setRemoteTyping(text) {
    var node = $("typing");
    clearTimeout(remoteTimer);
    node.textContent = text || "";
    node.classList.toggle("on", !!text);
    if (text) remoteTimer = setTimeout(function () { setRemoteTyping(null); }, REMOTE_TYPING_MS);
  }

  // ---- live events -------------------------------------------------------------------------------
  var socket = null, backoff = 1000, reconnectTimer = null, pollTimer = null;

  function setTransport(kind) {
    state.transport = kind;
    var node = $("live-state");
    node.className = "live-state " + kind;
    node.textContent = kind === "live" ? "Trực tiếp" : kind === "polling" ? "Mất kết nối · đang thử lại" : "Đang kết nối…";
    window.cskhConsole.transport = kind;
  }

  function startPolling() {
    if (pollTimer) return;
    pollTimer = setInterval(function () { refreshQueue(); reloadConversation(false); }, POLL_MS);
  }

  function stopPolling() { clearInterval(pollTimer); pollTimer = null; }

  function connect() {
    clearTimeout(reconnectTimer);
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/agent/live";
    try {
      socket = new WebSocket(url);
    } catch (error) {
      scheduleReconnect();
      return;
    }
    socket.onopen = function () {
      backoff = 1000;
      stopPolling();
      setTransport("live");
      refreshQueue();
      reloadConversation(false);
    };
    socket.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (error) { return; }
      handle(event);
    };
    socket.onclose = function () {
      socket = null;
      setTransport("polling");
      startPolling();
      refreshQueue();  // also notices an expired session (401 → login page)
      scheduleReconnect();
    };
    socket.onerror = function () { /* onclose follows */ };
  }

  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    var delay = backoff + Math.random() * 500;
    backoff = Math.min(backoff * 2, 30000);
    reconnectTimer = setTimeout(connect, delay);
  }

  var eventReload = null;
  function reloadSoon() {  // several events in a burst → one reload
    if (eventReload) return;
    eventReload = setTimeout(function () { eventReload = null; reloadConversation(false); }, 150);
  }

  function handle(event) {
    var handoff = currentHandoff();
    var openHandoffId = handoff ? handoff.id : null;
    switch (event.type) {
      case "queue":
        refreshQueue();
        if (event.handoff && event.handoff.conversation_id === state.openId) reloadSoon();
        break;
      case "customer_message":
        if (event.conversation_id === state.openId) {
          setRemoteTyping(null);
          appendPending(event.text);
          reloadSoon();
        } else if (state.items.some(function (item) {
          return item.conversation_id === event.conversation_id && state.me && item.agent === state.me.username;
        })) {
          state.unread[event.conversation_id] = true;  // one of mine wrote while another is open
          renderQueue();
        }
        break;
      case "agent_message":
        if (event.handoff_id === openHandoffId) reloadSoon();
        break;
      case "typing":
        if (event.handoff_id !== openHandoffId) break;
        if (event.agent && state.me && event.agent === state.me.username) break;
        if (!event.on) setRemoteTyping(null);
        else if (event.agent) setRemoteTyping((event.agent_name || nameOf(event.agent)) + " đang nhập…");
        else setRemoteTyping("Khách đang nhập…");
        break;
      case "csat":
        refreshQueue();
        if (event.handoff_id === openHandoffId) reloadSoon();
        toast("Khách vừa chấm " + event.rating + "/5.", "ok");
        break;
      case "presence":
        refreshQueue();
        break;
    }
  }

  function appendPending(text) {  // shown at once; the reload adds what the bot understood
    var li = el("li", "turn customer pending");
    var head = el("div", "turn-head");
    head.appendChild(el("span", "author", "Khách"));
    li.appendChild(head);
    li.appendChild(el("div", "text", text));
    $("transcript").appendChild(li);
    $("transcript").scrollTop = $("transcript").scrollHeight;
  }

  // ---- header ------------------------------------------------------------------------------------
  $("logout").addEventListener("click", function () {
    stopTyping();
    api("POST", "/agent/logout").catch(function () {}).then(function () {
      if (socket) { socket.onclose = null; socket.close(); }
      location.replace("/agent");
    });
  });

  window.addEventListener("beforeunload", function () {
    if (typingOn) {
      var handoff = currentHandoff();
      if (handoff) {
        fetch("/api/agent/handoffs/" + handoff.id + "/typing", {
          method: "POST", keepalive: true, credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": state.me.csrf },
          body: JSON.stringify({ on: false })
        }).catch(function () {});
      }
    }
  });

  // ---- start -------------------------------------------------------------------------------------
  window.cskhConsole = { ready: false, transport: "connecting", state: state };

  api("GET", "/api/agent/me").then(function (me) {
    state.me = me;
    $("me-name").textContent = me.display_name + (me.role === "lead" ? " · Trưởng nhóm" : "");
    return Promise.all([refreshQueue(), loadCanned()]);
  }).then(function () {
    connect();
    setInterval(tickWaits, 1000);
    window.cskhConsole.ready = true;
  });
})();
