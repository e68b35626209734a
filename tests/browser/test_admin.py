"""The lead's admin pages at /admin, driven in headless Chromium against the same real service the
integration tests use; REST customers make the conversations.

Sections whose endpoints may not exist yet (KB proposals, models, analytics) are also checked
against their JSON contracts with a stand-in `fetch` for those paths only (FAKE_FETCH): the page's
drawing and its requests are tested whatever the server has."""
import json
import uuid
from typing import Any, Dict, List

import httpx
import pytest
from selenium.common.exceptions import NoAlertPresentException, NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.integration

WAIT = 30

# every uncaught error of the page, for the tests to assert there were none
RECORD_ERRORS = """
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); });
window.addEventListener('unhandledrejection', function (e) { window.__errors.push(String(e.reason)); });
"""

# answers chosen API paths ("METHOD /path", query ignored) from window.__routes; a list answers in
# turn and then keeps answering its last item; every faked call is kept in window.__calls
FAKE_FETCH = """
window.__calls = [];
(function () {
  var real = window.fetch.bind(window);
  window.fetch = function (url, options) {
    var method = (options && options.method) || 'GET';
    var key = method + ' ' + String(url).split('?')[0];
    var route = (window.__routes || {})[key];
    if (!route) return real(url, options);
    window.__calls.push({key: key, url: String(url), body: options && options.body ? JSON.parse(options.body) : null});
    var answer = Array.isArray(route) ? (route.length > 1 ? route.shift() : route[0]) : route;
    return Promise.resolve(new Response(JSON.stringify(answer.body),
      {status: answer.status || 200, headers: {'Content-Type': 'application/json'}}));
  };
})();
"""


class RestCustomer:
    def __init__(self, server: str) -> None:
        self.server = server
        self.sender = f"admin-{uuid.uuid4().hex[:10]}"

    def say(self, text: str) -> List[dict]:
        response = httpx.post(f"{self.server}/webhooks/rest/webhook", json={"sender": self.sender, "message": text},
                              timeout=90)
        assert response.status_code == 200, response.text
        return response.json()


def login_client(server: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=server, timeout=30)
    assert client.post("/agent/login", data={"username": username, "password": PASSWORD}).status_code == 303
    client.headers["X-CSRF-Token"] = client.get("/api/agent/me").json()["csrf"]
    return client


class Admin:
    """One lead's browser on /admin."""

    def __init__(self, driver: WebDriver, server: str) -> None:
        self.driver, self.server = driver, server

    def wait(self, condition, timeout: float = WAIT, message: str = ""):
        return WebDriverWait(self.driver, timeout, ignored_exceptions=(StaleElementReferenceException,
                                                                        NoSuchElementException)).until(
            lambda d: condition(), message)

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def js(self, code: str, *args):
        return self.driver.execute_script(code, *args)

    def text(self, css: str) -> str:
        return self.find(css).get_property("textContent")

    def before_load(self, source: str) -> None:
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": source})

    def fake(self, routes: Dict[str, Any]) -> None:
        """Answer these API paths with contract-shaped data ({"status", "body"} or a list of them)."""
        self.before_load(f"window.__routes = {json.dumps(routes)};\n{FAKE_FETCH}")

    def login(self, username: str, password: str = PASSWORD) -> "Admin":
        self.driver.get(f"{self.server}/admin")
        self.find("#username").send_keys(username)
        self.find("#password").send_keys(password)
        self.find("#login-submit").click()
        return self

    def ready(self) -> "Admin":
        self.wait(lambda: self.js("return !!(window.cskhAdmin && window.cskhAdmin.ready)"), message="admin page not ready")
        return self

    def tab(self, section: str) -> "Admin":
        self.find(f"#tab-{section}").click()
        self.wait(lambda: self.js("return window.cskhAdmin.state.loaded[arguments[0]] === true", section),
                  message=f"{section} never loaded")
        return self

    def errors(self) -> List[str]:
        return self.js("return window.__errors || []")

    def conversations(self) -> List[str]:
        return self.js("return Array.prototype.map.call(document.querySelectorAll('#t-list .conv-row'),"
                       " function (n) { return n.getAttribute('data-conversation'); })")

    def search(self, text: str) -> None:
        box = self.find("#t-search")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.DELETE)
        if text:
            box.send_keys(text)

    def shot(self, screenshots, name: str) -> None:
        if screenshots:
            self.driver.save_screenshot(str(screenshots / f"admin-{name}.png"))


