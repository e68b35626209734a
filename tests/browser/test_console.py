"""The human-agent console at /agent, driven like an agent would in headless Chromium, against
the same real service the integration tests use. REST customers play the other side."""
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from typing import Iterator, List

import httpx
import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.conftest import CHROMEDRIVER, CHROMIUM
from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.integration

WAIT = 30


class RestCustomer:
    """A customer on the REST channel: agent messages arrive with the customer's next request."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.sender = f"console-{uuid.uuid4().hex[:10]}"  # no ":" (that would read as a channel prefix)

    def say(self, text: str) -> List[dict]:
        response = httpx.post(f"{self.server}/webhooks/rest/webhook", json={"sender": self.sender, "message": text},
                              timeout=90)
        assert response.status_code == 200, response.text
        return response.json()

    def texts(self, text: str) -> List[str]:
        return [r.get("text", "") for r in self.say(text)]


class Console:
    """One agent's browser on /agent."""

    def __init__(self, driver: WebDriver, server: str) -> None:
        self.driver, self.server = driver, server

    def wait(self, condition, timeout: float = WAIT, message: str = ""):
        """Until condition() is truthy; the console re-renders as events arrive, so an element found
        a moment ago may be replaced: such a try just counts as not yet."""
        return WebDriverWait(self.driver, timeout, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)).until(
            lambda d: condition(), message)

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def js(self, code: str, *args):
        return self.driver.execute_script(code, *args)

    def login(self, username: str, password: str = PASSWORD) -> "Console":
        self.driver.get(f"{self.server}/agent")
        self.find("#username").send_keys(username)
        self.find("#password").send_keys(password)
        self.find("#login-submit").click()
        return self

    def ready(self) -> "Console":
        """Logged in, the first queue read and the live socket up."""
        self.wait(lambda: self.js("return !!(window.cskhConsole && window.cskhConsole.ready"
                                  " && window.cskhConsole.transport === 'live')"), message="console not live")
        return self

    def item(self, conversation_id: str):
        """What the queue shows for the conversation (read in one go), or None."""
        return self.js("""
            var items = document.querySelectorAll('#queue .item');
            for (var i = 0; i < items.length; i++) {
              var li = items[i];
              if (li.getAttribute('data-conversation') !== arguments[0]) continue;
              var text = function (css) { var n = li.querySelector(css); return n ? n.textContent : null; };
              return {status: li.getAttribute('data-status'), reason: text('.reason'), wait: text('.wait'),
                      claim: text('.claim'), assignee: text('.assignee'), priority: text('.prio')};
            }
            return null;""", conversation_id)

    def wait_item(self, conversation_id: str, status: str = "queued") -> dict:
        self.wait(lambda: (self.item(conversation_id) or {}).get("status") == status,
                  message=f"{conversation_id} not {status} in the queue")
        return self.item(conversation_id)

    def click_item(self, conversation_id: str, css: str = "") -> None:
        selector = f'#queue .item[data-conversation="{conversation_id}"] {css}'.strip()
        self.wait(lambda: self.find(selector).click() or True, message=f"cannot click {selector}")

    def open(self, conversation_id: str) -> "Console":
        self.wait(lambda: self.item(conversation_id) is not None, message=f"{conversation_id} not in the queue")
        self.click_item(conversation_id)
        self.wait(lambda: self.js("var v = window.cskhConsole.state.view; return !!v && v.conversation_id === arguments[0]",
                                  conversation_id), message="conversation not opened")
        return self

    def claim(self, conversation_id: str) -> "Console":
        self.wait_item(conversation_id)
        self.click_item(conversation_id, ".claim")
        self.wait_item(conversation_id, "assigned")
        self.wait(lambda: self.find("#btn-resolve").is_displayed() and self.find("#reply").is_enabled(),
                  message="claimed conversation not open for replies")
        return self

    def turns(self, who: str) -> List[str]:
        return self.js("return Array.prototype.map.call(document.querySelectorAll("
                       "'#transcript .turn.' + arguments[0] + ' .text'), function (n) { return n.textContent; })", who)

    def text(self, css: str) -> str:
        return self.find(css).get_property("textContent")


