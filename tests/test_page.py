"""The page for people, driven in a real headless Chromium against the real server.

Chromium and chromedriver are Debian's (``scripts/browser_setup.sh``, run by ``.ci/run``); nothing
is downloaded at test time. ``PAGE_SCREENSHOT=reports/page.png`` also saves the result's screenshot
there (the README's picture is made that way, with ``PAGE_MODEL=models/face_emotion.onnx``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, Server, Servers

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser() -> object:
    if not (CHROMIUM and DRIVER):
        pytest.skip("no Chromium and chromedriver on this machine: run scripts/browser_setup.sh (Debian packages)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,820"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def page_server(servers: Servers, model_path: Path) -> Server:
    return servers.start({"EMOTION_MODEL_PATH": os.environ.get("PAGE_MODEL") or str(model_path)})


def wait_for(driver: object, condition: object, timeout: float = 60) -> object:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def shown_probabilities(driver: object) -> dict[str, float]:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "#bars .bar")
    return {row.get_attribute("data-emotion"): float(row.get_attribute("data-probability")) for row in rows}


def test_upload_shows_every_face_with_the_apis_probabilities(browser: object, page_server: Server) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(page_server.url + "/")
    wait_for(driver, lambda d: d.find_element(By.ID, "model-info").text.startswith("Model "))
    info = driver.find_element(By.ID, "model-info")
    model = page_server.client.get("/model").json()
    assert model["name"] in info.text and model["version"] in info.text

    photo = FIXTURES / "two_faces.jpg"
    driver.find_element(By.ID, "file").send_keys(str(photo))
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".face-box")) == 2)
    answer = page_server.client.post("/predict", files={"image": ("two_faces.jpg", photo.read_bytes())}).json()

    boxes = driver.find_elements(By.CSS_SELECTOR, ".face-box")
    for i, (box, face) in enumerate(zip(boxes, answer["faces"], strict=True)):
        label = box.find_element(By.CSS_SELECTOR, ".face-label").text
        assert face["emotion"] in label and label.startswith(str(i + 1))
        assert face["emotion"] in box.get_attribute("aria-label")
        box.click()
        wait_for(driver, lambda d, i=i: d.find_element(By.CSS_SELECTOR, "#bars h2").text.startswith(f"Face {i + 1}"))
        assert shown_probabilities(driver) == pytest.approx(face["probabilities"], abs=1e-9)
    items = driver.find_elements(By.CSS_SELECTOR, "#face-list li")  # the text alternative
    assert [item.text.split(" ")[0] for item in items] == [f["emotion"] for f in answer["faces"]]
    assert driver.find_element(By.ID, "status").text == "2 faces found."

    screenshot = Path(os.environ.get("PAGE_SCREENSHOT") or page_server.log_path.with_name("page.png"))
    boxes[0].click()
    assert driver.save_screenshot(str(screenshot))


def test_the_apis_error_message_is_shown(browser: object, page_server: Server, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(page_server.url + "/")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello, I am not a photo")
    driver.find_element(By.ID, "file").send_keys(str(text_file))
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#status.error"))
    status = driver.find_element(By.ID, "status")
    expected = page_server.client.post("/predict", files={"image": ("notes.txt", text_file.read_bytes())}).json()
    assert status.text == expected["error"] and "not an image" in status.text
    assert not driver.find_elements(By.CSS_SELECTOR, ".face-box")


def test_docs_and_page_addresses(page_server: Server) -> None:
    page = page_server.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/predict" in page.text and "<script src=" not in page.text  # self-contained: nothing fetched elsewhere
    docs = page_server.client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert page_server.client.get("/docs.json").json()["paths"]["/predict"]