@pytest.fixture
def admin(browser, server) -> Admin:
    browser.set_window_size(1440, 960)
    page = Admin(browser, server)
    page.before_load(RECORD_ERRORS)
    return page


@pytest.fixture
def thu(admin) -> Admin:
    return admin.login("thu").ready()


# ---- who gets what -----------------------------------------------------------------------------

def test_without_a_session_admin_is_the_login_that_comes_back(admin, server):
    admin.driver.get(f"{server}/admin")
    assert admin.find("#login-form").is_displayed()
    assert admin.find("#login-next").get_property("value") == "/admin"
    assert admin.find_all("#tabs") == []
    response = httpx.get(f"{server}/admin")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"


def test_a_lead_logs_in_at_admin_and_lands_on_it(admin, server, screenshots):
    admin.login("thu").ready()
    assert admin.driver.current_url.split("#")[0] == f"{server}/admin"
    assert admin.text("#me-name") == "Thu · Trưởng nhóm"
    tabs = admin.find_all('#tabs [role="tab"]')
    names = admin.js("return Array.prototype.map.call(document.querySelectorAll('#tabs [role=tab] > span:nth-child(2)'),"
                     " function (n) { return n.textContent; })")
    assert names == ["Hội thoại", "Cần xem lại", "Đề xuất KB", "Mô hình", "Thống kê"]
    assert tabs[0].get_attribute("aria-selected") == "true"
    assert admin.find("#panel-transcripts").is_displayed() and not admin.find("#panel-analytics").is_displayed()
    assert "cskh transcripts export --format jsonl" in admin.text(".export-hint")
    assert admin.errors() == []


def test_an_agent_gets_the_403_page(admin, server):
    admin.login("lan")
    admin.wait(lambda: admin.find_all("#forbidden"), message="no 403 page")
    assert admin.find("h1").text == "Chỉ dành cho trưởng nhóm"
    assert admin.find_all("#tabs") == []
    agent = login_client(server, "lan")
    response = agent.get("/admin")
    assert response.status_code == 403 and response.headers["cache-control"] == "no-store"
    assert agent.get("/agent").status_code == 200  # the console is still theirs


def test_login_only_returns_to_known_pages(server):
    def post(next_page: str, password: str = PASSWORD) -> str:
        response = httpx.post(f"{server}/agent/login", data={"username": "thu", "password": password, "next": next_page})
        assert response.status_code == 303
        return response.headers["location"]

    assert post("/admin") == "/admin"
    assert post("/agent") == "/agent"
    for odd in ("https://example.com/admin", "//example.com", "/admin/../agent", "/api/admin/review", ""):
        assert post(odd) == "/agent"
    assert post("/admin", "sai-mat-khau") == "/admin?error=1"


def test_wrong_password_at_admin_shows_the_error_and_still_returns(admin, server):
    admin.login("thu", "sai-mat-khau-roi")
    admin.wait(lambda: admin.find("#login-error").is_displayed(), message="no login error")
    assert admin.find("#login-next").get_property("value") == "/admin"
    admin.find("#username").send_keys("thu")
    admin.find("#password").send_keys(PASSWORD)
    admin.find("#login-submit").click()
    admin.ready()
    assert admin.driver.current_url.split("#")[0] == f"{server}/admin"


def test_admin_static_files_are_path_safe(server):
    assert httpx.get(f"{server}/admin/static/admin.js").status_code == 200
    assert httpx.get(f"{server}/admin/static/admin.css").status_code == 200
    for bad in ("admin.html", "..%2Fpages.py", "%2e%2e%2fapi.py", "missing.js", "..%2F..%2Fhandoff%2Fstatic%2Fagent.js"):
        assert httpx.get(f"{server}/admin/static/{bad}").status_code == 404, bad


# ---- Hội thoại -----------------------------------------------------------------------------------