def new_browser() -> WebDriver:
    """Like the `browser` fixture of tests/browser/conftest.py, for tests that need two agents."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="cskh-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--no-first-run", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1440,900", "--lang=vi-VN"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver._cskh_profile = profile  # type: ignore[attr-defined]
    return driver


@contextmanager
def second_browser() -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium is not installed: run `make browser`")
    driver = new_browser()
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(driver._cskh_profile, ignore_errors=True)  # type: ignore[attr-defined]


@pytest.fixture
def console(browser, server) -> Console:
    browser.set_window_size(1440, 900)
    return Console(browser, server)


@pytest.fixture
def lan(console) -> Console:
    return console.login("lan").ready()


@pytest.fixture
def waiting(server) -> RestCustomer:
    """A REST customer who asked for a person and is in the queue."""
    customer = RestCustomer(server)
    replies = customer.say("cho mình gặp nhân viên")
    assert any((r.get("custom") or {}).get("handoff") for r in replies), replies
    return customer


# ---- login -----------------------------------------------------------------------------------

def test_agent_page_without_a_session_is_the_login_page(console, server):
    console.driver.get(f"{server}/agent")
    assert console.find("#login-form").is_displayed()
    assert console.find("label[for=password]").text == "Mật khẩu"
    assert console.find_all("#queue") == []
    assert not console.find("#login-error").is_displayed()


def test_wrong_password_shows_the_error(console, screenshots):
    console.login("lan", "sai-mat-khau-roi")
    console.wait(lambda: console.find("#login-error").is_displayed(), message="no login error")
    assert console.text("#login-error") == "Sai tên đăng nhập hoặc mật khẩu"
    assert console.find_all("#queue") == []
    if screenshots:
        console.driver.save_screenshot(str(screenshots / "console-login-error.png"))


def test_login_as_lan_shows_the_console(console, screenshots):
    console.login("lan").ready()
    assert console.text("#me-name") == "Lan"
    assert console.find("#queue").is_displayed()
    assert console.text("#live-state") == "Trực tiếp"
    console.wait(lambda: "Lan" in console.text("#online-list"), message="Lan not shown online")
    assert console.find("#logout").text == "Đăng xuất"


def test_logout_closes_the_console(lan, server):
    lan.find("#logout").click()
    lan.wait(lambda: lan.find_all("#login-form") != [], message="no login page after logout")
    lan.driver.get(f"{server}/agent")
    assert lan.find_all("#login-form") and not lan.find_all("#queue")
    status = lan.js("return fetch('/api/agent/queue').then(function (r) { return r.status; })")
    assert status == 401


# ---- the queue -------------------------------------------------------------------------------

def test_a_new_customer_appears_in_the_live_queue_without_reloading(lan, server):
    lan.js("window.__notReloaded = true;")
    customer = RestCustomer(server)
    customer.say("cho mình gặp nhân viên")
    item = lan.wait_item(customer.sender)
    assert lan.js("return window.__notReloaded === true")
    assert lan.js("return window.cskhConsole.transport") == "live"  # pushed, not polled
    assert item["reason"] == "Khách yêu cầu"
    assert item["claim"] == "Nhận"
    assert "giây" in item["wait"]


def test_claim_in_the_ui(lan, waiting, server):
    lan.claim(waiting.sender)
    item = lan.item(waiting.sender)
    assert item["assignee"] == "Bạn đang xử lý" and item["claim"] is None
    for button, label in (("#btn-release", "Trả lại hàng chờ"), ("#btn-handback", "Chuyển lại cho bot"),
                          ("#btn-resolve", "Kết thúc")):
        assert lan.find(button).text == label
    # the bot is quiet while Lan has it (at most the "Lan joined" notice arrives)
    assert [r for r in waiting.say("alo shop ơi") if r.get("text")] == []


def test_transcript_shows_the_customer_message_with_its_intent(lan, waiting, screenshots):
    lan.open(waiting.sender)
    lan.wait(lambda: "cho mình gặp nhân viên" in lan.turns("customer"), message="customer turn missing")
    intent, sentiment = lan.js("var turn = document.querySelector('#transcript .turn.customer');"
                               "return [turn.querySelector('.intent').textContent,"
                               " turn.querySelector('.sentiment').textContent]")
    name, _, confidence = intent.partition(" · ")
    assert name == "request_human" and 0 < float(confidence) <= 1
    assert sentiment in ("Tiêu cực", "Trung tính", "Tích cực")
    assert lan.turns("bot"), "the bot's answer is part of the history"
    assert lan.text("#handoff-info") and "Khách yêu cầu" in lan.text("#handoff-info")
    if screenshots:
        lan.claim(waiting.sender)
        lan.find("#reply").send_keys("Dạ em chào anh/chị")
        lan.driver.save_screenshot(str(screenshots / "console-conversation.png"))


def test_a_new_customer_message_appears_live_in_the_open_conversation(lan, waiting):
    lan.claim(waiting.sender)
    waiting.say("mã đơn của mình là DH10001")
    lan.wait(lambda: "mã đơn của mình là DH10001" in lan.turns("customer"), message="live message missing")


def test_reply_reaches_the_rest_customer(lan, waiting):
    lan.claim(waiting.sender)
    box = lan.find("#reply")
    box.send_keys("Dạ em là Lan, em hỗ trợ anh/chị ngay ạ")
    box.send_keys(Keys.ENTER)
    lan.wait(lambda: "Dạ em là Lan, em hỗ trợ anh/chị ngay ạ" in lan.turns("agent"), message="reply not shown")
    assert box.get_property("value") == ""
    assert "Dạ em là Lan, em hỗ trợ anh/chị ngay ạ" in waiting.texts("vâng")


def test_shift_enter_is_a_new_line_not_a_send(lan, waiting):
    lan.claim(waiting.sender)
    box = lan.find("#reply")
    box.send_keys("dòng một")
    box.send_keys(Keys.SHIFT, Keys.ENTER)
    box.send_keys("dòng hai")
    assert box.get_property("value") == "dòng một\ndòng hai"
    assert lan.turns("agent") == []


def test_pick_a_canned_answer(lan, waiting):
    lan.claim(waiting.sender)
    Select(lan.find("#canned")).select_by_visible_text("Chào khách")
    expected = "Dạ, em là nhân viên hỗ trợ của Điện Máy Sao Mai, em có thể giúp gì cho anh/chị ạ?"
    assert lan.find("#reply").get_property("value") == expected
    lan.find("#send").click()
    lan.wait(lambda: expected in lan.turns("agent"), message="canned answer not sent")
    assert expected in waiting.texts("dạ")


def test_resolve_asks_the_customer_for_a_rating(lan, waiting):
    lan.claim(waiting.sender)
    lan.find("#btn-resolve").click()
    lan.wait(lambda: lan.item(waiting.sender) is None, message="resolved conversation still queued")
    lan.wait(lambda: "Đã kết thúc" in lan.text("#conv-banner"), message="no resolved banner")
    assert not lan.find("#reply").is_enabled()
    replies = waiting.say("ok")
    question = next(r for r in replies if "chấm điểm" in r.get("text", ""))
    assert "1 (tệ)" in question["text"] and "5 (rất tốt)" in question["text"]
    assert [b["payload"] for b in question.get("buttons", [])] == ["1", "2", "3", "4", "5"]


def test_hand_back_returns_the_customer_to_the_bot(lan, waiting):
    lan.claim(waiting.sender)
    lan.find("#btn-handback").click()
    lan.wait(lambda: lan.item(waiting.sender) is None, message="handed-back conversation still listed")
    assert any("trợ lý ảo" in t for t in waiting.texts("phí ship bao nhiêu"))


def test_release_puts_it_back_in_the_queue(lan, waiting):
    lan.claim(waiting.sender)
    lan.find("#btn-release").click()
    assert lan.wait_item(waiting.sender, "queued")["claim"] == "Nhận"


# ---- several agents --------------------------------------------------------------------------

def test_a_second_agent_sees_it_assigned_to_lan(lan, waiting, server):
    lan.claim(waiting.sender)
    with second_browser() as driver:
        minh = Console(driver, server).login("minh").ready()
        item = minh.wait_item(waiting.sender, "assigned")
        assert item["assignee"] == "Lan đang xử lý" and item["claim"] is None
        minh.open(waiting.sender)
        minh.wait(lambda: "Lan" in minh.text("#conv-banner"), message="no 'assigned to Lan' banner")
        assert not minh.find("#btn-claim").is_displayed()
        assert not minh.find("#reply").is_enabled()
        assert "Minh" in minh.text("#online-list") and "Lan" in minh.text("#online-list")


def test_typing_state_shows_to_the_other_agent(lan, waiting, server):
    lan.claim(waiting.sender)
    with second_browser() as driver:
        minh = Console(driver, server).login("minh").ready()
        minh.open(waiting.sender)
        lan.find("#reply").send_keys("Dạ")
        minh.wait(lambda: minh.text("#typing") == "Lan đang nhập…", message="no typing state")
        minh.wait(lambda: minh.text("#typing") == "", timeout=15, message="typing state never cleared")


# ---- resilience and sessions -----------------------------------------------------------------

NO_WEBSOCKET = """
window.WebSocket = function () {           // a proxy that refuses WebSocket upgrades
  var socket = this;
  setTimeout(function () { if (socket.onclose) socket.onclose({code: 1006}); }, 20);
};
window.WebSocket.prototype.close = function () {};
"""


def test_without_websocket_the_queue_is_polled(console, server):
    console.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": NO_WEBSOCKET})
    console.login("lan")
    console.wait(lambda: console.js("return !!(window.cskhConsole && window.cskhConsole.ready)"))
    console.wait(lambda: console.js("return window.cskhConsole.transport") == "polling", message="not polling")
    assert "thử lại" in console.text("#live-state")
    customer = RestCustomer(server)
    customer.say("cho mình gặp nhân viên")
    assert console.wait_item(customer.sender)["claim"] == "Nhận"  # within a poll (5 s)


def test_a_closed_session_takes_the_console_back_to_login(lan, server):
    # the session ends elsewhere (as when it expires): the live socket closes, the console goes to login
    assert lan.js("return fetch('/agent/logout', {method: 'POST', headers: {'X-CSRF-Token':"
                  " window.cskhConsole.state.me.csrf}}).then(function (r) { return r.status; })") == 200
    RestCustomer(server).say("cho mình gặp nhân viên")  # any event: the server re-checks the session
    lan.wait(lambda: lan.find_all("#login-form") != [], message="console still shown after the session ended")
