"""The website chat widget, driven like a customer would in headless Chromium."""
from typing import List

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.integration

REPLY_WAIT = 60  # the first answers of a fresh service include loading the KB encoder

BLOCK_WEBSOCKET = """
window.WebSocket = function () {           // a proxy that refuses WebSocket upgrades
  var socket = this;
  socket.readyState = 0;
  setTimeout(function () { socket.readyState = 3; if (socket.onclose) socket.onclose({code: 1006}); }, 20);
};
window.WebSocket.prototype.send = function () { throw new Error("not open"); };
"""
ENGLISH_BROWSER = "Object.defineProperty(navigator, 'language', {get: function () { return 'en-US'; }});"


class Widget:
    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver

    @property
    def root(self):
        return self.driver.find_element(By.ID, "cskh-widget").shadow_root

    def find(self, css: str):
        return self.root.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        return self.root.find_elements(By.CSS_SELECTOR, css)

    def js(self, code: str, *args):
        return self.driver.execute_script(code, *args)

    def load(self, url: str) -> "Widget":
        self.driver.get(url)
        WebDriverWait(self.driver, 20).until(
            lambda d: d.execute_script("return !!(window.cskhWidget && window.cskhWidget.historyLoaded)"))
        return self

    def open(self) -> "Widget":
        if self.find(".launcher").get_attribute("aria-expanded") != "true":
            self.find(".launcher").click()
        WebDriverWait(self.driver, 5).until(lambda d: self.find(".panel").is_displayed())
        return self

    def texts(self, who: str) -> List[str]:
        return [e.get_property("textContent")
                for e in self.find_all(f".msg.{who}:not(.welcome) .text")]

    def say(self, text: str) -> str:
        """Type a message, press Enter, and return the first bot message that answers it."""
        before = len(self.texts("bot"))
        box = self.find("textarea")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)
        return self.wait_reply(before)

    def wait_reply(self, before: int) -> str:
        WebDriverWait(self.driver, REPLY_WAIT).until(lambda d: len(self.texts("bot")) > before)
        return self.texts("bot")[before]

    def transport(self) -> str:
        return self.js("return window.cskhWidget.transport")


@pytest.fixture
def widget(browser, server) -> Widget:
    return Widget(browser).load(f"{server}/").open()


def test_shop_page_embeds_the_widget(browser, server):
    browser.get(f"{server}/")
    assert "Điện Máy Sao Mai" in browser.title
    assert "7.490.000₫" in browser.find_element(By.TAG_NAME, "main").text
    scripts = [s.get_attribute("src") for s in browser.find_elements(By.TAG_NAME, "script")]
    assert scripts == [f"{server}/widget.js"]
    launcher = Widget(browser).load(f"{server}/").find(".launcher")
    assert launcher.get_attribute("aria-label") == "Mở cửa sổ chat hỗ trợ"


def test_typed_question_gets_an_answer(widget):
    reply = widget.say("phí ship bao nhiêu")
    assert "500.000₫" in reply
    assert widget.texts("user") == ["phí ship bao nhiêu"]
    assert not widget.find(".typing").is_displayed()


def test_quick_reply_sends_payload_and_shows_title(widget):
    widget.say("xin chào")
    buttons = widget.find_all(".replies button")
    assert [b.text for b in buttons][:2] == ["Tra cứu đơn hàng", "Đổi trả"]
    before = len(widget.texts("bot"))
    buttons[0].click()
    reply = widget.wait_reply(before)
    assert "mã đơn hàng" in reply
    assert widget.texts("user")[-1] == "Tra cứu đơn hàng"  # the title, not "/order_status"
    assert not widget.find_all(".replies")  # the used quick replies are gone


def test_reload_shows_the_history_of_the_same_conversation(widget, server):
    conversation = widget.js("return window.cskhWidget.conversation")
    greeting = widget.say("xin chào")
    widget.find(".replies button").click()
    widget.wait_reply(1)
    shown = widget.texts("user"), widget.texts("bot")
    widget.load(f"{server}/")
    assert widget.js("return window.cskhWidget.conversation") == conversation
    assert widget.find(".panel").is_displayed()  # it was open before the reload
    assert (widget.texts("user"), widget.texts("bot")) == shown
    assert shown[0] == ["xin chào", "Tra cứu đơn hàng"] and shown[1][0] == greeting


def test_html_in_messages_is_shown_as_text(widget, server):
    payloads = ['<img src=x onerror="window.__xss=1">', "<b>bold</b>"]
    for payload in payloads:
        widget.say(payload)
    assert widget.texts("user") == payloads
    for reload in (False, True):
        if reload:
            widget.load(f"{server}/")
            assert widget.texts("user") == payloads
        assert widget.js("return typeof window.__xss") == "undefined"
        assert not widget.find_all(".log b")
        assert not widget.find_all(".log img")


def test_panel_fills_a_phone_screen(browser, server, screenshots):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": True})
    widget = Widget(browser).load(f"{server}/").open()
    widget.say("xin chào")
    box = widget.js("var r = arguments[0].getBoundingClientRect();"
                    "return [r.left, r.top, r.right, r.bottom, innerWidth, innerHeight,"
                    " document.documentElement.scrollWidth];", widget.find(".panel"))
    left, top, right, bottom, width, height, page_width = box
    assert (left, top) == (0, 0)
    assert (right, bottom) == (width, height) == (375, 812)
    assert page_width <= 375  # no sideways scrolling
    send = widget.find(".send").rect
    assert send["x"] + send["width"] <= 375 and send["y"] + send["height"] <= 812
    if screenshots:
        browser.save_screenshot(str(screenshots / "widget-phone.png"))