def test_a_rest_conversation_shows_up_and_is_found_with_and_without_diacritics(admin, server, screenshots):
    customer = RestCustomer(server)
    customer.say("xin chào")
    customer.say("Cửa hàng ở Đà Nẵng mở cửa lúc mấy giờ vậy?")
    admin.login("thu").ready()
    admin.wait(lambda: admin.js("return window.cskhAdmin.state.loaded.transcripts === true"))
    assert customer.sender in admin.conversations()

    row = f'#t-list .conv-row[data-conversation="{customer.sender}"]'

    def marks() -> List[str]:  # the highlighted matches in our conversation's row
        return admin.js("return Array.prototype.map.call(document.querySelectorAll(arguments[0] + ' mark'),"
                        " function (n) { return n.textContent; })", row)

    for query, marked in (("Đà Nẵng mở cửa", "Đà Nẵng mở cửa"), ("da nang mo cua", "Đà Nẵng mở cửa"),
                          ("DA NANG", "Đà Nẵng")):
        admin.search(query)
        admin.wait(lambda: marks()[:1] == [marked], message=f"not found by {query!r}: {marks()}")
        assert customer.sender in admin.conversations()
    admin.search("không-có-câu-này-đâu xyz")
    admin.wait(lambda: customer.sender not in admin.conversations(), message="a non-match still listed")
    assert admin.find("#t-empty").is_displayed()

    admin.search("da nang")
    admin.wait(lambda: customer.sender in admin.conversations())
    admin.find(f'#t-list .conv-row[data-conversation="{customer.sender}"] .conv-item').click()
    admin.wait(lambda: admin.find("#t-view").is_displayed())
    texts = admin.js("return Array.prototype.map.call(document.querySelectorAll('#t-turns .turn.customer .text'),"
                     " function (n) { return n.textContent; })")
    assert texts == ["xin chào", "Cửa hàng ở Đà Nẵng mở cửa lúc mấy giờ vậy?"]
    assert admin.find_all("#t-turns .turn.bot"), "the bot's answers are shown"
    intent = admin.text("#t-turns .turn.customer .chip.intent")
    name, _, confidence = intent.partition(" · ")
    assert name == "greet" and 0 < float(confidence) <= 1
    assert admin.find_all("#t-turns .turn.customer .chip.sentiment")
    assert admin.text("#t-turns .turn.customer .author") == "Khách"
    assert admin.find("#t-turns .turn time").get_attribute("datetime")
    admin.shot(screenshots, "transcripts")
    assert admin.errors() == []


def test_the_hand_off_filter_lists_only_handed_off_conversations(admin, server):
    plain, handed = RestCustomer(server), RestCustomer(server)
    plain.say("xin chào")
    handed.say("cho mình gặp nhân viên")
    admin.login("thu").ready()
    admin.wait(lambda: handed.sender in admin.conversations() and plain.sender in admin.conversations())
    admin.find("#t-handoff").click()
    admin.wait(lambda: plain.sender not in admin.conversations(), message="filter not applied")
    assert handed.sender in admin.conversations()
    tags = admin.text(f'#t-list .conv-row[data-conversation="{handed.sender}"] .conv-tags')
    assert "Khách yêu cầu" in tags


# ---- Cần xem lại --------------------------------------------------------------------------------

def test_a_low_confidence_message_is_labelled_from_the_page(admin, server, screenshots):
    customer = RestCustomer(server)
    customer.say("asdkjh qwe")
    lead = login_client(server, "thu")
    items = lead.get("/api/admin/review").json()["items"]
    item = next(i for i in items if i["conversation_id"] == customer.sender)
    assert "low_confidence" in item["reasons"] or "fallback" in item["reasons"]

    admin.login("thu").ready()
    admin.tab("review")
    card = f'#r-list .review-item[data-turn="{item["turn_id"]}"]'
    admin.wait(lambda: admin.find_all(card), message="gibberish not in the review queue")
    assert admin.text(f"{card} .review-text") == "asdkjh qwe"
    assert "Bot đoán" in admin.text(f"{card} .chip.intent")
    reasons = admin.text(f"{card} .nlu")
    assert "Độ tin cậy thấp" in reasons or "Bot không hiểu" in reasons
    choice = Select(admin.find(f"{card} select.label-select"))
    assert "Ngoài phạm vi (out_of_scope)" in [o.text for o in choice.options]
    assert "Câu hỏi KB mới (cần viết câu trả lời)" in [o.text for o in choice.options]
    choice.select_by_value("out_of_scope")
    admin.find(f"{card} .note-input").send_keys("chuỗi vô nghĩa")
    admin.shot(screenshots, "review")
    admin.find(f"{card} .save-label").click()
    admin.wait(lambda: admin.text(f"{card} .form-result") == "Đã lưu nhãn.", message="label not saved")
    assert "Ngoài phạm vi" in admin.text(f"{card} .label-status")

    stored = next(i for i in lead.get("/api/admin/review").json()["items"] if i["turn_id"] == item["turn_id"])
    assert (stored["label"], stored["note"]) == ("out_of_scope", "chuỗi vô nghĩa")
    unlabelled = lead.get("/api/admin/review", params={"unlabelled": "true"}).json()["items"]
    assert item["turn_id"] not in {i["turn_id"] for i in unlabelled}
    assert admin.errors() == []


def test_saving_without_a_label_asks_for_one(admin, server):
    customer = RestCustomer(server)
    customer.say("qwpoeiru zxmcnv")
    admin.login("thu").ready()
    admin.tab("review")
    card = f'#r-list .review-item[data-conversation="{customer.sender}"]'
    admin.wait(lambda: admin.find_all(card), message="not in the review queue")
    admin.find(f"{card} .save-label").click()
    assert admin.text(f"{card} .form-result") == "Hãy chọn một nhãn trước khi lưu."


# ---- safety ----------------------------------------------------------------------------------------

PAYLOAD = ('<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2</script>'
           '<b class="injected">in đậm</b> injected-marker')


def test_html_in_a_customer_message_is_rendered_as_text(admin, server):
    customer = RestCustomer(server)
    customer.say(PAYLOAD)
    admin.login("thu").ready()
    admin.wait(lambda: customer.sender in admin.conversations())
    admin.search("injected-marker")
    admin.wait(lambda: admin.conversations() == [customer.sender], message="search for the marker")
    admin.find(f'#t-list .conv-row[data-conversation="{customer.sender}"] .conv-item').click()
    admin.wait(lambda: admin.find("#t-view").is_displayed())
    texts = admin.js("return Array.prototype.map.call(document.querySelectorAll('#t-turns .turn.customer .text'),"
                     " function (n) { return n.textContent; })")
    assert PAYLOAD in texts
    snippet = admin.text(f'#t-list .conv-row[data-conversation="{customer.sender}"] .snippet-text')
    assert snippet == PAYLOAD

    admin.tab("review")
    card = f'#r-list .review-item[data-conversation="{customer.sender}"]'
    if admin.find_all(card):  # queued when NLU was unsure of it (it usually is)
        assert admin.text(f"{card} .review-text") == PAYLOAD
    assert admin.find_all("img") == [] and admin.find_all("b.injected") == []
    assert admin.js("return document.querySelectorAll('main script').length") == 0
    assert admin.js("return window.__xss === undefined")
    with pytest.raises(NoAlertPresentException):
        admin.driver.switch_to.alert.text
    assert admin.errors() == []


# ---- navigation ----------------------------------------------------------------------------------

def test_the_tabs_work_from_the_keyboard(thu):
    first = thu.find("#tab-transcripts")
    first.click()
    first.send_keys(Keys.ARROW_DOWN)
    thu.wait(lambda: thu.find("#tab-review").get_attribute("aria-selected") == "true")
    assert thu.js("return document.activeElement.id") == "tab-review"
    assert thu.find("#panel-review").is_displayed() and not thu.find("#panel-transcripts").is_displayed()
    thu.find("#tab-review").send_keys(Keys.END)
    thu.wait(lambda: thu.find("#tab-analytics").get_attribute("aria-selected") == "true")
    assert thu.driver.current_url.endswith("#analytics")
    assert thu.find("#tab-transcripts").get_attribute("tabindex") == "-1"
    thu.driver.refresh()
    thu.ready()
    assert thu.find("#tab-analytics").get_attribute("aria-selected") == "true"


def test_every_section_loads_or_says_politely_why_not(thu, screenshots):
    for section in ("proposals", "models", "analytics"):
        thu.tab(section)
        status = thu.find(f"#panel-{section} .section-status")
        if status.is_displayed():
            assert status.text and "Traceback" not in status.text and "{" not in status.text, status.text
        thu.shot(screenshots, f"live-{section}")
    assert thu.errors() == []