def test_open_widget_on_desktop(widget, screenshots):
    widget.say("xin chào")
    panel = widget.find(".panel").rect
    size = widget.js("return [innerWidth, innerHeight]")
    assert panel["width"] < size[0] / 2 and panel["x"] + panel["width"] <= size[0]
    if screenshots:
        widget.driver.save_screenshot(str(screenshots / "widget-desktop.png"))


def test_keyboard_opens_focuses_and_closes(browser, server):
    widget = Widget(browser).load(f"{server}/")
    focused = "return document.activeElement.id === 'cskh-widget' ? document.activeElement.shadowRoot.activeElement : null"
    body = browser.find_element(By.TAG_NAME, "body")
    for _ in range(40):  # through the page's links and buttons to the launcher, the last stop
        body = browser.switch_to.active_element
        body.send_keys(Keys.TAB)
        element = widget.js(focused)
        if element is not None and "launcher" in element.get_attribute("class"):
            break
    else:
        pytest.fail("Tab never reached the chat launcher")
    assert element.get_attribute("aria-expanded") == "false"
    element.send_keys(Keys.ENTER)
    assert widget.find(".launcher").get_attribute("aria-expanded") == "true"
    assert widget.find(".panel").get_attribute("role") == "dialog"
    assert widget.js(focused).tag_name == "textarea"
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    assert not widget.find(".panel").is_displayed()
    assert "launcher" in widget.js(focused).get_attribute("class")  # focus returns to the launcher


def test_accessible_names_and_live_log(widget):
    log = widget.find(".log")
    assert (log.get_attribute("role"), log.get_attribute("aria-live")) == ("log", "polite")
    textarea_id = widget.find("textarea").get_attribute("id")
    assert widget.find(f"label[for='{textarea_id}']").get_property("textContent") == "Nhập tin nhắn"
    assert widget.find(".send").get_attribute("aria-label") == "Gửi"
    assert widget.find(".typing .sr-only").get_property("textContent") == "Đang soạn tin…"


def test_english_browser_gets_an_english_widget(browser, server):
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ENGLISH_BROWSER})
    widget = Widget(browser).load(f"{server}/")
    assert widget.find(".launcher").get_attribute("aria-label") == "Open the support chat"
    widget.open()
    assert widget.find("textarea").get_attribute("placeholder") == "Type a message…"


def test_messages_travel_over_the_websocket(widget):
    WebDriverWait(widget.driver, 10).until(lambda d: widget.transport() == "websocket")
    assert "Sao Mai" in widget.say("xin chào")
    assert widget.transport() == "websocket"


def test_rest_fallback_answers_when_websockets_are_blocked(browser, server):
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": BLOCK_WEBSOCKET})
    widget = Widget(browser).load(f"{server}/").open()
    assert "Sao Mai" in widget.say("xin chào")
    assert widget.transport() == "rest"
    widget.find(".replies button").click()
    assert "mã đơn hàng" in widget.wait_reply(1)
    assert widget.transport() == "rest"


class Agent:
    """An agent on the console API (the hand-off side of a notice)."""

    def __init__(self, server: str, username: str = "lan") -> None:
        self.http = httpx.Client(base_url=server, timeout=60)
        assert self.http.post("/agent/login", data={"username": username, "password": PASSWORD}).status_code == 303
        self.csrf = self.http.get("/api/agent/me").json()["csrf"]

    def act(self, conversation_id: str, action: str, **body) -> None:
        items = self.http.get("/api/agent/queue").json()["items"]
        item = next(i for i in items if i["conversation_id"] == conversation_id)
        response = self.http.post(f"/api/agent/handoffs/{item['id']}/{action}", headers={"X-CSRF-Token": self.csrf},
                                  **({"json": body} if body else {}))
        assert response.status_code == 200, response.text


def notices(widget: Widget) -> List[str]:
    return [n.get_property("textContent") for n in widget.find_all(".notice:not(.error)")]


def agent_joins_talks_and_leaves(widget: Widget, server: str) -> None:
    widget.say("cho mình gặp nhân viên tư vấn")
    conversation = "web:" + widget.js("return window.cskhWidget.conversation")
    lan = Agent(server)
    lan.act(conversation, "claim")
    WebDriverWait(widget.driver, 20).until(
        lambda d: "Nhân viên Lan đã tham gia cuộc trò chuyện." in notices(widget))
    lan.act(conversation, "reply", text="Dạ em là Lan, em nghe ạ")
    WebDriverWait(widget.driver, 20).until(lambda d: "Dạ em là Lan, em nghe ạ" in widget.texts("bot"))
    assert widget.find(".msg.agent .who").get_property("textContent").startswith("Lan")
    lan.act(conversation, "handback")
    WebDriverWait(widget.driver, 20).until(lambda d: "Nhân viên Lan đã rời cuộc trò chuyện." in notices(widget))


def test_agent_joining_and_leaving_shows_notices(widget, server, screenshots):
    agent_joins_talks_and_leaves(widget, server)
    assert widget.transport() == "websocket"
    widget.load(f"{server}/")  # the agent's message is in the history, once, with the agent's name
    assert widget.texts("bot").count("Dạ em là Lan, em nghe ạ") == 1
    assert widget.find(".msg.agent .who").get_property("textContent").startswith("Lan")
    if screenshots:
        widget.driver.save_screenshot(str(screenshots / "widget-agent.png"))


def test_agent_notices_reach_the_widget_on_the_rest_fallback(browser, server):
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": BLOCK_WEBSOCKET})
    agent_joins_talks_and_leaves(Widget(browser).load(f"{server}/").open(), server)