def test_a_missing_endpoint_gets_a_short_vietnamese_notice(admin):
    admin.fake({"GET /api/admin/kb/proposals": {"status": 404, "body": {"detail": "Not Found"}},
                "GET /api/admin/analytics": {"status": 500, "body": {"detail": "boom"}}})
    admin.login("thu").ready()
    admin.tab("proposals")
    assert "chưa sẵn sàng" in admin.text("#p-status")
    admin.tab("analytics")
    assert "Máy chủ gặp sự cố" in admin.text("#a-status") and "500" in admin.text("#a-status")
    assert admin.find("#a-status .btn").text == "Thử lại"
    assert not admin.find("#a-body").is_displayed()
    assert admin.errors() == []


# ---- Thống kê (the real endpoint) -------------------------------------------------------------------

def test_analytics_renders_svg_charts(admin, server, screenshots):
    customer = RestCustomer(server)
    customer.say("phí ship bao nhiêu")
    customer.say("cho mình gặp nhân viên")
    admin.login("thu").ready()
    admin.tab("analytics")
    assert admin.find("#a-body").is_displayed(), admin.text("#a-status")
    assert len(admin.find_all("#c-hours svg rect.bar")) == 24
    assert admin.find_all("#c-containment svg .seg")
    assert admin.find_all("#c-handoffs svg rect.bar")
    assert admin.find_all("#c-channels svg rect.bar")
    for chart in admin.find_all("#a-body svg"):
        assert chart.get_attribute("role") == "img" and chart.get_attribute("aria-label")
    admin.shot(screenshots, "live-analytics-charts")
    assert admin.errors() == []


# ---- sections 3–5 against their contracts (stand-in fetch for those paths) ---------------------------

PER_INTENT_CURRENT = {"greet": {"f1": 0.95, "precision": 0.96, "recall": 0.94, "support": 40},
                      "order_status": {"f1": 0.88, "precision": 0.9, "recall": 0.86, "support": 52},
                      "faq": {"f1": 0.80, "precision": 0.78, "recall": 0.82, "support": 60}}
PER_INTENT_CANDIDATE = {"greet": {"f1": 0.96, "precision": 0.97, "recall": 0.95, "support": 40},
                        "order_status": {"f1": 0.81, "precision": 0.84, "recall": 0.78, "support": 52},
                        "faq": {"f1": 0.80, "precision": 0.79, "recall": 0.81, "support": 60}}
REPORT = {"candidate": {"macro_f1": 0.857, "per_intent": PER_INTENT_CANDIDATE},
          "current": {"macro_f1": 0.877, "per_intent": PER_INTENT_CURRENT},
          "reasons": ["order_status: F1 giảm 0.070 (> 0.020)"], "tolerance": 0.02}
MODELS = {"current": {"name": "20240501-101010-calm-river.tar.gz", "created_at": "2024-05-01T10:10:10+07:00",
                      "macro_f1": 0.877, "state": "promoted"},
          "versions": [{"id": "v2", "name": "20240501-101010-calm-river.tar.gz", "created_at": "2024-05-01T10:10:10+07:00",
                        "state": "promoted", "macro_f1": 0.877, "decision": "áp dụng: F1 không giảm", "current": True},
                       {"id": "v1", "name": "20240420-090000-old-tree.tar.gz", "created_at": "2024-04-20T09:00:00+07:00",
                        "state": "retired", "macro_f1": 0.85, "decision": "áp dụng", "current": False}],
          "can_rollback": True}
RUNNING = {"id": 7, "started_at": "2024-05-02T08:00:00+07:00", "finished_at": None, "status": "running",
           "stage": "huấn luyện", "progress": 0.5, "message": "epoch 50/100", "candidate": None, "report": None}
REFUSED = dict(RUNNING, status="refused", finished_at="2024-05-02T08:06:00+07:00", stage="xong", progress=1.0,
               message="F1 của order_status giảm", candidate="20240502-080000-new-leaf.tar.gz", report=REPORT)


def test_models_section_follows_a_retraining_run(admin, screenshots):
    admin.fake({"GET /api/admin/models": {"body": MODELS},
                "GET /api/admin/retrain": [{"body": {"runs": []}}, {"body": {"runs": [RUNNING]}},
                                           {"body": {"runs": [RUNNING]}}, {"body": {"runs": [REFUSED]}}],
                "POST /api/admin/retrain": {"status": 202, "body": {"run": dict(RUNNING, progress=0.05, stage="chuẩn bị")}},
                "POST /api/admin/models/rollback": {"status": 409, "body": {"detail": "không có phiên bản trước"}}})
    admin.login("thu").ready()
    admin.tab("models")
    assert "calm-river" in admin.text("#m-current")
    assert "Đang phục vụ" in admin.text("#m-versions")
    assert admin.find("#m-rollback").is_enabled()
    admin.find("#m-retrain").click()
    admin.wait(lambda: admin.find_all('#m-run [role="progressbar"][aria-valuenow="50"]'), message="no progress shown")
    assert "huấn luyện" in admin.text("#m-run .progress-text") and "epoch 50/100" in admin.text("#m-run .progress-text")
    assert not admin.find("#m-retrain").is_enabled()
    admin.shot(screenshots, "models-running")
    admin.wait(lambda: "Giữ mô hình cũ" in admin.text("#m-run"), timeout=20, message="run never finished")
    assert "order_status: F1 giảm" in admin.text("#m-run .reasons")
    rows = admin.js("return Array.prototype.map.call(document.querySelectorAll('#m-compare tbody tr'),"
                    " function (tr) { return [tr.cells[0].textContent, tr.cells[3].textContent,"
                    " tr.cells[3].firstChild.className]; })")
    assert rows[0][0] == "Macro F1"
    by_intent = {r[0]: r for r in rows[1:]}
    assert by_intent["greet"][1] == "▲ +0.010" and "up" in by_intent["greet"][2]
    assert by_intent["order_status"][1] == "▼ −0.070" and "bad" in by_intent["order_status"][2]
    assert by_intent["faq"][1] == "±0.000"
    admin.shot(screenshots, "models")
    # rollback asks first; a 409 is explained
    admin.js("window.confirm = function () { return true; };")
    admin.find("#m-rollback").click()
    admin.wait(lambda: "không có phiên bản trước" in admin.text("#toast"), message="409 not shown")
    calls = [c["key"] for c in admin.js("return window.__calls")]
    assert "POST /api/admin/retrain" in calls and "POST /api/admin/models/rollback" in calls
    assert admin.errors() == []


PROPOSALS = {"proposals": [
    {"handoff_id": 41, "conversation_id": "web:abc123", "channel": "web", "question": "Shop có giao hàng ở Phú Quốc không?",
     "answer": "Dạ có, shop giao tới Phú Quốc trong 3–5 ngày ạ.", "agent": "Lan", "resolved_at": "2024-05-02T09:00:00+07:00",
     "csat": 5, "status": "pending", "entry_id": None},
    {"handoff_id": 42, "conversation_id": "zalo:u9", "channel": "zalo", "question": "<b>hack</b> trả góp?",
     "answer": "Dạ shop hỗ trợ trả góp 0% qua thẻ tín dụng ạ.", "agent": "Minh", "resolved_at": "2024-05-02T10:00:00+07:00",
     "csat": None, "status": "pending", "entry_id": "payment-installment"}]}


def test_a_kb_proposal_is_edited_and_accepted(admin, screenshots):
    admin.fake({"GET /api/admin/kb/proposals": {"body": PROPOSALS},
                "POST /api/admin/kb/proposals/41/accept": [
                    {"status": 409, "body": {"detail": "entry shipping-phu-quoc exists"}},
                    {"body": {"entry": {"id": "shipping-phu-quoc-2"}}}],
                "POST /api/admin/kb/proposals/42/dismiss": {"body": {"ok": True}}})
    admin.login("thu").ready()
    admin.wait(lambda: admin.text("#proposals-count") == "2", message="no proposal count in the navigation")
    admin.tab("proposals")
    card = '#p-list .proposal[data-handoff="41"]'
    assert admin.find(f"{card} .p-id").get_property("value") == "shop-co-giao-hang-o-phu-quoc"
    assert admin.find('#p-list .proposal[data-handoff="42"] .p-id').get_property("value") == "payment-installment"
    assert "<b>hack</b> trả góp?" in admin.text('#p-list .proposal[data-handoff="42"] .qa-q')
    admin.shot(screenshots, "proposals")
    box = admin.find(f"{card} .p-id")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("shipping-phu-quoc")
    admin.find(f"{card} .p-questions").send_keys("\nship ra Phú Quốc được không")
    admin.find(f"{card} .p-tags").send_keys("giao-hang, dao")
    admin.find(f"{card} .accept").click()
    admin.wait(lambda: "entry shipping-phu-quoc exists" in admin.text(f"{card} .form-result"), message="409 not shown")
    assert admin.find(f"{card} .accept").is_enabled()
    box.send_keys("-2")
    admin.find(f"{card} .accept").click()
    admin.wait(lambda: not admin.find_all(card), message="accepted proposal still listed")
    body = [c for c in admin.js("return window.__calls") if c["key"].endswith("/41/accept")][-1]["body"]
    assert body == {"id": "shipping-phu-quoc-2",
                    "questions": ["Shop có giao hàng ở Phú Quốc không?", "ship ra Phú Quốc được không"],
                    "answer": "Dạ có, shop giao tới Phú Quốc trong 3–5 ngày ạ.", "tags": ["giao-hang", "dao"]}
    admin.find('#p-list .proposal[data-handoff="42"] .dismiss').click()
    admin.wait(lambda: admin.find("#p-empty").is_displayed(), message="dismissed proposal still listed")
    assert admin.find_all("b") == [] and admin.errors() == []


def _analytics() -> dict:
    labels = ["greet", "faq", "order_status", "order_cancel", "request_human", "out_of_scope"]
    confusion = [[30, 1, 0, 0, 0, 2], [2, 50, 3, 1, 0, 4], [0, 2, 41, 3, 0, 0], [0, 1, 4, 28, 0, 0],
                 [0, 0, 0, 0, 19, 1], [3, 5, 0, 0, 1, 12]]
    return {
        "containment": {"conversations": 240, "contained": 181, "rate": 181 / 240},
        "handoffs_by_reason": [{"reason": "request_human", "count": 31, "rate": 0.525},
                               {"reason": "nlu_fallback", "count": 12, "rate": 0.203},
                               {"reason": "frustration", "count": 9, "rate": 0.153},
                               {"reason": "kb_no_answer", "count": 5, "rate": 0.085},
                               {"reason": "complain", "count": 2, "rate": 0.034}],
        "kb": {"questions": 120, "answered": 83, "abstained": 37, "answer_rate": 83 / 120, "abstention_rate": 37 / 120},
        "csat_by_day": [{"day": f"2024-05-{d:02d}", "mean": m, "count": c} for d, m, c in
                        ((1, 4.2, 5), (2, 3.8, 4), (3, None, 0), (4, 4.5, 6), (5, 4.0, 3), (6, 3.2, 5), (7, 4.6, 7))],
        "volume_by_channel": [{"channel": "web", "conversations": 130, "messages": 910},
                              {"channel": "zalo", "conversations": 60, "messages": 402},
                              {"channel": "telegram", "conversations": 35, "messages": 198},
                              {"channel": "rest", "conversations": 15, "messages": 61}],
        "volume_by_hour": [{"hour": h, "messages": [2, 1, 0, 0, 0, 1, 4, 12, 40, 88, 120, 130, 95, 100, 118, 126, 110,
                                                    90, 70, 85, 96, 60, 30, 9][h]} for h in range(24)],
        "volume_by_day": [{"day": f"2024-05-{d:02d}", "messages": 150 + 30 * (d % 4)} for d in range(1, 31)],
        "top_unanswered": [{"text": "shop có bán máy giặt cũ không", "count": 6, "last_seen": "2024-05-07T15:20:00+07:00",
                            "reasons": ["low_confidence"]},
                           {"text": "<script>alert(1)</script> bảo hành ở đâu", "count": 3,
                            "last_seen": "2024-05-06T11:00:00+07:00", "reasons": ["fallback", "handoff"]}],
        "evaluation": {"model": "20240501-101010-calm-river.tar.gz", "at": "2024-05-01T10:20:00+07:00", "macro_f1": 0.86,
                       "per_intent": {}, "labels": labels, "confusion": confusion},
    }


def test_analytics_charts_from_the_contract(admin, screenshots):
    data = _analytics()
    empty = dict(data, evaluation=None, csat_by_day=[], top_unanswered=[])
    admin.fake({"GET /api/admin/analytics": [{"body": data}, {"body": empty}]})
    admin.login("thu").ready()
    admin.tab("analytics")
    tiles = admin.js("var out = {}; document.querySelectorAll('#a-tiles .tile').forEach(function (t) {"
                     " out[t.getAttribute('data-key')] = t.querySelector('.tile-value').textContent; }); return out;")
    assert tiles["containment"] == "75,4%" and tiles["kb_answer"] == "69,2%" and tiles["kb_abstain"] == "30,8%"
    assert tiles["handoffs"] == "59" and tiles["messages"] == "1.571"
    assert tiles["csat"] == "4,1/5"
    assert len(admin.find_all("#c-hours svg rect.bar")) == 24
    assert len(admin.find_all("#c-handoffs svg rect.bar")) == 5
    assert len(admin.find_all("#c-channels svg rect.bar")) == 4
    assert len(admin.find_all("#c-days svg rect.bar")) == 30
    assert len(admin.find_all("#c-csat svg circle.point")) == 6  # the day without ratings has no point
    assert len(admin.find_all("#c-containment svg .seg")) == 2
    assert len(admin.find_all("#c-confusion svg rect.cell")) == 36
    labels = admin.js("return Array.prototype.map.call(document.querySelectorAll('#c-handoffs svg .value-label'),"
                      " function (n) { return n.textContent; })")
    assert labels[0] == "31 · 52,5%"
    for chart in admin.find_all("#a-body svg"):
        assert chart.get_attribute("role") == "img" and chart.get_attribute("aria-label")
        assert chart.find_element(By.TAG_NAME, "title").get_attribute("textContent")
    assert "<script>alert(1)</script> bảo hành ở đâu" in admin.text("#c-unanswered")
    assert admin.find_all("#c-unanswered script") == []
    admin.shot(screenshots, "analytics")
    admin.driver.set_window_size(1000, 900)  # still usable at ~1000 px
    width = admin.js("return document.documentElement.scrollWidth")
    assert width <= 1000, width
    admin.shot(screenshots, "analytics-1000")
    Select(admin.find("#a-days")).select_by_value("7")
    admin.wait(lambda: "chưa có đánh giá" in admin.text("#c-confusion"), message="no 'not evaluated' notice")
    assert admin.find_all("#c-confusion svg") == []
    assert admin.errors() == []


APPLY_REPORT = {"examples": [{"intent": "out_of_scope", "text": "asdkjh qwe"}, {"intent": "greet", "text": "alo"}],
                "moved": [], "duplicates": [{"turn_id": 3, "text": "xin chào"}],
                "conflicts": [{"turn_id": 9, "text": "<i>hủy</i> đơn", "label": "greet",
                               "why": "bot/data/nlu/vi.yml gives it order_cancel"}],
                "kb_questions": [{"entry_id": "shipping-fee", "question": "ship bao nhiêu"}],
                "needs_answer": [{"turn_id": 11, "text": "có bán xe máy không"}],
                "reviewed_file": "bot/data/nlu/reviewed.yml", "live_entries": ["shipping-fee"]}


def test_applying_the_labels_shows_the_counts_and_conflicts(admin):
    # the real endpoint writes bot/data/nlu/reviewed.yml of this checkout: only its answer is stood in for
    admin.fake({"POST /api/admin/review/apply": {"body": APPLY_REPORT}})
    admin.login("thu").ready()
    admin.tab("review")
    admin.find("#r-apply").click()
    admin.wait(lambda: admin.find("#r-report").is_displayed(), message="no apply report")
    figures = admin.js("var out = {}; document.querySelectorAll('#r-report .figure').forEach(function (f) {"
                       " out[f.getAttribute('data-key')] = f.querySelector('dd').textContent; }); return out;")
    assert figures == {"examples": "2", "moved": "0", "duplicates": "1", "conflicts": "1", "kb_questions": "1",
                       "needs_answer": "1"}
    conflict = admin.js("return Array.prototype.map.call(document.querySelectorAll('#r-report tbody td'),"
                        " function (n) { return n.textContent; })")
    assert conflict == ["<i>hủy</i> đơn", "greet", "bot/data/nlu/vi.yml gives it order_cancel"]
    assert "có bán xe máy không" in admin.text("#r-report .plain-list")
    assert admin.find_all("#r-report i") == []
    assert [c["key"] for c in admin.js("return window.__calls")] == ["POST /api/admin/review/apply"]
    assert admin.errors() == []
